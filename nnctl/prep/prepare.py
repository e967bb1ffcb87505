"""Config -> the rows training takes: read, type, drop, split, impute, encode, standardise.

The adapter of data preparation: it reads files through ``nnctl.data`` and turns
what the pure modules beside it decide into ``DataError`` lines that name the
file, the line and the column.  The order, for a training file:

    read the rows          all-numeric plain files through data.py's fast path
    type the columns       numeric or categorical (columns.py); refuse what is neither
    drop rows              whose target is missing; with impute: drop, with a missing number
    split                  training and validation rows (transforms.split_indices)
    fit the preprocessor   fill values, vocabularies, target scaling: training rows only
    transform every row    imputed numbers, missing indicators, one-hot slots
    standardise            the numeric inputs, with the training rows' statistics
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from nnctl import data as csvdata
from nnctl.config import Config, task_of_loss
from nnctl.data import Dataset, Table
from nnctl.errors import ConfigError, DataError
from nnctl.prep.columns import (AUTO, DEFAULT_NA_VALUES, CATEGORICAL, cells_of, is_table, parse_column, parse_number, plan_column,
                                why_not_a_number)
from nnctl.prep.describe import ColumnReport, describe_column
from nnctl.prep.preprocessor import (MISSING_SLOT, Options, Preprocessor, TargetScaling, Transformed,
                                     fit_preprocessor)
from nnctl.prep.transforms import Scaler, all_finite, first_column_beyond, numeric_array, split_indices

FEW_VALUES = 10  # a regression target with at most this many whole-number values gets a note


@dataclass
class PreparedData:
    """The training and validation rows as the network takes them, with what describes them."""

    dataset: Dataset  # all rows of the training file (after dropped rows): inputs before scaling, raw targets
    X_train: np.ndarray
    y_train: np.ndarray  # class indices, or regression targets as trained (z-scored when the preprocessor says)
    X_val: np.ndarray | None
    y_val: np.ndarray | None
    scaler: Scaler
    w_train: np.ndarray | None = None  # per-row weights of the training loss (class and sample weights)
    preprocessor: Preprocessor | None = None  # what turns a file's columns into the inputs; the checkpoint keeps it
    notes: list[str] = field(default_factory=list)  # what preparation did that the user should hear of

    def __post_init__(self) -> None:
        if self.preprocessor is None:
            self.preprocessor = Preprocessor.plain(self.dataset.feature_names)

    @property
    def n_classes_or_targets(self) -> int:
        d = self.dataset
        return len(d.classes) if d.classes is not None else len(d.target_names)

    @property
    def target_scale(self) -> tuple[float, ...] | None:
        """Per target, what one unit of the trained targets is in the target's own units."""
        scaling = self.preprocessor.target
        return None if scaling is None else scaling.scale


@dataclass(eq=False)
class Rows:
    """A file's rows as columns: numbers (NaN where missing) and categories; targets and weights."""

    numbers: np.ndarray  # (n, len(numeric_names)), NaN where missing
    numeric_names: tuple[str, ...]
    texts: dict[str, np.ndarray]  # categorical columns: (n,) objects, str or None where missing
    y: np.ndarray | None  # class indices or (n, n_targets) values; None when the targets are absent
    target_names: tuple[str, ...]
    classes: tuple | None
    task: str
    weights: np.ndarray | None = None
    lines: list[int] | None = None  # the physical line of each row (None: a plain file, lines 2, 3, ...)
    ignored: tuple[str, ...] = ()  # a file's columns that the model does not read
    notes: list[str] = field(default_factory=list)
    y_rows: np.ndarray | None = None  # the rows ``y`` belongs to, when not all (rows without a target)

    def line(self, row: int) -> int:
        return row + 2 if self.lines is None else self.lines[row]


def in_file(config: Config) -> str:
    return f" in {config.source}" if config.source else ""


@contextmanager
def named_by(config: Config, key: str) -> Iterator[None]:
    """Add the config key (and file) that named a data file to any error about it."""
    try:
        yield
    except DataError as error:
        raise DataError(f"{error} ({key}{in_file(config)})") from None


# --------------------------------------------------------------------------- reading


