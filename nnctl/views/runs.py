"""``nnctl runs``: one row per run directory."""

from __future__ import annotations

from rich import box
from rich.table import Table

from nnctl.views.text import fixed, plain

SCORES = (("accuracy", "acc"), ("r2", "R^2"))  # the figure a run is scored by, and how the table names it


def runs_table(records, title: str) -> Table:
    """``nnctl runs``: one row per run (runs.RunRecord): what it was, how it ended, how it scored."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for name in ("run", "when", "network", "loss", "best/epochs", "val loss", "val score", "test score"):
        table.add_column(name, no_wrap=True)
    table.add_column("stopped", no_wrap=True)
    for r in records:
        if r.problem:
            table.add_row(plain(r.name), r.when[:16], "", "", "", "", "", "", plain(r.problem))
            continue
        epochs = f"{_fmt_int(r.best_epoch)}/{_fmt_int(r.epochs_run)}"
        stopped = _stopped(r.stop_reason) + ("" if r.converged is not False else ", still improving")
        table.add_row(plain(r.name), r.when[:16], plain(r.network), plain(LOSS_SHORT.get(r.loss, r.loss)), epochs,
                      fixed(r.figures.get("val_loss")), _score(r.figures, "val"), _score(r.figures, "test"),
                      plain(stopped))
    return table


LOSS_SHORT = {"softmax_cross_entropy": "softmax CE", "binary_cross_entropy": "binary CE"}
STOPPED_SHORT = (("all ", "all epochs"), ("no improvement", "early stop"), ("target reached", "target reached"),
                 ("the loss is no longer finite", "diverged"), ("interrupted", "interrupted"),
                 ("not finished", "not finished"))


def _stopped(reason: str) -> str:
    """A stop reason in a word or two (the whole of it is in summary.json and runs --json)."""
    return next((short for start, short in STOPPED_SHORT if reason.startswith(start)), reason)


def _fmt_int(value: int | None) -> str:
    return "-" if value is None else str(value)



def _score(figures: dict[str, float], where: str) -> str:
    for key, label in SCORES:
        if f"{where}_{key}" in figures:
            return f"{label} {figures[f'{where}_{key}']:.4f}"
    return "-"
