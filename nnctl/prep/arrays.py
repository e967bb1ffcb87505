"""Data preparation for the Python API: NumPy arrays, or named columns (a dict, a pandas DataFrame).

The same rules as for a CSV file (``prepare.py``): columns typed by ``columns.py``,
rows without a target left out with a note, then ``split_and_scale``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from nnctl.config import Config, task_of_loss
from nnctl.errors import DataError
from nnctl.prep.columns import CATEGORICAL, cells_of, is_table, parse_column, plan_column, why_not_a_number
from nnctl.prep.prepare import PreparedData, split_and_scale
from nnctl.prep.preprocessor import Preprocessor
from nnctl.prep.rows import Rows, count_rows, model_inputs, unknown_notes
from nnctl.prep.transforms import all_finite, numeric_array


def prepare_arrays(config: Config, X, y, split_rng: np.random.Generator, X_val=None, y_val=None,
                   sample_weight=None, feature_names: Sequence[str] | None = None) -> PreparedData:
    """The same as ``prepare_data`` for NumPy arrays: ``X: (n_samples, n_features)``; ``y``
    class labels (any values: they are kept and given back) or regression targets.  ``X`` may
    also be named columns (a dict of columns, a pandas DataFrame), typed as a CSV file's are.
    Rows whose target is missing (None, NaN, one of data.na_values) are left out, with a note."""
    task = task_of_loss(config.loss)
    if is_table(X):
        return _prepare_table(config, X, y, split_rng, X_val, y_val, sample_weight)
    X = numeric_array(X)  # as given: no float64 copy (split_and_scale computes in float64 chunk by chunk)
    if X.ndim != 2 or not all_finite(X):
        raise DataError(f"X must be a 2-d array of finite numbers, got shape {X.shape}")
    names = tuple(feature_names or config.data.features or (f"x{i + 1}" for i in range(X.shape[1])))
    if len(names) != X.shape[1]:
        raise DataError(f"{len(names)} feature names for {X.shape[1]} columns of X")
    keep, notes = _rows_with_targets(y, len(X), config.data.na_values, "y")
    if keep is not None:
        X, y = X[keep], np.asarray(y)[keep]
        sample_weight = None if sample_weight is None else np.asarray(sample_weight)[keep]
    targets, classes = _targets_of(y, task, len(X), config.loss)
    target_names = _target_names(config, targets, task)
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    rows = Rows(X, names, {}, targets, target_names, classes, task, weights, notes=notes)
    validation = None
    if X_val is not None:
        X_val = numeric_array(X_val)
        keep, notes = _rows_with_targets(y_val, len(X_val), config.data.na_values, "y_val")
        if keep is not None:
            X_val, y_val = X_val[keep], np.asarray(y_val)[keep]
        val_targets, _ = _targets_of(y_val, task, len(X_val), config.loss, classes)
        validation = Rows(X_val, names, {}, val_targets, target_names, classes, task, notes=notes)
    return split_and_scale(config, rows, split_rng, validation)


def _target_names(config: Config, targets: np.ndarray, task: str) -> tuple[str, ...]:
    outputs = targets.shape[1] if task == "regression" else 1
    return config.data.target if len(config.data.target) == outputs else tuple(f"y{i + 1}" for i in range(outputs))


def _rows_with_targets(y, n: int, na_values: Sequence[str], name: str) -> tuple[np.ndarray | None, list[str]]:
    """The rows whose target is there (None when all are), and a note on those left out."""
    values = np.asarray(y)
    if len(values) != n:
        raise DataError(f"{name} has {len(values)} rows but X has {n}")
    values = values.reshape(n, -1)
    if values.dtype.kind in "biu":
        return None, []
    if values.dtype.kind == "f":
        missing = np.isnan(values).any(axis=1)
    else:
        markers = frozenset(na_values)
        missing = np.array([any(cell is None or cell in markers for cell in cells_of(row)) for row in values],
                           dtype=bool)
    if not missing.any():
        return None, []
    if missing.all():
        raise DataError(f"{name}: every row's target is missing (None, NaN or one of data.na_values); "
                        "nothing to learn from")
    return np.flatnonzero(~missing), [f"left out {count_rows(missing.sum())} whose target is missing ({name})"]


def _prepare_table(config: Config, X, y, split_rng: np.random.Generator, X_val, y_val, sample_weight) -> PreparedData:
    """``prepare_arrays`` for named columns (a dict of columns, a DataFrame): typed as a CSV file's are."""
    d, task = config.data, task_of_loss(config.loss)
    names = tuple(d.features or (name for name in X.keys() if name not in d.exclude))
    missing = [name for name in names if name not in X.keys()]
    if missing or not names:
        raise DataError(f"X has no column '{missing[0]}'" if missing else "X has no feature columns")
    na_values = d.na_values
    n = len(cells_of(X[names[0]]))
    keep, notes = _rows_with_targets(y, n, d.na_values, "y")
    keep = np.arange(n) if keep is None else keep
    parsed = {name: parse_column(name, _taken(cells_of(X[name]), keep), na_values) for name in names}
    kinds = {}
    for name, column in parsed.items():
        plan = plan_column(column, d.categorical, na_values)
        if plan.kind is None:
            where = f"row {keep[plan.row]}, " if plan.row is not None else ""
            raise DataError(f"X: {where}column '{name}': {plan.problem}")
        kinds[name] = plan.kind
    if d.impute == "drop":
        holes = np.zeros(len(keep), dtype=bool)
        for name, kind in kinds.items():
            if kind == "numeric":
                holes |= parsed[name].missing
        if holes.all():
            raise DataError("X: every row has a missing number, so data.impute: drop leaves no row; "
                            "use data.impute: median")
        if holes.any():
            notes.append(f"left out {count_rows(holes.sum())} with a missing number (data.impute: drop)")
            keep = keep[~holes]
    targets, classes = _targets_of(np.asarray(y)[keep], task, len(keep), config.loss)
    target_names = _target_names(config, targets, task)
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)[keep]
    rows = _table_rows(X, kinds, na_values, targets, target_names, classes, task, weights, keep)
    rows.notes = notes
    validation = None
    if X_val is not None:
        n_val = len(cells_of(X_val[names[0]]))
        keep_val, notes_val = _rows_with_targets(y_val, n_val, d.na_values, "y_val")
        keep_val = np.arange(n_val) if keep_val is None else keep_val
        val_targets, _ = _targets_of(np.asarray(y_val)[keep_val], task, len(keep_val), config.loss, classes)
        validation = _table_rows(X_val, kinds, na_values, val_targets, target_names, classes, task, None, keep_val)
        validation.notes = notes_val
    return split_and_scale(config, rows, split_rng, validation)