def prepare_data(config: Config, split_rng: np.random.Generator) -> PreparedData:
    """Load the training CSV (and a validation CSV), check the loss fits the target, split,
    fit the preprocessor on the training rows, and standardise."""
    with named_by(config, "data.train"):
        rows = read_training_rows(config)
    validation = None
    if isinstance(config.data.validation, Path):
        with named_by(config, "data.validation"):
            validation = read_rows(config.data.validation, _kinds_of(rows), config.data.na_values,
                                   rows.target_names, rows.task, rows.classes, config.loss, drop_missing_targets=True,
                                   impute=config.data.impute)
    return split_and_scale(config, rows, split_rng, validation)


def read_training_rows(config: Config) -> Rows:
    """The training file's rows, typed; rows without a target (or, with impute: drop, with a
    missing number) left out, and a note saying how many."""
    d, task = config.data, task_of_loss(config.loss)
    if (d.categorical == AUTO or not d.categorical) and not _numeric_markers(d.na_values):
        plain = csvdata.load_plain_dataset(Path(d.train), d.target, d.features, task, config.loss, None,
                                           d.sample_weight, d.exclude)
        if plain is not None:
            rows = Rows(plain.X, plain.feature_names, {}, plain.y, plain.target_names, plain.classes, task,
                        plain.weights)
            rows.notes += _target_notes(config, rows)
            return rows
    table = csvdata.read_table(d.train)
    csvdata.check_targets(table, d.target)
    features = csvdata.feature_columns(table, d.target, d.features, d.sample_weight, d.exclude)
    if d.sample_weight is not None:
        csvdata.require_columns(table, (d.sample_weight,))
    kinds = _plan(table, features, d.categorical, d.na_values)
    keep, notes = _rows_to_keep(table, kinds, d.target, d.na_values, d.impute, config.loss)
    rows = _read_kept(table, keep, kinds, d.na_values, d.target, task, None, config.loss, d.sample_weight)
    rows.notes = notes + _target_notes(config, rows)
    return rows


def _numeric_markers(na_values: Sequence[str]) -> bool:
    """Whether a missing-value marker is itself a number (-999): the fast path would read it as one."""
    return any(parse_number(marker) is not None for marker in na_values)


def _plan(table: Table, features: Sequence[str], categorical, na_values: Sequence[str]) -> dict[str, str]:
    """Each feature column's kind (numeric or categorical), in file order; the first refused column is an error."""
    if categorical != AUTO:
        csvdata.require_columns(table, tuple(categorical))
        stray = [name for name in categorical if name not in features]
        if stray:
            raise DataError(f"{table.path}: data.categorical names '{stray[0]}', which is not a feature column")
    kinds, refused = {}, []
    for name in features:
        position = table.columns.index(name)
        column = parse_column(name, [row[position] for row in table.cells], na_values)
        plan = plan_column(column, categorical, na_values)
        if plan.kind is None:
            where = f"line {table.lines[plan.row]}, " if plan.row is not None else ""
            refused.append(f"{where}column '{name}': {plan.problem}")
        kinds[name] = plan.kind
    if len(refused) == 1:
        raise DataError(f"{table.path}: {refused[0]}")
    if refused:  # every refused column at once, as a config's problems are
        raise DataError(f"{table.path}: {len(refused)} columns refused: {'; '.join(refused)} "
                        f"(nnctl data describe {table.path} shows every column)")
    return kinds


def _kinds_of(rows: Rows) -> dict[str, str]:
    return {**{name: "numeric" for name in rows.numeric_names}, **{name: CATEGORICAL for name in rows.texts}}


def _missing_cells(table: Table, name: str, na_values: Sequence[str]) -> np.ndarray:
    position, markers = table.columns.index(name), frozenset(na_values)
    return np.fromiter((row[position] in markers for row in table.cells), dtype=bool, count=len(table.cells))


