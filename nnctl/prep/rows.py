"""A file's rows for data preparation: read through ``nnctl.data``, typed, rows without a target left out.

For training (``read_training_rows``), for a validation or prediction file given a model's
columns (``read_rows``, ``model_rows``), and for ``nnctl data describe`` (``describe_file``).
Every problem is a ``DataError`` that names the file, the line and the column.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from nnctl import data as csvdata
from nnctl.config import Config, task_of_loss
from nnctl.data import Table
from nnctl.errors import DataError
from nnctl.prep.columns import (AUTO, CATEGORICAL, DEFAULT_NA_VALUES, ParsedColumn, parse_column, parse_number,
                                plan_column, why_not_a_number)
from nnctl.prep.describe import ColumnReport, describe_column
from nnctl.prep.preprocessor import MISSING_SLOT, Preprocessor, Transformed

FEW_VALUES = 10  # a regression target with at most this many whole-number values gets a note


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
    kinds, parsed = _plan(table, features, d.categorical, d.na_values)
    keep, notes = _rows_to_keep(table, kinds, d.target, d.na_values, d.impute, config.loss)
    rows = _read_kept(table, keep, kinds, d.na_values, d.target, task, None, config.loss, d.sample_weight, parsed)
    rows.notes = notes + _target_notes(config, rows)
    return rows


def _numeric_markers(na_values: Sequence[str]) -> bool:
    """Whether a missing-value marker is itself a finite number (-999): the fast path would read it as
    one.  ('nan' and 'inf' it refuses as not finite, leaving the file to the careful reader.)"""
    return any(parse_number(marker) is not None and np.isfinite(parse_number(marker)) for marker in na_values)


def _plan(table: Table, features: Sequence[str], categorical, na_values: Sequence[str]
          ) -> tuple[dict[str, str], dict[str, ParsedColumn]]:
    """Each feature column's kind (numeric or categorical), in file order, and the parsed columns;
    every refused column named in one error."""
    if categorical != AUTO:
        csvdata.require_columns(table, tuple(categorical))
        stray = [name for name in categorical if name not in features]
        if stray:
            raise DataError(f"{table.path}: data.categorical names '{stray[0]}', which is not a feature column")
    kinds, parsed, refused = {}, {}, []
    for name, position in zip(features, table.positions(features)):
        column = parsed[name] = parse_column(name, [row[position] for row in table.cells], na_values)
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
    return kinds, parsed


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
                        "data.na_values)")
    if no_target.any():
        notes.append(f"left out {count_rows(no_target.sum())} whose target is missing (column "
                     f"{', '.join(repr(t) for t in target)})")
    dropped = np.zeros(n, dtype=bool)
    if impute == "drop":
        for name, kind in kinds.items():
            if kind == "numeric":
                dropped |= _missing_cells(table, name, na_values)
        dropped &= ~no_target
        if dropped.any():
            notes.append(f"left out {count_rows(dropped.sum())} with a missing number (data.impute: drop)")
    keep = np.flatnonzero(~(no_target | dropped))
    if not len(keep):
        raise DataError(f"{table.path}: every row has a missing number, so data.impute: drop leaves no row; "
                        "use data.impute: median")
    return keep, notes


def count_rows(count) -> str:
    return f"{int(count)} row" + ("" if count == 1 else "s")


def _read_kept(table: Table, keep: np.ndarray, kinds: dict[str, str], na_values: Sequence[str],
               target: Sequence[str], task: str, classes: tuple | None, loss: str, weight_column: str | None,
               parsed: dict[str, ParsedColumn] | None = None, targets_present: bool = True) -> Rows:
    """The kept rows of a table as Rows (targets read when ``targets_present``); ``parsed``: columns
    parsed already, over every row of the table."""
    table = Table(table.path, table.columns, [table.cells[i] for i in keep], [table.lines[i] for i in keep])
    numeric = tuple(name for name, kind in kinds.items() if kind == "numeric")
    numbers = np.empty((len(table.cells), len(numeric)))
    slot = {name: j for j, name in enumerate(numeric)}  # dicts: linear in the column count
    position = {name: i for i, name in enumerate(table.columns)}
    texts = {}
    for name, kind in kinds.items():
        if parsed is not None and name in parsed:
            column = parsed[name].take(keep)
        else:
            column = parse_column(name, [row[position[name]] for row in table.cells], na_values)
        if kind == CATEGORICAL:
            texts[name] = column.categories()
            continue
        if column.text.any():
            row = int(np.flatnonzero(column.text)[0])
            raise DataError(f"{table.path}: line {table.lines[row]}, column '{name}': "
                            f"{why_not_a_number(column.cells[row], na_values)}")
        numbers[:, slot[name]] = column.values
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
            rows.notes.append(f"metrics over the {count_rows(len(scored))} with a target; "
                              f"{count_rows(len(table.cells) - len(scored))} without one")
    return rows


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
    found = model_inputs(preprocessor, rows, lambda row: f"{path}: line {rows.line(row)}")
    note = next((text for text in rows.notes if text.startswith("no metrics: ")), None)
    notes = [text for text in rows.notes if text != note] + unknown_notes(found, str(path),
                                                                            lambda r: f"line {rows.line(r)}")
    return ModelRows(found.X, rows.y, rows.ignored, note, notes, rows.y_rows)


def model_inputs(preprocessor: Preprocessor, rows: Rows, where: Callable[[int], str]) -> Transformed:
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


def unknown_notes(found: Transformed, where: str, place: Callable[[int], str]) -> list[str]:
    """One note per column with values training never saw: how many rows, and the first."""
    notes = []
    for name, u in found.unknown.items():
        first = "an empty cell" if u.first_value == MISSING_SLOT else f"'{shown_cell(u.first_value)}'"
        notes.append(f"{where}: column '{name}': {count_rows(u.count)} with a value not seen in training "
                     f"({first} first, {place(u.first_row)}): the column's one-hot inputs are all zero there")
    return notes


def shown_cell(text: str) -> str:
    """A cell's text for a one-line message: line breaks written as \\n."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def describe_file(path: str | Path, target: Sequence[str] = ()) -> list[ColumnReport]:
    """``nnctl data describe``: each column of a CSV file, and what ``features: all`` does with it."""
    table = csvdata.read_table(path)
    csvdata.require_columns(table, tuple(target))
    reports = []
    for position, name in enumerate(table.columns):
        column = parse_column(name, [row[position] for row in table.cells], DEFAULT_NA_VALUES)
        reports.append(describe_column(column, target, na_values=DEFAULT_NA_VALUES, lines=table.lines))
    return reports
