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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from nnctl.config import Config
from nnctl.data import Dataset
from nnctl.errors import ConfigError, DataError
from nnctl.prep.columns import CATEGORICAL
from nnctl.prep.preprocessor import Options, Preprocessor, TargetScaling, fit_preprocessor
from nnctl.prep.rows import Rows, model_inputs, read_rows, read_training_rows, unknown_notes
from nnctl.prep.transforms import Scaler, first_column_beyond, fold_indices, split_indices


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
    X_test: np.ndarray | None = None  # data.test's rows, as X_val; looked at once, after training
    y_test: np.ndarray | None = None

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


def in_file(config: Config, key: str | None = None) -> str:
    """Where a key's value came from: " in the config file", or, for a ``--set``, from the command
    line (a path there is relative to the working directory)."""
    if key is not None and key in config.overridden:
        return f" from --set, relative to the working directory {Path.cwd()}" if key in PATH_KEYS else " from --set"
    return f" in {config.source}" if config.source else ""


PATH_KEYS = ("data.train", "data.validation", "data.test", "output")  # the keys whose values are file paths

@contextmanager


def named_by(config: Config, key: str) -> Iterator[None]:
    """Add the config key (and file) that named a data file to any error about it; for a column the
    file does not have, the key that named the column (data.target, data.features, ...)."""
    try:
        yield
    except DataError as error:
        key = _key_naming(config, getattr(error, "column", None)) or key
        raise DataError(f"{error} ({key}{in_file(config, key)})") from None


def _key_naming(config: Config, column: str | None) -> str | None:
    """The data key whose value holds ``column``, if one does."""
    d = config.data
    for key, names in (("data.target", d.target), ("data.features", d.features or ()),
                       ("data.sample_weight", (d.sample_weight,)), ("data.categorical", d.categorical
                        if isinstance(d.categorical, tuple) else ()), ("data.exclude", d.exclude)):
        if column is not None and column in names:
            return key
    return None


def prepare_data(config: Config, split_rng: np.random.Generator) -> PreparedData:
    """Load the training CSV (and a validation CSV), check the loss fits the target, split,
    fit the preprocessor on the training rows, and standardise."""
    with named_by(config, "data.train"):
        rows = read_training_rows(config)
    validation = test = None
    if isinstance(config.data.validation, Path):
        with named_by(config, "data.validation"):
            validation = _labelled_rows(config, config.data.validation, rows)
    if config.data.test is not None:
        with named_by(config, "data.test"):
            test = _labelled_rows(config, config.data.test, rows)
    return split_and_scale(config, rows, split_rng, validation, test)


def prepare_folds(config: Config, k: int) -> list[PreparedData]:
    """K-fold cross-validation on the training file: one PreparedData per fold, each fitted on its
    own training rows (stratified for classes; the folds drawn with the split seed).  A validation
    fraction or file is not used; data.test is read as for a single run."""
    with named_by(config, "data.train"):
        rows = read_training_rows(config)
    test = None
    if config.data.test is not None:
        with named_by(config, "data.test"):
            test = _labelled_rows(config, config.data.test, rows)
    split_rng = np.random.default_rng(np.random.SeedSequence(config.split_seed).spawn(3)[0])
    try:
        folds = fold_indices(rows.y, k, split_rng, rows.task == "classification")
    except DataError as error:
        raise DataError(f"{config.data.train}: {error} (--folds)") from None
    return [split_and_scale(config, rows, split_rng, test=test, split=fold) for fold in folds]


def _labelled_rows(config: Config, path: Path, rows: Rows) -> Rows:
    """A validation or test file's rows, read as the training rows were; rows without a target left out."""
    return read_rows(path, _kinds_of(rows), config.data.na_values, rows.target_names, rows.task, rows.classes,
                     config.loss, drop_missing_targets=True, impute=config.data.impute)


def _kinds_of(rows: Rows) -> dict[str, str]:
    return {**{name: "numeric" for name in rows.numeric_names}, **{name: CATEGORICAL for name in rows.texts}}