def _rows_to_keep(table: Table, kinds: dict[str, str], target: Sequence[str], na_values: Sequence[str],
                  impute: str, loss: str) -> tuple[np.ndarray, list[str]]:
    """Row indices to train on, and notes on the rows left out."""
    n = len(table.cells)
    no_target = np.zeros(n, dtype=bool)
    for name in target:
        no_target |= _missing_cells(table, name, na_values)
    notes = []
    if no_target.all():
        raise DataError(f"{table.path}: column '{target[0]}': every row's target is missing (empty, or one of "
                        "data.na_values); nothing to learn from")
    if no_target.any():
        notes.append(f"left out {_rows(no_target.sum())} whose target is missing (column "
                     f"{', '.join(repr(t) for t in target)})")
    dropped = np.zeros(n, dtype=bool)
    if impute == "drop":
        for name, kind in kinds.items():
            if kind == "numeric":
                dropped |= _missing_cells(table, name, na_values)
        dropped &= ~no_target
        if dropped.any():
            notes.append(f"left out {_rows(dropped.sum())} with a missing number (data.impute: drop)")
    keep = np.flatnonzero(~(no_target | dropped))
    if not len(keep):
        raise DataError(f"{table.path}: every row has a missing number, so data.impute: drop leaves no row; "
                        "use data.impute: median")
    return keep, notes


def _rows(count) -> str:
    return f"{int(count)} row" + ("" if count == 1 else "s")


def _read_kept(table: Table, keep: np.ndarray, kinds: dict[str, str], na_values: Sequence[str],
               target: Sequence[str], task: str, classes: tuple | None, loss: str, weight_column: str | None,
               targets_present: bool = True) -> Rows:
    """The kept rows of a table as Rows (targets read when ``targets_present``)."""
    table = Table(table.path, table.columns, [table.cells[i] for i in keep], [table.lines[i] for i in keep])
    numeric = tuple(name for name, kind in kinds.items() if kind == "numeric")
    numbers = np.empty((len(table.cells), len(numeric)))
    texts = {}
    for name, kind in kinds.items():
        position = table.columns.index(name)
        column = parse_column(name, [row[position] for row in table.cells], na_values)
        if kind == CATEGORICAL:
            texts[name] = column.categories()
            continue
        if column.text.any():
            row = int(np.flatnonzero(column.text)[0])
            raise DataError(f"{table.path}: line {table.lines[row]}, column '{name}': "
                            f"{why_not_a_number(column.cells[row], na_values)}")
        numbers[:, numeric.index(name)] = column.values
    y = None
    if targets_present:
        y, classes = _targets(table, tuple(target), task, classes, loss)
    weights = None
    if weight_column is not None:
        weights = csvdata.numbers_of(table, (weight_column,))[:, 0]
        negative = np.flatnonzero(weights < 0)
        if len(negative):
            raise DataError(f"{table.path}: line {table.lines[negative[0]]}, column '{weight_column}': "
                            f"a weight must be >= 0, got {weights[negative[0]]:g}")
    return Rows(numbers, numeric, texts, y, tuple(target), classes, task, weights, table.lines)


def _targets(table: Table, target: tuple[str, ...], task: str, classes: tuple | None, loss: str):
    if task == "classification":
        return csvdata.labels_of(table, target, loss, classes)
    for name in target:
        position = table.columns.index(name)
        for row, line in zip(table.cells, table.lines):
            cell = row[position]
            number = parse_number(cell)
            if number is None:
                raise DataError(f"{table.path}: line {line}, column '{name}': {why_not_a_number(cell)}; "
                                f"loss: {loss} predicts a number per row (for class labels use "
                                "loss: softmax_cross_entropy)")
            if not np.isfinite(number):
                raise DataError(f"{table.path}: line {line}, column '{name}': {why_not_a_number(cell)}")
    return csvdata.numbers_of(table, target), None


def _target_notes(config: Config, rows: Rows) -> list[str]:
    """A regression target of a few whole numbers: say it is treated as numbers, not classes."""
    if rows.task != "regression" or rows.y.shape[1] != 1 or not len(rows.y):
        return []
    values = np.unique(rows.y[:, 0])
    if len(values) > FEW_VALUES or not np.all(values == np.round(values)):
        return []
    shown = ", ".join(f"{v:g}" for v in values)
    return [f"column '{rows.target_names[0]}' holds {len(values)} whole-number values ({shown}); loss: "
            f"{config.loss} predicts them as numbers (regression), not as classes; for classes use "
            "loss: softmax_cross_entropy"]


