"""Cells -> typed columns: which feature column holds numbers and which holds categories.

Pure: strings in, arrays and decisions out; no I/O.  A cell is one of

    missing   its text is one of data.na_values ("", "NA", "?", ...)
    a number  float(text) is a finite number ("3", "-0.5", "1e3")
    text      anything else ("female", "1,234", "inf")

and a feature column is

    numeric      every cell that is not missing is a number
    categorical  listed under data.categorical; or, with ``categorical: auto``, more
                 than half of the cells that are not missing are text

A column that is mostly numbers with a few text cells is neither: its first text
cell is refused with the line and column (a typo, most often), and the message
says how to read the column as categories instead.  A text column whose values
are mostly distinct (an identifier or a name), or that are numbers written with
a currency sign, % or thousands separators, or dates, is refused rather than
one-hot encoded into hundreds of inputs, unless it is listed under
data.categorical; the message says what to do instead.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

NUMERIC, CATEGORICAL = "numeric", "categorical"
AUTO = "auto"
DEFAULT_NA_VALUES = ("", "NA", "N/A", "NaN", "nan", "null", "None", "?")

LOOKS_LIKE_SHARE = 0.9  # text cells that must look like formatted numbers or dates for the column to
_LOOKS_LIKE = (
    (re.compile(r"[-+(]?[$€£¥]?\s?[-+]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?\)?\s?(%|[$€£¥])?"),
     "is a number written with a currency sign, a % or thousands separators, which nnctl does not read as a "
     "number: write plain numbers (1234.5) in the file, or list the column under data.categorical"),
    (re.compile(r"\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?Z?|\d{1,2}/\d{1,2}/\d{2,4}"),
     "looks like a date: add the column to data.exclude, or turn it into numbers in the file (a year, a "
     "month, a day of the week), or list the column under data.categorical"),
)
IDENTIFIER_MIN_DISTINCT = 20  # fewer distinct values never look like an identifier
IDENTIFIER_SHARE = 0.5  # distinct values / cells at or above which a text column looks like one (names repeat)


@dataclass(frozen=True, eq=False)
class ParsedColumn:
    """One column's cells, sorted into numbers, missing cells and text."""

    name: str
    cells: Sequence[str | None]  # as written (stripped); None: a value given as missing (the Python API)
    values: np.ndarray  # (n,) float64: each cell's number; NaN where missing or text
    missing: np.ndarray  # (n,) bool
    text: np.ndarray  # (n,) bool: neither a number nor missing

    def take(self, rows: np.ndarray) -> ParsedColumn:
        """The column of these rows only."""
        return ParsedColumn(self.name, [self.cells[i] for i in rows], self.values[rows], self.missing[rows],
                            self.text[rows])

    def categories(self) -> np.ndarray:
        """(n,) object array: each cell's text, None where missing."""
        out = np.array(self.cells, dtype=object)
        out[self.missing] = None
        return out


def parse_number(text: str) -> float | None:
    """``float(text)``, or None when the text is not a number at all."""
    try:
        return float(text)
    except ValueError:
        return None


def parse_column(name: str, cells: Sequence[str], na_values: Sequence[str]) -> ParsedColumn:
    """Sort each cell of a column into a number, a missing cell or text."""
    markers = frozenset(na_values)
    n = len(cells)
    values = np.full(n, np.nan)
    missing = np.zeros(n, dtype=bool)
    text = np.zeros(n, dtype=bool)
    for i, cell in enumerate(cells):
        if cell is None or cell in markers:
            missing[i] = True
            continue
        number = parse_number(cell)
        if number is None or not math.isfinite(number):
            text[i] = True
        else:
            values[i] = number
    return ParsedColumn(name, cells, values, missing, text)


@dataclass(frozen=True)
class ColumnPlan:
    """What preparation does with one feature column, or why it refuses it."""

    name: str
    kind: str | None  # NUMERIC or CATEGORICAL; None when refused
    problem: str = ""  # why the column is refused (finishes "column 'x': ...")
    row: int | None = None  # the row the problem is at, when it is one cell


