"""Permutation importance: how much the run's metric drops when one input column's values are
shuffled across the rows, breaking its link to the target while keeping its distribution.

importance(c) = metric(rows) - mean over r of metric(rows with column c shuffled by permutation r)

(Breiman 2001; scikit-learn's ``permutation_importance``).  A column is a file's column: a
categorical column's one-hot slots move together, and a number's missing-value indicator moves
with it.  The metric is the one a run is scored by: accuracy for classifiers, R^2 for regression,
on the rows of a labelled file.  A column the model does not use reads ~0; shuffles are seeded,
so the figures repeat.  No printing: ``views.importance`` draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnctl.checkpoint import checkpoint_path, load_checkpoint
from nnctl.core import metrics as metric_fns
from nnctl.core.losses import LOSSES
from nnctl.core.model import logits
from nnctl.errors import NnctlError
from nnctl.prep.rows import model_rows

MAX_REPEATS = 1000


@dataclass(frozen=True)
class ColumnImportance:
    column: str
    mean: float  # the metric's mean drop over the shuffles
    std: float  # and its standard deviation (ddof=0)
    drops: tuple[float, ...]  # one per shuffle


@dataclass(frozen=True)
class Importance:
    checkpoint: Path
    data: Path
    metric: str  # "accuracy" or "r2"
    baseline: float  # the metric on the rows as they are
    rows: int
    repeats: int
    seed: int
    columns: tuple[ColumnImportance, ...]  # ranked: largest mean drop first


def column_groups(preprocessor) -> dict[str, list[int]]:
    """Each raw column and the network inputs it makes (before standardisation)."""
    names = list(preprocessor.input_names)
    groups: dict[str, list[int]] = {}
    for column in preprocessor.numeric:
        groups[column.name] = [names.index(column.name)]
        if column.indicator:
            groups[column.name].append(names.index(column.indicator_name))
    for column in preprocessor.categorical:
        groups[column.name] = [names.index(name) for name in column.input_names]
    return groups


def permutation_importance(checkpoint: str | Path, data: str | Path, repeats: int = 5, seed: int = 0
                           ) -> Importance:
    """The mean and spread of the metric's drop per column over ``repeats`` seeded shuffles."""
    if not 1 <= repeats <= MAX_REPEATS:
        raise NnctlError(f"--repeats {repeats}: give 1 to {MAX_REPEATS}")
    ckpt = load_checkpoint(checkpoint)
    meta, pre = ckpt.meta, ckpt.preprocessor
    classes = meta.get("classes")
    found = model_rows(pre, data, tuple(meta["target_names"]), meta["task"],
                       tuple(classes) if classes is not None else None, meta["loss"])
    if found.y is None:
        raise NnctlError(f"{data}: {found.note or 'no target column'}: importance needs the targets "
                         f"({', '.join(meta['target_names'])}) to score the model")
    X = found.scored(found.X)
    y = found.y
    loss = LOSSES[meta["loss"]]
    classification = meta["task"] == "classification"

    def score(inputs: np.ndarray) -> float:
        Z = logits(ckpt.layers, ckpt.scaler.transform(inputs).astype(ckpt.layers[0].W.dtype))
        if classification:
            return float(metric_fns.accuracy(y, loss.decide(Z)))
        return float(metric_fns.regression_metrics(y, pre.outputs(Z))["r2"])

    baseline = score(X)
    rng = np.random.default_rng(seed)
    results = []
    for name, columns in column_groups(pre).items():
        drops = []
        for _ in range(repeats):
            shuffled = X.copy()
            shuffled[:, columns] = X[rng.permutation(len(X))][:, columns]  # the group moves as one
            drops.append(baseline - score(shuffled))
        results.append(ColumnImportance(name, float(np.mean(drops)), float(np.std(drops)), tuple(drops)))
    results.sort(key=lambda c: -c.mean)
    return Importance(checkpoint_path(checkpoint), Path(data), "accuracy" if classification else "r2", baseline,
                      len(X), repeats, seed, tuple(results))


def importance_document(found: Importance) -> dict:
    """Plain data for --json."""
    return {"checkpoint": str(found.checkpoint), "data": str(found.data), "metric": found.metric,
            "baseline": found.baseline, "rows": found.rows, "repeats": found.repeats, "seed": found.seed,
            "columns": [{"column": c.column, "mean": c.mean, "std": c.std, "drops": list(c.drops)}
                        for c in found.columns]}
