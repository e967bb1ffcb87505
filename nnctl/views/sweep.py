"""``nnctl sweep`` and ``nnctl sweep-hidden``: progress over the runs, the candidates compared, the verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

if TYPE_CHECKING:  # annotations only
    from nnctl.sweep import RunOutcome, SweepResult

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
