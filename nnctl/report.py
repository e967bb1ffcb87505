"""Rich renderings: the live training display, summaries and metric tables.

Functions here build Rich objects and return them; the CLI prints them.  The
one stateful piece, ``TrainingDisplay``, redraws a progress bar and an epoch
table in a terminal and writes plain lines when output goes to a file or a
pipe, so logs hold no control characters.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from nnctl.core.model import Layer, layer_sizes, parameter_count
from nnctl.core.training import EpochRecord
from nnctl.files import display_path

if TYPE_CHECKING:  # annotations only: `nnctl train` need not import the sweep's modules
    from nnctl.sweep import RunOutcome, SweepResult

MAX_TABLE_ROWS = 20


def auto_every(epochs: int) -> int:
    """Log every Nth epoch so that a run shows about MAX_TABLE_ROWS rows."""
    return max(1, math.ceil(epochs / MAX_TABLE_ROWS))


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


HEALTH_SHORT = {"weight_norm": "|W|", "grad_norm": "|dW|", "saturated": "sat", "dead": "dead", "sparsity": "sparse"}


def health_text(health: dict[str, float]) -> str:
    """'L1 |W| 2.31 |dW| 0.012 sat 0.04 sparse 0.00; L2 ...' from the health figures."""
    layers: dict[str, list[str]] = {}
    for key, value in health.items():
        layer, name = key.split("_", 1)
        layers.setdefault(layer.replace("layer", "L"), []).append(f"{HEALTH_SHORT[name]} {value:.3g}")
    return "; ".join(f"{layer} {' '.join(parts)}" for layer, parts in layers.items())


def epoch_row(record: EpochRecord, task: str, health: bool = False) -> list[str]:
    """Epoch, train loss (data + penalty), validation loss, metric(s), learning rate, seconds
    (and, on request, the health figures)."""
    t, v = record.train, record.validation
    train = f"{t.loss:.4f}" + (f" ({t.data_loss:.4f} + {t.penalty:.4f})" if t.penalty else "")
    source = v if v is not None else t
    if task == "classification":
        metrics = [_fmt(source.metrics["accuracy"])]
    else:
        metrics = [_fmt(source.metrics["mae"]), _fmt(source.metrics["r2"])]
    row = [str(record.epoch), train, _fmt(v.data_loss if v else None), *metrics, f"{record.learning_rate:.4g}",
           f"{record.seconds:.3f}"]
    return row + [health_text(record.health)] if health else row


STANDARDIZED = "standardized y"  # said of losses computed on z-scored regression targets


BATCH_MEAN = "mean of batches"  # said of training figures averaged over an epoch's steps (training.evaluate_train)


def epoch_columns(task: str, has_validation: bool, health: bool = False, standardized: bool = False,
                  batches: bool = False) -> list[str]:
    """The epoch table's columns; ``standardized``: the losses are in units of the z-scored targets
    (the MAE beside them is in the target's own units); ``batches``: the training figures are the
    means over each epoch's batches, not a pass over all the rows."""
    on = "val" if has_validation else "train"
    how = f" ({BATCH_MEAN})" if batches and not has_validation else ""
    metrics = [f"{on} accuracy{how}"] if task == "classification" else [f"{on} MAE{how}", f"{on} R^2{how}"]
    parts = [BATCH_MEAN] * batches + ["data + penalty"] + [STANDARDIZED] * standardized
    train = f"train loss ({', '.join(parts)})"
    val = f"val loss ({STANDARDIZED})" if standardized else "val loss"
    return ["epoch", train, val, *metrics, "lr", "seconds", *(["health"] if health else [])]


def epoch_line(record: EpochRecord, task: str, epochs: int, has_validation: bool, health: bool = False,
               standardized: bool = False, batches: bool = False) -> str:
    """The plain-text form of one epoch, for logs."""
    names = epoch_columns(task, has_validation, health, standardized, batches)[1:]
    values = epoch_row(record, task, health)[1:]
    width = len(str(epochs))
    return f"epoch {record.epoch:>{width}}/{epochs}  " + "  ".join(f"{n}: {v}" for n, v in zip(names, values))


def progress_status(record: EpochRecord, task: str) -> str:
    """The figures beside the progress bar: train loss, validation loss and the metric."""
    scored = record.validation or record.train
    metric = ("acc", scored.metrics["accuracy"]) if task == "classification" else ("R^2", scored.metrics["r2"])
    on = "val" if record.validation else "train"
    text = f"train loss {record.train.loss:.4f}"
    if record.validation:
        text += f"  val loss {record.validation.data_loss:.4f}"
    return text + f"  {on} {metric[0]} {metric[1]:.4f}  lr {record.learning_rate:.4g}"


class TrainingDisplay:
    """Shows training as it goes: live in a terminal, line by line otherwise."""

    def __init__(self, console: Console, epochs: int, task: str, has_validation: bool, every: int | None = None,
                 health: bool = False, standardized: bool = False, batches: bool = False):
        self.console, self.epochs, self.task, self.has_validation = console, epochs, task, has_validation
        self.every, self.health, self.standardized = every or auto_every(epochs), health, standardized
        self.batches = batches
        caption = ("training figures: the mean over each epoch's batches, as the steps saw them; the run summary's "
                   "are from all the rows (training.evaluate_train: full for that every epoch)") if batches else None
        self.table = Table(*epoch_columns(task, has_validation, health, standardized, batches), title="epochs",
                           title_justify="left", caption=caption, caption_justify="left")
        self.progress = Progress(
            TextColumn("epoch"), MofNCompleteColumn(), BarColumn(), TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"), console=console, transient=False,
        )
        self.task_id = self.progress.add_task("train", total=epochs, status="")
        self.live = Live(Group(self.progress, self.table), console=console, refresh_per_second=8)

    def __enter__(self) -> "TrainingDisplay":
        if self.console.is_terminal:
            self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        last, self.unlogged = self.unlogged, None
        if last is not None and exc[0] is None:  # the run stopped early: show where
            self._log(last)
        if self.console.is_terminal:
            self.live.__exit__(*exc)

    unlogged: EpochRecord | None = None  # the latest epoch, when the table skipped it

    def on_epoch(self, record: EpochRecord) -> None:
        logged = record.epoch % self.every == 0 or record.epoch in (1, self.epochs)
        self.unlogged = None if logged else record
        if not self.console.is_terminal:
            if logged:
                self.console.print(epoch_line(record, self.task, self.epochs, self.has_validation, self.health,
                                              self.standardized, self.batches),
                                   soft_wrap=True, markup=False, highlight=False)
            return
        self.progress.update(self.task_id, completed=record.epoch, status=progress_status(record, self.task))
        if logged:
            self.table.add_row(*epoch_row(record, self.task, self.health))

    def _log(self, record: EpochRecord) -> None:
        if self.console.is_terminal:
            self.table.add_row(*epoch_row(record, self.task, self.health))
        else:
            self.console.print(epoch_line(record, self.task, self.epochs, self.has_validation, self.health,
                                              self.standardized, self.batches),
                               soft_wrap=True, markup=False, highlight=False)


def architecture(layers: Sequence[Layer], hidden_activations: Sequence[str], inputs: str | None = None) -> str:
    """e.g. '2 inputs + bias -> 8 sigmoid + bias -> 2 outputs (softmax); 42 parameters'; ``inputs``
    says what the inputs were made of: '4 numeric + island (3) + sex (3) = 10 inputs'."""
    sizes = layer_sizes(layers)
    parts = [f"{inputs or f'{sizes[0]} inputs'} + bias"]
    parts += [f"{size} {act} + bias" for size, act in zip(sizes[1:-1], hidden_activations)]
    parts.append(f"{sizes[-1]} output{'s' if sizes[-1] > 1 else ''} ({layers[-1].activation})")
    same_as = f": {SAME_AS[layers[-1].activation]}" if len(layers) == 1 and layers[-1].activation in SAME_AS else ""
    return " -> ".join(parts) + f"; {parameter_count(layers)} parameters{same_as}"


SAME_AS = {"sigmoid": "logistic regression", "softmax": "multinomial logistic regression"}
"""What a network without hidden layers is, by its output activation (which its loss fixes): one
sigmoid unit trained on binary cross-entropy is logistic regression, softmax units on softmax
cross-entropy its multinomial form."""


SCORES = (("accuracy", "acc"), ("r2", "R^2"))  # the figure a run is scored by, and how the table names it


def runs_table(records, title: str) -> Table:
    """``nnctl runs``: one row per run (runs.RunRecord): what it was, how it ended, how it scored."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for name in ("run", "when", "network", "loss", "best/epochs", "val loss", "val score", "test score"):
        table.add_column(name, no_wrap=True)
    table.add_column("stopped", no_wrap=True)
    for r in records:
        if r.problem:
            table.add_row(Text(r.name), r.when[:16], "", "", "", "", "", "", Text(r.problem))
            continue
        epochs = f"{_fmt_int(r.best_epoch)}/{_fmt_int(r.epochs_run)}"
        stopped = _stopped(r.stop_reason) + ("" if r.converged is not False else ", still improving")
        table.add_row(Text(r.name), r.when[:16], r.network, LOSS_SHORT.get(r.loss, r.loss), epochs,
                      _figure(r.figures.get("val_loss")), _score(r.figures, "val"), _score(r.figures, "test"),
                      Text(stopped))
    return table


LOSS_SHORT = {"softmax_cross_entropy": "softmax CE", "binary_cross_entropy": "binary CE"}
STOPPED_SHORT = (("all ", "all epochs"), ("no improvement", "early stop"), ("target reached", "target reached"),
                 ("the loss is no longer finite", "diverged"), ("interrupted", "interrupted"))


def _stopped(reason: str) -> str:
    """A stop reason in a word or two (the whole of it is in summary.json and runs --json)."""
    return next((short for start, short in STOPPED_SHORT if reason.startswith(start)), reason)


def _fmt_int(value: int | None) -> str:
    return "-" if value is None else str(value)


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _score(figures: dict[str, float], where: str) -> str:
    for key, label in SCORES:
        if f"{where}_{key}" in figures:
            return f"{label} {figures[f'{where}_{key}']:.4f}"
    return "-"


def describe_table(reports, title: str) -> Table:
    """``nnctl data describe``: one row per column (prep.describe.ColumnReport)."""
    table = Table("column", "type", "missing", "distinct", "values", "with features: all", title=title,
                  title_justify="left")
    for r in reports:
        if r.type == "numeric":
            values = f"{r.min:.4g} .. {r.max:.4g}, mean {r.mean:.4g}"
        else:  # a category may hold a line break: shown as \n, so that each row stays a row
            values = ", ".join(f"{text} ({count})" for text, count in r.top).replace("\r", "\\r").replace("\n", "\\n")
        use = (r.use + (f": {r.why}" if r.why else "")).replace("\r", "\\r").replace("\n", "\\n")
        table.add_row(Text(r.name), r.type, str(r.missing), str(r.distinct), Text(values), Text(use))
    return table


def summary(arch: str, best: dict[str, float], best_epoch: int, monitor: str,
            files: dict[str, Path], standardized: bool = False) -> Table:
    """The closing summary of a training run (``standardized``: losses on z-scored targets)."""
    table = Table(show_header=False, title="run summary", title_justify="left", box=None, padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("network", arch)
    table.add_row("best epoch", f"{best_epoch} (by {monitor}; the figures below)")
    for name, value in best.items():
        label = name.replace("_", " ")
        if standardized and name.endswith("loss"):  # the penalty does not depend on y
            label += f" ({STANDARDIZED})"
        table.add_row(label, f"{value:.4f}")
    for name, path in files.items():
        table.add_row(f"{name} file", display_path(path))
    return table


def metrics_table(values: dict[str, float], title: str = "metrics") -> Table:
    table = Table("metric", "value", title=title, title_justify="left")
    for name, value in values.items():
        table.add_row(name, f"{value:.4f}")
    return table


def confusion_table(matrix, classes: Sequence) -> Table:
    """Rows: true class; columns: predicted class."""
    table = Table("true \\ predicted", *(str(c) for c in classes), title="confusion matrix", title_justify="left")
    for label, row in zip(classes, matrix):
        table.add_row(str(label), *(str(int(count)) for count in row))
    return table


def error_text(message: str) -> Text:
    return Text(f"error: {message}", style="bold red")


def note_text(message: str) -> Text:
    return Text(f"note: {message}", style="yellow")


# --- sweeps ---------------------------------------------------------------------------

def _pm(pair: tuple[float, float] | None) -> str:
    """'0.983±.016': mean and standard deviation, the latter without its leading zero."""
    if pair is None:
        return "-"
    return f"{pair[0]:.3f}±{pair[1]:.3f}".replace("±0.", "±.")


def candidate_name(kind: str) -> str:
    """What a sweep's candidates are called: 'hidden' (sweep-hidden) or 'candidate' (sweep)."""
    return "hidden" if kind == "hidden" else "candidate"


def run_line(outcome: RunOutcome, task: str, kind: str = "hidden") -> str:
    """One finished run of a sweep, as a plain line."""
    which = f"run {candidate_name(kind)}={outcome.candidate} seed={outcome.seed}"
    if outcome.fold is not None:
        which += f" fold={outcome.fold}"
    if outcome.diverged:
        return f"{which}: diverged (the loss stopped being finite)"
    name = "val accuracy" if task == "classification" else "val R^2"
    return (f"{which}: {name} {outcome.val_metric:.4f}, val loss {outcome.val_loss:.4f}, "
            f"best epoch {outcome.best_epoch}/{outcome.epochs}, {outcome.seconds:.2f} s")


class SweepDisplay:
    """A progress bar over the runs of a sweep; plain lines when not in a terminal."""

    def __init__(self, console: Console, total: int, task: str, kind: str = "hidden"):
        self.console, self.task, self.kind = console, task, kind
        self.progress = Progress(TextColumn("runs"), MofNCompleteColumn(), BarColumn(), TimeRemainingColumn(),
                                 TextColumn("{task.fields[status]}"), console=console)
        self.task_id = self.progress.add_task("sweep", total=total, status="")

    def __enter__(self) -> "SweepDisplay":
        if self.console.is_terminal:
            self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.console.is_terminal:
            self.progress.stop()

    def on_run(self, outcome) -> None:
        line = run_line(outcome, self.task, self.kind)
        if self.console.is_terminal:
            self.progress.update(self.task_id, advance=1, status=line.split(":")[0])
            self.progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            self.console.print(line, markup=False, highlight=False, soft_wrap=True)


def sweep_table(result: SweepResult) -> Table:
    """Candidates side by side: mean±std over seeds; the best and the simplest marked."""
    on = "val" if result.has_validation else "train"
    metric = f"{on} acc" if result.task == "classification" else f"{on} R^2"
    extra = [f"{on} MSE"] if result.task == "regression" else []
    several = any(c.runs + c.diverged > 1 for c in result.candidates)
    over = "seeds and folds" if result.folds else "seeds"
    what = "hidden-layer sizes compared" if result.kind == "hidden" else "candidates compared"
    title = what + (f" (mean±std over {over})" if several else "")
    diverged = any(c.diverged for c in result.candidates)
    unconverged = any(c.unconverged for c in result.candidates)
    table = Table(candidate_name(result.kind), "params", "train loss", f"{on} loss", metric, *extra, "epochs", "s/run",
                  *(["diverged"] if diverged else []), *(["still improving"] if unconverged else []), "",
                  title=title, title_justify="left", box=box.SIMPLE_HEAD)
    table.columns[0].no_wrap = True  # a candidate's settings on one line
    show = _pm if several else (lambda pair: "-" if pair is None else f"{pair[0]:.3f}")
    for c in result.candidates:
        mark = [m for m, name in (("best", result.best), ("simplest", result.simplest)) if c.candidate == name]
        row = [c.candidate, str(c.parameters), show(c.train_loss), show(c.val_loss), show(c.val_metric)]
        row += [show(c.val_mse)] if extra else []
        row += [f"{c.epochs:.4g}", f"{c.seconds:.2f}"]  # a mean over runs: 53.83, not 53.8333
        row += [f"{c.diverged} of {c.runs + c.diverged}" if c.diverged else ""] if diverged else []
        row += [f"{c.unconverged} of {c.runs}" if c.unconverged else ""] if unconverged else []
        table.add_row(*row, "+".join(mark), style="bold green" if mark else None)
    return table


def sweep_verdict(result: SweepResult) -> str:
    """Which candidate is best, and which smaller one is as good within one standard error."""
    on = "validation" if result.has_validation else "training (no validation rows)"
    how = f"highest mean {on} accuracy" if result.task == "classification" else f"lowest mean {on} MSE"
    text = f"best: {candidate_name(result.kind)} {result.best} ({how})"
    best = next(c for c in result.candidates if c.candidate == result.best)
    if best.runs < 2:
        return text + "; with one seed there is no standard error: --seeds 3 or more also finds the simplest as good"
    if result.simplest != result.best:
        return text + (f"; as good and simpler: {candidate_name(result.kind)} {result.simplest} (fewest parameters "
                       "within one standard error of the best)")
    return text + "; no smaller candidate comes within one standard error of it"


# --- decision boundaries -------------------------------------------------------------

REGION_STYLES = ["on blue", "on red", "on green", "on magenta", "on cyan", "on yellow"]
POINT_STYLES = ["bold bright_white on blue", "bold bright_white on red", "bold bright_white on green",
                "bold bright_white on magenta", "bold bright_white on cyan", "bold black on yellow"]
REGION_CHARS = ".:-=~'"  # in plain text the region of each class is a pattern of its own
POINT_CHARS = "oxv^*#"


def _style(styles: list[str], index: int) -> str:
    return styles[index % len(styles)]


def boundary_text(grid) -> Text:
    """The predicted class of every grid cell, with the data points on top.

    A cell's background colour (and, without colour, its character) shows the
    predicted class; a point's character shows its true class, so a point of
    one class inside the other's region is misclassified.
    """
    from nnctl.boundary import cell_of

    height, width = grid.regions.shape
    chars = [[REGION_CHARS[c % len(REGION_CHARS)] for c in row] for row in grid.regions]
    point_class = {}
    if grid.points is not None:
        for point, label in zip(grid.points, grid.labels):
            row, column = cell_of(grid, point)
            chars[row][column] = POINT_CHARS[label % len(POINT_CHARS)]
            point_class[(row, column)] = label
    text = Text()
    for r in range(height):
        for c in range(width):
            predicted = grid.regions[r, c]
            style = _style(POINT_STYLES if (r, c) in point_class else REGION_STYLES, predicted)
            text.append(chars[r][c], style=style)
        if r < height - 1:
            text.append("\n")
    return text


def boundary_legend(grid) -> Text:
    parts = []
    for index, label in enumerate(grid.classes):
        parts.append(f"class {label}: region '{REGION_CHARS[index % len(REGION_CHARS)]}' "
                     f"points '{POINT_CHARS[index % len(POINT_CHARS)]}'")
    axes = (f"{grid.feature_names[0]} {grid.xs[0]:.2f} .. {grid.xs[-1]:.2f} across, "
            f"{grid.feature_names[1]} {grid.ys[-1]:.2f} .. {grid.ys[0]:.2f} up")
    return Text("; ".join(parts) + "\n" + axes)


def boundary_panel(grid, title: str):
    from rich.panel import Panel

    return Panel(boundary_text(grid), title=title, expand=False, padding=0)
