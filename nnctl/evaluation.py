"""Score a checkpoint on a labelled CSV file: the figures of ``nnctl evaluate``.

No printing: ``evaluate_file`` returns an ``Evaluation`` that ``views.evaluate``
draws and ``evaluation_to_dict`` turns into JSON.

Classification, from the confusion matrix C (rows: true class, columns:
predicted class), for each class k:

    precision_k = C[k, k] / sum_i C[i, k]    (of the rows predicted k, the share that are k)
    recall_k    = C[k, k] / sum_j C[k, j]    (of the rows that are k, the share predicted k)
    F1_k        = 2 precision_k recall_k / (precision_k + recall_k)
    support_k   = sum_j C[k, j]              (rows of true class k)

A ratio 0/0 (a class never predicted, a class absent from the file) is taken as 0,
as scikit-learn's ``zero_division=0`` does; ``Evaluation.notes`` says when it
happened.  Macro averages are the plain means over all the model's classes.

Regression: MSE, RMSE, MAE and R^2 per target column and over all targets,
the latter as ``nnctl.core.metrics`` computes them everywhere else (MSE and MAE
over every value, RMSE = sqrt(MSE), R^2 the mean of the per-target R^2).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nnctl.checkpoint import checkpoint_path, load_checkpoint
from nnctl.core import metrics as metric_fns
from nnctl.core.losses import LOSSES
from nnctl.data import read_table
from nnctl.prep.rows import model_rows
from nnctl.errors import DataError, NnctlError
from nnctl.predict import apply_checkpoint


@dataclass(frozen=True)
class ClassScores:
    label: Any  # the class as written in the training file
    precision: float
    recall: float
    f1: float
    support: int  # rows of this true class


@dataclass(frozen=True)
class TargetScores:
    name: str
    mse: float
    rmse: float
    mae: float
    r2: float


@dataclass
class Evaluation:
    checkpoint: Path  # the checkpoint file used
    data: Path
    task: str
    rows: int
    epoch: int | None  # of the checkpoint
    metrics: dict[str, float]  # classification: accuracy, zero_one_loss, macro_precision, macro_recall,
    #                            macro_f1; regression: mse, rmse, mae, r2 over all targets
    classes: list | None = None
    confusion: np.ndarray | None = None  # (n_classes, n_classes), rows true, columns predicted
    per_class: list[ClassScores] = field(default_factory=list)
    per_target: list[TargetScores] = field(default_factory=list)
    ignored_columns: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    baselines: Any = None  # baselines.Baselines on these rows, when asked for and the training file is there


def evaluate_file(checkpoint: str | Path, data: str | Path, with_baselines: bool = False) -> Evaluation:
    """Apply the checkpoint to the rows of ``data`` and score it against the target column(s);
    ``with_baselines``: also the majority-class (mean) guess and the linear model on these rows."""
    ckpt = load_checkpoint(checkpoint)
    meta = ckpt.meta
    classes, targets = meta.get("classes"), list(meta["target_names"])
    found = model_rows(ckpt.preprocessor, data, tuple(targets), meta["task"],
                       tuple(classes) if classes is not None else None, meta["loss"])
    if found.note is not None:  # the target column is there but cannot be scored
        raise DataError(f"{found.note.removeprefix('no metrics: ')} (so the predictions cannot be scored)")
    if found.y is None:
        _missing_target(data, targets)
    y = found.y
    Z = found.scored(apply_checkpoint(ckpt, found.X, data))  # every row checked; the rows with a target scored
    common = dict(checkpoint=checkpoint_path(checkpoint), data=Path(data), task=meta["task"], rows=len(Z),
                  epoch=meta.get("epoch"), ignored_columns=found.ignored)
    if meta["task"] == "classification":
        result = _classification(LOSSES[meta["loss"]].decide(Z), y, classes, common)
    else:
        result = _regression(ckpt.preprocessor.outputs(Z).astype(np.float64), y, targets, common)
    result.notes[:0] = found.notes
    seen = _seen_rows(meta.get("config") or {}, Path(data))
    if seen:
        result.notes.append(seen)
    training = (meta.get("config") or {}).get("training") or {}
    if with_baselines and training.get("baselines", True):
        from nnctl.baselines import on_rows

        figure = result.metrics["accuracy" if meta["task"] == "classification" else "r2"]
        try:
            result.baselines = on_rows(ckpt, found.scored(found.X), y, float(figure))
        except NnctlError as error:
            result.notes.append(f"no baselines: they are learned from the run's training rows, which cannot be "
                                f"read ({error})")
    return result


def _seen_rows(config: dict, data: Path) -> str | None:
    """A note when ``data`` is the run's own training (or validation) file: its figures flatter the model."""
    files = (config.get("data") or {}) if isinstance(config.get("data"), dict) else {}
    try:
        same = lambda key: isinstance(files.get(key), str) and Path(files[key]).resolve() == data.resolve()  # noqa: E731
        if same("train"):
            share = files.get("validation")
            how = ("trained on most of them and chose its epoch on the rest" if isinstance(share, float) and share > 0
                   else "trained on them")
            return (f"these are the rows of the run's own training file: it {how}, so these figures flatter it; a "
                    "file it never saw (data.test) judges it")
        if same("validation"):
            return ("these are the run's validation rows: it chose its epoch on them, so these figures flatter it; "
                    "a file it never saw (data.test) judges it")
    except (OSError, RuntimeError, ValueError):  # a link loop, a NUL byte in the stored path: no note
        return None
    return None


