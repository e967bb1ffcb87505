"""Apply a checkpoint to the rows of a CSV file.

Columns are matched by name in any order; the stored scaling is applied; class
indices are given back as the original labels.  When the file also holds the
target column(s), the metrics of the predictions come along.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnctl.checkpoint import load_checkpoint
from nnctl.core import metrics as metric_fns
from nnctl.core.losses import LOSSES
from nnctl.core.model import logits
from nnctl.data import load_features
from nnctl.errors import NnctlError


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


def predict_file(checkpoint: str | Path, data: str | Path, proba: bool = False) -> Predictions:
    ckpt = load_checkpoint(checkpoint)
    meta = ckpt.meta
    loss = LOSSES[meta["loss"]]
    if proba and loss.probabilities is None:
        raise NnctlError(
            f"--proba needs a model trained with softmax_cross_entropy or binary_cross_entropy; "
            f"this one was trained with {loss.name}, which gives scores, not probabilities"
        )
    classes = meta.get("classes")
    X, y, ignored, note = load_features(
        data, tuple(meta["feature_names"]), tuple(meta["target_names"]), meta["task"],
        tuple(classes) if classes is not None else None,
    )
    Z = logits(ckpt.layers, ckpt.scaler.transform(X).astype(ckpt.layers[0].W.dtype))
    targets = meta["target_names"]
    if meta["task"] == "classification":
        predicted = loss.decide(Z)
        columns = [f"predicted_{targets[0]}"]
        rows = [[classes[i]] for i in predicted]
        if proba:
            P = loss.probabilities(Z)
            columns += [f"probability_{c}" for c in classes]
            rows = [row + [_short(p) for p in probs] for row, probs in zip(rows, P)]
        found = confusion = None
        if y is not None:
            found = metric_fns.classification_metrics(y, predicted)
            confusion = metric_fns.confusion_matrix(y, predicted, len(classes))
        return Predictions(columns, rows, "classification", found, confusion, classes, ignored, note)
    columns = [f"predicted_{name}" for name in targets]
    rows = [[_short(v) for v in values] for values in Z]
    found = metric_fns.regression_metrics(y, Z.astype(np.float64)) if y is not None else None
    return Predictions(columns, rows, "regression", found, None, None, ignored, note)


def _short(value) -> float:
    """A float with the digits its dtype holds (7 for float32, 15 for float64)."""
    digits = 7 if np.asarray(value).dtype == np.float32 else 15
    return float(f"{float(value):.{digits}g}")