def read_rows(path: str | Path, kinds: dict[str, str], na_values: Sequence[str], target: Sequence[str], task: str,
              classes: tuple | None, loss: str = "", drop_missing_targets: bool = False,
              impute: str = "median") -> Rows:
    """A validation or prediction file's rows for a model whose columns are ``kinds``.

    Columns are matched by name, in any order.  The targets are read when every target
    column is there: for validation (``drop_missing_targets``) rows without one are left
    out with a note; for prediction a target that cannot be scored leaves ``y`` None and
    a note saying why.
    """
    names = tuple(kinds)
    numeric = tuple(name for name, kind in kinds.items() if kind == "numeric")
    if len(numeric) == len(names) and not _numeric_markers(na_values):
        plain = csvdata.load_plain_features(Path(path), numeric, tuple(target), task, classes)
        if plain is not None and (plain[1] is not None or not drop_missing_targets):
            X, y, ignored, _ = plain  # (a validation file without its targets: the careful reader says so)
            return Rows(X, numeric, {}, y, tuple(target), classes, task, ignored=ignored)
    table = csvdata.read_table(path)
    csvdata.require_features(table, names)
    present = csvdata.scored(table.columns, target)
    ignored = csvdata.ignored_columns(table.columns, names, target)
    if drop_missing_targets:
        csvdata.check_targets(table, tuple(target))
        keep, notes = _rows_to_keep(table, kinds, target, na_values, impute, loss)
        rows = _read_kept(table, keep, kinds, na_values, target, task, classes, loss, None)
        rows.notes = notes
        return replace(rows, ignored=ignored) if ignored else rows
    rows = _read_kept(table, np.arange(len(table.cells)), kinds, na_values, target, task, classes, loss, None,
                      targets_present=False)
    rows.ignored = ignored
    if present:  # scored on the rows that have a target
        missing = np.zeros(len(table.cells), dtype=bool)
        for name in target:
            missing |= _missing_cells(table, name, na_values)
        scored = np.flatnonzero(~missing)
        if not len(scored):
            rows.notes.append(f"no metrics: every row's target is missing (column {', '.join(map(repr, target))})")
            return rows
        kept = Table(table.path, table.columns, [table.cells[i] for i in scored], [table.lines[i] for i in scored])
        try:
            rows.y, _ = _targets(kept, tuple(target), task, classes, loss)
        except DataError as error:
            rows.notes.append(f"no metrics: {error}")
            return rows
        if len(scored) < len(table.cells):
            rows.y_rows = scored
            rows.notes.append(f"metrics over the {_rows(len(scored))} with a target; "
                              f"{_rows(len(table.cells) - len(scored))} without one")
    return rows


# --------------------------------------------------------------------------- arrays


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
    return np.flatnonzero(~missing), [f"left out {_rows(missing.sum())} whose target is missing ({name})"]


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
            notes.append(f"left out {_rows(holes.sum())} with a missing number (data.impute: drop)")
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
    found = _model_inputs(preprocessor, rows, lambda row: f"X: row {row}")
    return found.X, _unknown_notes(found, "X", lambda row: f"row {row}")


def _model_inputs(preprocessor: Preprocessor, rows: Rows, where: Callable[[int], str]) -> Transformed:
    """The inputs of rows for a trained model; a missing number it cannot fill, or (with
    unknown_category: error) a category it never saw, is an error at ``where(row)``."""
    found = preprocessor.transform(rows.numbers, rows.texts)
    if found.unfilled is not None:
        name, row = found.unfilled
        raise DataError(f"{where(row)}, column '{name}': the cell is missing, and this model was trained with "
                        "data.impute: drop, so it has no value to fill in")
    if found.unknown and preprocessor.unknown_category == "error":
        name, unknown = next(iter(found.unknown.items()))
        known = next(c for c in preprocessor.categorical if c.name == name).slots
        raise DataError(f"{where(unknown.first_row)}, column '{name}': category '{unknown.first_value}' was not "
                        f"seen in training (data.unknown_category: error); known: {', '.join(known)}")
    return found


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


# --------------------------------------------------------------------------- split, fit, transform, scale


def options_of(config: Config) -> Options:
    d = config.data
    return Options(d.impute, d.missing_indicators, d.max_categories, d.unknown_category, d.na_values)


