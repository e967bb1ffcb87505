"""Training curves of run directories: the figures of ``nnctl plot``.

No printing: ``load_curves`` reads each run directory's ``history.csv`` (and,
when it is there, ``summary.json`` for the best epoch) and returns plain
arrays that ``views.plot`` draws in the terminal and ``plot.curves_png``
draws as an image.

Per epoch, each run gives the training data loss (without the penalty, so that
it compares with the validation loss, which has none), the training loss with
the penalty, the validation loss, and one metric: validation accuracy (or
validation R^2 for regression), or the training figure when the run had no
validation rows.  A cell left empty in history.csv is NaN.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from nnctl.errors import DataError, NnctlError
from nnctl.files import display_path
from nnctl.checkpoint import BEST, load_checkpoint
from nnctl.run import HISTORY_FILE, SUMMARY_FILE

METRIC_OF_TASK = {"classification": "accuracy", "regression": "r2"}
METRIC_LABEL = {"accuracy": "accuracy", "r2": "R^2"}


@dataclass(frozen=True)
class Curves:
    name: str  # the run directory's name (its path when two runs share a name)
    path: Path  # the run directory
    task: str  # classification or regression
    epochs: np.ndarray  # (n_epochs,) int
    train_loss: np.ndarray  # data loss + penalty, what training minimises
    train_data_loss: np.ndarray  # without the penalty: the figure to compare with val_loss
    val_loss: np.ndarray | None  # None without validation rows
    metric: np.ndarray  # val accuracy / val R^2, or the train figure without validation rows
    metric_name: str  # e.g. "val_accuracy", "train_r2": the history.csv column
    best_epoch: int | None  # from summary.json, when there is one

    @property
    def metric_label(self) -> str:
        """e.g. 'val accuracy', 'train R^2'."""
        on, metric = self.metric_name.split("_", 1)
        return f"{on} {METRIC_LABEL[metric]}"


def load_curves(run_dirs: Sequence[str | Path]) -> list[Curves]:
    """The curves of each run directory, in the order given."""
    curves = [_load_one(Path(path)) for path in run_dirs]
    names = Counter(c.name for c in curves)
    return [c if names[c.name] == 1 else replace(c, name=display_path(c.path)) for c in curves]


def _load_one(run_dir: Path) -> Curves:
    if not run_dir.is_dir():
        what = "no such directory" if not run_dir.exists() else "not a directory"
        raise NnctlError(f"{run_dir}: {what}; give a run directory (the output of nnctl train)")
    history = run_dir / HISTORY_FILE
    if not history.is_file():
        raise NnctlError(f"{run_dir}: no {HISTORY_FILE}; is this a run directory written by nnctl train?")
    columns = _read_history(history)
    task = "classification" if "train_accuracy" in columns else "regression"
    metric = METRIC_OF_TASK[task]
    val_loss = columns.get("val_loss")
    has_validation = val_loss is not None and bool(np.isfinite(val_loss).any())
    metric_name = f"{'val' if has_validation else 'train'}_{metric}"
    if metric_name not in columns:
        raise DataError(f"{history}: no column {metric_name}; not a history written by nnctl train")
    return Curves(
        name=run_dir.resolve().name or str(run_dir),
        path=run_dir,
        task=task,
        epochs=columns["epoch"].astype(np.int64),
        train_loss=columns["train_loss"],
        train_data_loss=columns.get("train_data_loss", columns["train_loss"]),
        val_loss=val_loss if has_validation else None,
        metric=columns[metric_name],
        metric_name=metric_name,
        best_epoch=_best_epoch(run_dir / SUMMARY_FILE),
    )


REQUIRED = ("epoch", "train_loss")


def curves_document(c: "Curves") -> dict:
    """One run's curves as plain data (``plot --json``)."""
    return {"name": c.name, "path": str(c.path), "task": c.task, "epochs": c.epochs.tolist(),
            "train_loss": c.train_loss.tolist(), "train_data_loss": c.train_data_loss.tolist(),
            "val_loss": None if c.val_loss is None else c.val_loss.tolist(), c.metric_name: c.metric.tolist(),
            "best_epoch": c.best_epoch}


def _read_history(path: Path) -> dict[str, np.ndarray]:
    """Every numeric column of history.csv as a float64 array; empty cells are NaN."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read the file ({getattr(error, 'strerror', None) or error})") from None
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        raise DataError(f"{path}: the file is empty")
    header, body = [name.strip() for name in rows[0]], [row for row in rows[1:] if row]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise DataError(f"{path}: no column {', '.join(missing)}; not a history written by nnctl train")
    if not body:
        raise DataError(f"{path}: no epochs recorded yet")
    values = np.full((len(body), len(header)), np.nan)
    for r, row in enumerate(body):
        if len(row) != len(header):
            raise DataError(f"{path}: line {r + 2}: {len(row)} cells, but the header has {len(header)} columns")
        for c, cell in enumerate(row):
            cell = cell.strip()
            if not cell:
                continue
            try:
                values[r, c] = float(cell)
            except ValueError:
                raise DataError(f"{path}: line {r + 2}, column '{header[c]}': {cell!r} is not a number") from None
    return {name: values[:, c] for c, name in enumerate(header)}


def _best_epoch(summary: Path) -> int | None:
    """The best epoch of summary.json; for a run without one (still going, or killed), that of
    its best checkpoint; None when neither can be read."""
    try:
        value = json.loads(summary.read_text(encoding="utf-8")).get("best_epoch")
    except (OSError, ValueError, AttributeError):
        try:
            value = load_checkpoint(summary.parent / BEST).meta.get("epoch")
        except NnctlError:
            return None
    return value if type(value) is int else None