def plan_column(column: ParsedColumn, categorical: str | Sequence[str], na_values: Sequence[str]) -> ColumnPlan:
    """The kind of a feature column under ``data.categorical`` (``auto`` or a list of names)."""
    name = column.name
    listed = categorical != AUTO and name in categorical
    present = int(len(column.cells) - column.missing.sum())
    if present == 0:
        return ColumnPlan(name, None, "every cell is missing; add the column to data.exclude")
    if listed:
        return ColumnPlan(name, CATEGORICAL)
    n_text = int(column.text.sum())
    if n_text == 0:
        return ColumnPlan(name, NUMERIC)
    row = int(np.flatnonzero(column.text)[0])
    why = why_not_a_number(column.cells[row], na_values)
    if categorical != AUTO:
        return ColumnPlan(name, None, f"{why}; list the column under data.categorical to one-hot encode it, "
                          "or add it to data.exclude", row)
    if n_text * 2 <= present:
        others = present - n_text
        if parse_number(column.cells[row]) is not None:  # inf, 1e999: a number nnctl cannot use
            return ColumnPlan(name, None, f"{why} (the column's other {others} cells are numbers); fix the cell, "
                              f"or add '{column.cells[row]}' to data.na_values to read it as a missing value", row)
        return ColumnPlan(name, None, f"{why} (the column's other {others} cells are numbers); fix the cell, or "
                          "list the column under data.categorical to read it as categories", row)
    texts = Counter(column.categories()[column.text])  # each distinct text once, with its count
    for pattern, what in _LOOKS_LIKE:
        matching = sum(count for text, count in texts.items() if pattern.fullmatch(text))
        if matching >= LOOKS_LIKE_SHARE * n_text:
            row = int(np.flatnonzero(column.text)[0])
            return ColumnPlan(name, None, f"'{column.cells[row]}' {what}", row)
    distinct = len(set(column.categories()[~column.missing]))
    if distinct >= IDENTIFIER_MIN_DISTINCT and distinct >= IDENTIFIER_SHARE * present:
        return ColumnPlan(name, None, f"holds {distinct} distinct values in {present} rows, like an identifier "
                          "or a name; add it to data.exclude (or list it under data.categorical to one-hot "
                          "encode it anyway)")
    return ColumnPlan(name, CATEGORICAL)


def why_not_a_number(text: str, na_values: Sequence[str] = ()) -> str:
    """Why a cell is not a usable number, in the words every message uses."""
    value = parse_number(text)
    if not text:
        return "the cell is empty; a number is needed"
    if text.lower() in {marker.lower() for marker in (*DEFAULT_NA_VALUES, *na_values) if marker}:
        return f"'{text}' is a missing value; fill it in or drop the row"
    if value is None:
        return f"'{text}' is not a number"
    if math.isnan(value):
        return f"'{text}' is a missing value; fill it in or drop the row"
    if text.lower().lstrip("+-") in ("inf", "infinity"):
        return f"'{text}' is not a finite number"
    return f"'{text}' is too large (it overflows to infinity)"


def top_categories(values: np.ndarray, k: int) -> list[tuple[str, int]]:
    """The ``k`` most frequent values (None excluded) with their counts, ties in sorted order."""
    counts = Counter(value for value in values if value is not None)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:k]


def cells_of(values) -> list[str | None]:
    """A column of Python, NumPy or pandas values as the cells a CSV file would hold: None for a
    missing value (None, NaN, NaT, pandas' NA), a whole float as a whole number ('3' for 3.0, as
    pandas reads an integer column with gaps), anything else as its text."""
    cells: list[str | None] = []
    for value in values:
        if _is_missing(value):
            cells.append(None)
        elif isinstance(value, (float, np.floating)) and float(value).is_integer():
            cells.append(str(int(value)))
        else:
            cells.append(str(value).strip())
    return cells


def _is_missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return False
    try:
        return bool(value != value)  # NaN, NaT
    except (TypeError, ValueError):  # pandas.NA compares to NA, whose truth is undefined
        return True


def is_table(X) -> bool:
    """Whether ``X`` holds named columns (a dict of columns, a pandas DataFrame) rather than a matrix."""
    return isinstance(X, Mapping) or (hasattr(X, "columns") and hasattr(X, "keys") and hasattr(X, "__getitem__"))