def split_and_scale(config: Config, rows: Rows, split_rng: np.random.Generator,
                    validation: Rows | None = None) -> PreparedData:
    """Check the loss fits the target, hold out the validation rows (unless given), fit the
    preprocessor on the training rows, transform and standardise."""
    d, task = config.data, rows.task
    n = len(rows.numbers)
    _check_loss_fits(config, rows.classes, rows.target_names)
    if validation is not None:
        train_rows = val_rows = None
    else:
        try:
            train_rows, val_rows = split_indices(rows.y, d.validation, split_rng, task == "classification")
        except DataError as error:
            raise DataError(f"{d.train}: {error} (data.validation{in_file(config)})") from None
    y_train = rows.y if train_rows is None else rows.y[train_rows]
    target = None
    if task == "regression" and d.scales_target:
        target = TargetScaling.fit(y_train)
    all_rows = train_rows is None or len(train_rows) == n  # sorted and distinct: 0..n-1
    try:
        preprocessor = fit_preprocessor(rows.numbers, rows.numeric_names, rows.texts,
                                        None if all_rows else train_rows, options_of(config), target)
    except ValueError as error:
        raise DataError(f"{d.train}: {error} (data.train{in_file(config)})") from None
    X = preprocessor.transform(rows.numbers, rows.texts).X
    dataset = Dataset(X, rows.y, preprocessor.input_names, rows.target_names, rows.classes, task, rows.weights)
    notes = list(rows.notes)
    _check_range(config, dataset, scaled_targets=target is not None)
    if validation is not None:
        found = _model_inputs(preprocessor, validation, lambda row: f"{d.validation}: line {validation.line(row)}")
        notes += validation.notes + _unknown_notes(found, str(d.validation), lambda r: f"line {validation.line(r)}")
        X_val_raw, y_val = found.X, validation.y
        w_train = rows.weights
    else:
        X_val_raw = None
        y_val = rows.y[val_rows] if len(val_rows) else None
        w_train = rows.weights[train_rows] if rows.weights is not None else None
    # The rows training takes, standardised and rounded once to model.dtype: one copy of the
    # data (none with an identity scaler on C-ordered model.dtype rows, all of them, in order).
    dtype = np.dtype(config.model.dtype)
    scaler = _fit_scaler(X, None if all_rows else train_rows, preprocessor) if d.standardize \
        else Scaler.identity(X.shape[1])
    X_train = scaler.transform_to(X, dtype, None if all_rows else train_rows)
    if validation is not None:
        X_val = scaler.transform_to(X_val_raw, dtype)
    else:
        X_val = scaler.transform_to(X, dtype, val_rows) if len(val_rows) else None
    if target is not None:
        y_train = preprocessor.targets(y_train)
        y_val = None if y_val is None else preprocessor.targets(y_val)
    return PreparedData(dataset=dataset, X_train=X_train, y_train=y_train, X_val=X_val, y_val=y_val, scaler=scaler,
                        w_train=row_weights(config, dataset, y_train, w_train), preprocessor=preprocessor,
                        notes=notes)


def _fit_scaler(X: np.ndarray, rows: np.ndarray | None, preprocessor: Preprocessor) -> Scaler:
    """Standardisation statistics of the numeric inputs; 0/1 inputs stay as they are (mean 0, scale 1)."""
    scaler = Scaler.fit(X, rows)
    keep = preprocessor.standardized
    if keep.all():
        return scaler
    return Scaler(np.where(keep, scaler.mean, 0.0), np.where(keep, scaler.scale, 1.0))


def _unknown_notes(found: Transformed, where: str, place: Callable[[int], str]) -> list[str]:
    """One note per column with values training never saw: how many rows, and the first."""
    notes = []
    for name, u in found.unknown.items():
        first = "an empty cell" if u.first_value == MISSING_SLOT else f"'{shown_cell(u.first_value)}'"
        notes.append(f"{where}: column '{name}': {_rows(u.count)} with a value not seen in training "
                     f"({first} first, {place(u.first_row)}): the column's one-hot inputs are all zero there")
    return notes


