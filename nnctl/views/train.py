"""``nnctl train``: the live training display, the network line and the run summary.

The one stateful piece, ``TrainingDisplay``, redraws a progress bar and an epoch table in a
terminal and writes plain lines when output goes to a file or a pipe, so logs hold no control
characters.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from nnctl.core.model import Layer, layer_sizes, parameter_count
from nnctl.core.training import EpochRecord
from nnctl.files import display_path
from nnctl.views.text import fixed, plain, significant

MAX_TABLE_ROWS = 20


def auto_every(epochs: int) -> int:
    """Log every Nth epoch so that a run shows about MAX_TABLE_ROWS rows."""
    return max(1, math.ceil(epochs / MAX_TABLE_ROWS))


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
        metrics = [fixed(source.metrics["accuracy"])]
    else:
        metrics = [fixed(source.metrics["mae"]), fixed(source.metrics["r2"])]
    row = [str(record.epoch), train, fixed(v.data_loss if v else None), *metrics, f"{record.learning_rate:.4g}",
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


def architecture(layers: Sequence[Layer], hidden_activations: Sequence[str], inputs: str | None = None,
                 dropout: Sequence[float] = ()) -> str:
    """e.g. '2 inputs + bias -> 8 sigmoid + bias -> 2 outputs (softmax); 42 parameters'; ``inputs``
    says what the inputs were made of: '4 numeric + island (3) + sex (3) = 10 inputs'; a hidden
    layer that drops units while training says so: '16 relu (dropout 0.2) + bias'."""
    sizes = layer_sizes(layers)
    rates = list(dropout) + [0.0] * (len(sizes) - 2 - len(dropout))
    parts = [f"{inputs or f'{sizes[0]} inputs'} + bias"]
    parts += [f"{size} {act}{f' (dropout {significant(p)})' if p else ''} + bias"
              for size, act, p in zip(sizes[1:-1], hidden_activations, rates)]
    parts.append(f"{sizes[-1]} output{'s' if sizes[-1] > 1 else ''} ({layers[-1].activation})")
    same_as = f": {SAME_AS[layers[-1].activation]}" if len(layers) == 1 and layers[-1].activation in SAME_AS else ""
    return " -> ".join(parts) + f"; {parameter_count(layers)} parameters{same_as}"


SAME_AS = {"sigmoid": "logistic regression", "softmax": "multinomial logistic regression"}
"""What a network without hidden layers is, by its output activation (which its loss fixes): one
sigmoid unit trained on binary cross-entropy is logistic regression, softmax units on softmax
cross-entropy its multinomial form."""



def summary(arch: str, best: dict[str, float], best_epoch: int, monitor: str,
            files: dict[str, Path], standardized: bool = False) -> Table:
    """The closing summary of a training run (``standardized``: losses on z-scored targets)."""
    table = Table(show_header=False, title="run summary", title_justify="left", box=None, padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("network", plain(arch))
    table.add_row("best epoch", f"{best_epoch} (by {monitor}; the figures below)")
    for name, value in best.items():
        label = name.replace("_", " ")
        if standardized and name.endswith("loss"):  # the penalty does not depend on y
            label += f" ({STANDARDIZED})"
        table.add_row(label, f"{value:.4f}")
    for name, path in files.items():
        table.add_row(f"{name} file", display_path(path))
    return table