def options_of(config: Config) -> Options:
    d = config.data
    return Options(d.impute, d.missing_indicators, d.max_categories, d.unknown_category, d.na_values)


def split_and_scale(config: Config, rows: Rows, split_rng: np.random.Generator,
                    validation: Rows | None = None, test: Rows | None = None,
                    split: tuple[np.ndarray, np.ndarray] | None = None) -> PreparedData:
    """Check the loss fits the target, hold out the validation rows (unless given: a file, or
    ``split``, a fold's (train, validation) row indices), fit the preprocessor on the training
    rows, transform and standardise (the test rows too, which nothing looks at until training
    is over)."""
    d, task = config.data, rows.task
    n = len(rows.numbers)
    _check_loss_fits(config, rows.classes, rows.target_names)
    if split is not None:
        train_rows, val_rows = split
    elif validation is not None:
        train_rows = val_rows = None
    else:
        try:
            train_rows, val_rows = split_indices(rows.y, d.validation, split_rng, task == "classification")
        except DataError as error:
            raise DataError(f"{d.train}: {error} (data.validation{in_file(config, 'data.validation')})") from None
    y_train = rows.y if train_rows is None else rows.y[train_rows]
    target = None
    if task == "regression" and d.scales_target:
        target = TargetScaling.fit(y_train)
    all_rows = train_rows is None or len(train_rows) == n  # sorted and distinct: 0..n-1
    try:
        preprocessor = fit_preprocessor(rows.numbers, rows.numeric_names, rows.texts,
                                        None if all_rows else train_rows, options_of(config), target)
    except ValueError as error:
        raise DataError(f"{d.train}: {error} (data.train{in_file(config, 'data.train')})") from None
    X = preprocessor.transform(rows.numbers, rows.texts).X
    dataset = Dataset(X, rows.y, preprocessor.input_names, rows.target_names, rows.classes, task, rows.weights)
    notes = list(rows.notes)
    _check_range(config, dataset, scaled_targets=target is not None)
    if validation is not None:
        found = model_inputs(preprocessor, validation, lambda row: f"{d.validation}: line {validation.line(row)}")
        notes += validation.notes + unknown_notes(found, str(d.validation), lambda r: f"line {validation.line(r)}")
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
    X_test = y_test = None
    if test is not None:
        found = model_inputs(preprocessor, test, lambda row: f"{d.test}: line {test.line(row)}")
        notes += test.notes + unknown_notes(found, str(d.test), lambda r: f"line {test.line(r)}")
        X_test, y_test = scaler.transform_to(found.X, dtype), test.y
    if target is not None:
        y_train = preprocessor.targets(y_train)
        y_val = None if y_val is None else preprocessor.targets(y_val)
        y_test = None if y_test is None else preprocessor.targets(y_test)
    w_train = row_weights(config, dataset, y_train, w_train)
    if w_train is not None and not w_train.sum() > 0:
        weights = [f"data.sample_weight (column '{d.sample_weight}')"] * bool(d.sample_weight) + \
                  ["data.class_weight"] * (d.class_weight is not None)
        raise DataError(f"{d.train}: every training row weighs 0 ({' times '.join(weights)}): the loss would be 0/0 "
                        "and nothing would be learned")
    return PreparedData(dataset=dataset, X_train=X_train, y_train=y_train, X_val=X_val, y_val=y_val, scaler=scaler,
                        w_train=w_train, preprocessor=preprocessor, notes=notes, X_test=X_test, y_test=y_test)


def _fit_scaler(X: np.ndarray, rows: np.ndarray | None, preprocessor: Preprocessor) -> Scaler:
    """Standardisation statistics of the numeric inputs; 0/1 inputs stay as they are (mean 0, scale 1)."""
    scaler = Scaler.fit(X, rows)
    keep = preprocessor.standardized
    if keep.all():
        return scaler
    return Scaler(np.where(keep, scaler.mean, 0.0), np.where(keep, scaler.scale, 1.0))


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
    if not config.data.standardize:  # from each column's extremes (no full-size temporaries)
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