def shown_cell(text: str) -> str:
    """A cell's text for a one-line message: line breaks written as \\n."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def row_weights(config: Config, dataset: Dataset, y_train: np.ndarray, sample: np.ndarray | None) -> np.ndarray | None:
    """w_i = class_weight[y_i] * sample_weight_i for the training rows (None when all are 1).

    ``balanced``: class_weight[c] = n / (K n_c), so every class weighs as much in
    total (as scikit-learn defines it).
    """
    spec = config.data.class_weight
    if spec is None:
        return None if sample is None else sample.astype(np.float64)
    classes = dataset.classes
    if spec == "balanced":
        counts = np.bincount(y_train, minlength=len(classes)).astype(np.float64)
        per_class = len(y_train) / (len(classes) * np.maximum(counts, 1.0))
    else:
        known = {str(c): i for i, c in enumerate(classes)}
        unknown = [str(label) for label in spec if str(label) not in known]
        if unknown:
            raise ConfigError(f"{config.source or 'config'}: data.class_weight: class {unknown[0]!r} is not in "
                              f"column '{dataset.target_names[0]}'; classes are: {', '.join(map(str, classes))}")
        per_class = np.ones(len(classes))
        for label, weight in spec.items():
            per_class[known[str(label)]] = weight
    weights = per_class[y_train]
    return weights if sample is None else weights * sample


def _check_range(config: Config, dataset: Dataset, scaled_targets: bool = False) -> None:
    """Regression targets trained as they are (and unscaled features) must fit the training dtype,
    with room for a square."""
    limit = float(np.sqrt(np.finfo(config.model.dtype).max))
    message = ("{file}: column '{name}' holds values beyond {limit:.3g}, too large for model.dtype {dtype}; "
               "rescale the column or use model.dtype: float64 (data.train)")
    if dataset.task == "regression" and not scaled_targets:
        too_big = np.flatnonzero((np.abs(dataset.y) > limit).any(axis=0))
        if len(too_big):
            raise DataError(message.format(file=config.data.train, name=dataset.target_names[too_big[0]],
                                           limit=limit, dtype=config.model.dtype))
    if not config.data.standardize:  # chunk by chunk in float64 (no full-size temporaries)
        column = first_column_beyond(dataset.X, limit)
        if column is not None:
            raise DataError(message.format(file=config.data.train, name=dataset.feature_names[column],
                                           limit=limit, dtype=config.model.dtype))


def _check_loss_fits(config: Config, classes: tuple | None, target_names: tuple[str, ...]) -> None:
    where = f"{config.source}: " if config.source else ""
    n_classes = len(classes or ())
    if config.loss == "binary_cross_entropy" and n_classes != 2:
        raise ConfigError(
            f"{where}loss: binary_cross_entropy needs exactly 2 classes, but column "
            f"'{target_names[0]}' has {n_classes}; use softmax_cross_entropy"
        )


# --------------------------------------------------------------------------- a trained model's rows


@dataclass(eq=False)
class ModelRows:
    """A file's rows as a trained model's inputs (before standardisation), and its targets if there."""

    X: np.ndarray  # (n, n_inputs)
    y: np.ndarray | None  # class indices or target values, when the file holds usable targets
    ignored: tuple[str, ...]  # columns the model does not read
    note: str | None  # why there are no metrics although the target columns are there
    notes: list[str]  # rows left out of the metrics, categories the model never saw
    y_rows: np.ndarray | None = None  # the rows ``y`` is for, when some rows have no target

    def scored(self, values: np.ndarray) -> np.ndarray:
        """The rows of ``values`` (one per file row) that ``y`` scores."""
        return values if self.y_rows is None else values[self.y_rows]


def model_rows(preprocessor: Preprocessor, path: str | Path, target_names: Sequence[str], task: str,
               classes: tuple | None, loss: str = "") -> ModelRows:
    """Read a file for a trained model: its columns by name, in any order; the stored fill values,
    vocabularies and unknown-category rule applied."""
    rows = read_rows(path, preprocessor.kinds, preprocessor.na_values, target_names, task, classes, loss)
    found = _model_inputs(preprocessor, rows, lambda row: f"{path}: line {rows.line(row)}")
    note = next((text for text in rows.notes if text.startswith("no metrics: ")), None)
    notes = [text for text in rows.notes if text != note] + _unknown_notes(found, str(path),
                                                                            lambda r: f"line {rows.line(r)}")
    return ModelRows(found.X, rows.y, rows.ignored, note, notes, rows.y_rows)


def describe_file(path: str | Path, target: Sequence[str] = ()) -> list[ColumnReport]:
    """``nnctl data describe``: each column of a CSV file, and what ``features: all`` does with it."""
    table = csvdata.read_table(path)
    csvdata.require_columns(table, tuple(target))
    reports = []
    for position, name in enumerate(table.columns):
        column = parse_column(name, [row[position] for row in table.cells], DEFAULT_NA_VALUES)
        reports.append(describe_column(column, target, na_values=DEFAULT_NA_VALUES))
    return reports