def _taken(cells: list[str], keep: np.ndarray) -> list[str]:
    return cells if len(keep) == len(cells) else [cells[i] for i in keep]


def _table_rows(X, kinds: dict[str, str], na_values: Sequence[str], y, target_names, classes, task, weights,
                keep: np.ndarray | None = None) -> Rows:
    """Named columns (the ``keep`` rows of them) as Rows, typed by ``kinds``."""
    numeric = tuple(name for name, kind in kinds.items() if kind == "numeric")
    columns = {}
    for name in kinds:
        cells = cells_of(X[name])
        columns[name] = parse_column(name, cells if keep is None else _taken(cells, keep), na_values)
    for name in numeric:
        if columns[name].text.any():
            row = int(np.flatnonzero(columns[name].text)[0])
            shown = row if keep is None else int(keep[row])
            raise DataError(f"X: row {shown}, column '{name}': {why_not_a_number(columns[name].cells[row], na_values)}")
    n = len(next(iter(columns.values())).cells)
    numbers = np.column_stack([columns[name].values for name in numeric]) if numeric else np.empty((n, 0))
    texts = {name: columns[name].categories() for name, kind in kinds.items() if kind == CATEGORICAL}
    return Rows(numbers, numeric, texts, y, tuple(target_names), classes, task, weights)