def _missing_target(data: str | Path, targets: list[str]) -> None:
    columns = read_table(data).columns  # read again: only this error needs the header
    missing = [name for name in targets if name not in columns]
    plural = "s" if len(missing) > 1 else ""
    raise DataError(
        f"{data}: no target column{plural} {', '.join(repr(m) for m in missing)} to score the predictions "
        f"against; columns are: {', '.join(columns)} (nnctl predict works without targets)"
    )


def _classification(predicted: np.ndarray, y: np.ndarray, classes: list, common: dict) -> Evaluation:
    C = metric_fns.confusion_matrix(y, predicted, len(classes))
    precision, recall, f1, support = metric_fns.precision_recall_f1(C)
    per_class = [ClassScores(label, float(p), float(r), float(f), int(s))
                 for label, p, r, f, s in zip(classes, precision, recall, f1, support)]
    metrics = {
        **metric_fns.classification_metrics(y, predicted),
        "macro_precision": float(np.mean(precision)),
        "macro_recall": float(np.mean(recall)),
        "macro_f1": float(np.mean(f1)),
    }
    notes = []
    never_predicted = [str(label) for label, n in zip(classes, C.sum(axis=0)) if n == 0]
    absent = [str(label) for label, n in zip(classes, support) if n == 0]
    if never_predicted:
        notes.append(f"never predicted: class {', '.join(never_predicted)}; its precision (0/0) counts as 0")
    if absent:
        notes.append(f"no rows of class {', '.join(absent)} in the file; its recall (0/0) counts as 0")
    return Evaluation(**common, metrics=metrics, classes=list(classes), confusion=C, per_class=per_class,
                      notes=notes)


def _regression(Z: np.ndarray, y: np.ndarray, targets: list[str], common: dict) -> Evaluation:
    per_target = [
        TargetScores(name, **metric_fns.regression_metrics(y[:, [k]], Z[:, [k]]))
        for k, name in enumerate(targets)
    ]
    return Evaluation(**common, metrics=metric_fns.regression_metrics(y, Z), per_target=per_target)


def evaluation_to_dict(evaluation: Evaluation) -> dict[str, Any]:
    """The evaluation as plain JSON-ready data (for ``evaluate --json``)."""
    e = evaluation
    document: dict[str, Any] = {
        "checkpoint": str(e.checkpoint), "data": str(e.data), "task": e.task, "rows": e.rows, "epoch": e.epoch,
        "metrics": dict(e.metrics),
    }
    if e.task == "classification":
        document["classes"] = e.classes
        document["confusion_matrix"] = e.confusion.tolist()
        document["per_class"] = [asdict(scores) for scores in e.per_class]
    else:
        document["per_target"] = [asdict(scores) for scores in e.per_target]
    if e.baselines is not None:
        document["baselines"] = e.baselines.to_dict()
    document["ignored_columns"] = list(e.ignored_columns)
    document["notes"] = list(e.notes)
    return document
