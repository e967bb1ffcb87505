"""Apply a checkpoint to the rows of a CSV file.

Columns are matched by name in any order; the stored scaling is applied; class
indices are given back as the original labels.  When the file also holds the
target column(s), the metrics of the predictions come along.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from nnctl.checkpoint import Checkpoint, load_checkpoint
from nnctl.core import metrics as metric_fns
from nnctl.core.losses import LOSSES
from nnctl.core.model import logits
from nnctl.data import read_table, require_columns
from nnctl.prep.rows import model_rows
from nnctl.errors import DataError, NnctlError


@dataclass
class Predictions:
    columns: list[str]  # header of the output CSV
    rows: list[list]  # one per input row
    task: str
    metrics: dict[str, float] | None  # when the targets were in the file
    confusion: np.ndarray | None  # classification with targets: rows true, columns predicted
    classes: list | None
    ignored_columns: tuple[str, ...]  # columns that are neither features nor targets
    note: str | None = None  # why there are no metrics although the target column is there
    notes: list[str] = field(default_factory=list)  # categories the model never saw, and the like


def predict_file(checkpoint: str | Path, data: str | Path, proba: bool = False,
                 keep: Sequence[str] = ()) -> Predictions:
    """Predictions for every row of ``data``; ``keep`` names input columns copied in front of them."""
    ckpt = load_checkpoint(checkpoint)
    meta = ckpt.meta
    loss = LOSSES[meta["loss"]]
    if proba and loss.probabilities is None:
        raise NnctlError(
            f"--proba needs a model trained with softmax_cross_entropy or binary_cross_entropy; "
            f"this one was trained with {loss.name}, which gives scores, not probabilities"
        )
    classes = meta.get("classes")
    found = model_rows(ckpt.preprocessor, data, tuple(meta["target_names"]), meta["task"],
                       tuple(classes) if classes is not None else None, meta["loss"])
    X, y = found.X, found.y
    Z = apply_checkpoint(ckpt, X, data)
    kept_columns, kept = _kept(data, keep, len(X))
    targets = meta["target_names"]
    ignored = tuple(name for name in found.ignored if name not in kept_columns)
    extra = {"ignored_columns": ignored, "note": found.note, "notes": found.notes}
    if meta["task"] == "classification":
        predicted = loss.decide(Z)
        columns = [*kept_columns, f"predicted_{targets[0]}"]
        rows = [[*front, classes[i]] for front, i in zip(kept, predicted)]
        if proba:
            P = loss.probabilities(Z)
            columns += [f"probability_{c}" for c in classes]
            rows = [row + [_short(p, P.dtype) for p in probs] for row, probs in zip(rows, P)]
        found_metrics = confusion = None
        if y is not None:
            found_metrics = metric_fns.classification_metrics(y, found.scored(predicted))
            confusion = metric_fns.confusion_matrix(y, found.scored(predicted), len(classes))
        return Predictions(columns, rows, "classification", found_metrics, confusion, classes, **extra)
    values = ckpt.preprocessor.outputs(Z)
    columns = [*kept_columns, *(f"predicted_{name}" for name in targets)]
    rows = [[*front, *(_short(v, Z.dtype) for v in row)] for front, row in zip(kept, values)]
    found_metrics = metric_fns.regression_metrics(y, found.scored(values)) if y is not None else None
    return Predictions(columns, rows, "regression", found_metrics, None, None, **extra)


def _kept(data: str | Path, keep: Sequence[str], n_rows: int) -> tuple[list[str], list[list[str]]]:
    """The ``keep`` columns of the file, cells as written, one list per row (empty lists without them)."""
    if not keep:
        return [], [[] for _ in range(n_rows)]
    table = read_table(data)
    require_columns(table, tuple(keep))
    positions = [table.columns.index(name) for name in keep]
    return list(keep), [[row[p] for p in positions] for row in table.cells]


def apply_checkpoint(ckpt: Checkpoint, X: np.ndarray, data: str | Path) -> np.ndarray:
    """The logits for raw features ``X`` (read from ``data``): stored scaling, then the network."""
    scaled = ckpt.scaler.transform(X)
    with np.errstate(over="ignore", invalid="ignore"):  # a row that overflows is refused just below
        Z = logits(ckpt.layers, scaled.astype(ckpt.layers[0].W.dtype))
    _check_finite(Z, scaled, X, data, ckpt.meta["feature_names"], ckpt.layers[0].W.dtype)
    return Z


def _check_finite(Z: np.ndarray, scaled: np.ndarray, X: np.ndarray, data: str | Path,
                  features: list[str], dtype: np.dtype) -> None:
    """Refuse the first row whose outputs are not finite: a feature value too large for the model.

    Such a value is finite in the file but overflows in the model's precision
    (float32 ends at 3.4e38), and NaN outputs would otherwise become class 0.
    """
    bad = np.flatnonzero(~np.isfinite(Z).all(axis=1))
    if len(bad) == 0:
        return
    row = bad[0]
    column = int(np.argmax(np.abs(scaled[row])))  # the feature that drove the row out of range
    line = read_table(data).lines[row]  # read again: only this rare error needs the line numbers
    raise DataError(
        f"{data}: line {line}, column '{features[column]}': {X[row, column]:g} is out of this model's "
        f"range (its outputs overflow {np.dtype(dtype).name})"
    )


def _short(value, dtype) -> float:
    """A float with the digits the model's dtype holds (7 for float32, 15 for float64)."""
    digits = 7 if np.dtype(dtype) == np.float32 else 15
    return float(f"{float(value):.{digits}g}")


def predictions_document(result: Predictions, output: str | None = None) -> dict:
    """The predictions as plain data, for ``predict --json`` (rows left out when written to a file)."""
    document = {"task": result.task, "columns": result.columns, "metrics": result.metrics,
                "confusion_matrix": None if result.confusion is None else result.confusion.tolist(),
                "classes": result.classes, "ignored_columns": list(result.ignored_columns), "note": result.note,
                "notes": list(result.notes)}
    if output is None:
        document["predictions"] = [dict(zip(result.columns, row)) for row in result.rows]
    else:
        document["output"], document["rows"] = output, len(result.rows)
    return document