def table_inputs(preprocessor: Preprocessor, X) -> tuple[np.ndarray, list[str]]:
    """A trained model's inputs for rows given as named columns (a dict, a DataFrame) or, for a model
    of numeric columns only, as a matrix of them in order: fill values and vocabularies applied;
    and notes on categories the model never saw."""
    na_values = preprocessor.na_values
    if is_table(X):
        missing = [name for name in preprocessor.raw_names if name not in X.keys()]
        if missing:
            raise DataError(f"X lacks the column(s) the model was trained on: {', '.join(missing)}")
        rows = _table_rows(X, preprocessor.kinds, na_values, None, (), None, "", None)
    else:
        if preprocessor.categorical:
            raise DataError("this model reads text columns too: give X as named columns (a dict of columns "
                            f"or a pandas DataFrame) with {', '.join(preprocessor.raw_names)}")
        numbers = np.asarray(X, dtype=np.float64)
        if numbers.ndim != 2 or numbers.shape[1] != len(preprocessor.numeric):
            raise DataError(f"X must have shape (n, {len(preprocessor.numeric)}), got {numbers.shape}")
        rows = Rows(numbers, preprocessor.numeric_names, {}, None, (), None, "", lines=list(range(len(numbers))))
    found = model_inputs(preprocessor, rows, lambda row: f"X: row {row}")
    return found.X, unknown_notes(found, "X", lambda row: f"row {row}")


def _targets_of(y, task: str, n: int, loss: str, classes: tuple | None = None):
    """(targets as training takes them, classes): class indices and the sorted labels, or float columns."""
    y = np.asarray(y)
    if len(y) != n:
        raise DataError(f"y has {len(y)} rows but X has {n}")
    if task == "regression":
        try:
            values = y.astype(np.float64).reshape(n, -1)
        except (TypeError, ValueError):
            raise DataError(f"y holds values that are not numbers; loss: {loss} predicts a number per row "
                            "(for class labels use loss: softmax_cross_entropy)") from None
        if not np.isfinite(values).all():
            raise DataError("y must hold finite numbers (inf is not one)")
        return values, None
    if y.dtype.kind in "biu":  # whole numbers or booleans: sorted and coded in C, as below in Python
        return _whole_number_targets(y.reshape(-1), classes)
    labels = [v.item() if hasattr(v, "item") else v for v in y.reshape(-1)]
    if classes is None:
        distinct = set(labels)
        try:
            classes = tuple(sorted(distinct))
        except TypeError:  # labels of several types (1 and 'a'): by type, then value
            classes = tuple(sorted(distinct, key=lambda v: (type(v).__name__, v)))
        if len(classes) < 2:
            raise DataError(f"y has a single class ({classes[0]!r}); a classifier needs at least two")
    index = {c: i for i, c in enumerate(classes)}
    unknown = [label for label in labels if label not in index]
    if unknown:
        raise DataError(f"y_val holds class {unknown[0]!r}, which y does not have")
    return np.array([index[label] for label in labels], dtype=np.int64), classes


def _whole_number_targets(y: np.ndarray, classes: tuple | None) -> tuple[np.ndarray, tuple]:
    """``_targets_of`` for integer or boolean labels: the same class indices and sorted labels
    (np.unique orders them as Python's sorted does), with no Python object per row."""
    values, codes = np.unique(y, return_inverse=True)
    found = tuple(value.item() for value in values)
    if classes is None:
        if len(found) < 2:
            raise DataError(f"y has a single class ({found[0]!r}); a classifier needs at least two")
        return codes.reshape(-1).astype(np.int64), found
    index = {c: i for i, c in enumerate(classes)}
    known = np.array([value in index for value in found])
    if not known.all():
        first = int(np.flatnonzero(~known[codes.reshape(-1)])[0])  # in row order, as the general path says
        raise DataError(f"y_val holds class {y[first].item()!r}, which y does not have")
    return np.array([index[value] for value in found], dtype=np.int64)[codes.reshape(-1)], classes
