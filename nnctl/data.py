"""CSV files in and out: cells, numbers, feature names and classes.

An adapter around the pure-NumPy core: it reads and writes files, never prints,
and reports every problem with the input as one ``DataError`` line that names
the file, the physical line (1-based, the header is line 1) and the column:

    data/x.csv: line 17, column 'x2': 'abc' is not a number

Plain files (unquoted, UTF-8, rectangular, finite numbers) are parsed in bulk by
np.loadtxt; anything else by the csv module, which also words every message
(see "the fast path" below).

Shapes: ``X`` is ``(n_samples, n_features)`` float64; ``y`` is ``(n_samples,)``
int64 class indices for classification, ``(n_samples, n_targets)`` float64 for
regression.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import itertools
import math
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

import numpy as np

from nnctl.errors import DataError, MissingColumn
from nnctl.files import atomic_write, input_problem
from nnctl.prep.columns import DEFAULT_NA_VALUES, why_not_a_number
from nnctl.prep.columns import parse_number as _parse_number
from nnctl.prep.transforms import all_finite

TASKS = ("classification", "regression")
MAX_CLASSES_FREE = 10  # up to this many classes are never too many; above, at most one class per two rows
MAX_NUMBER_CLASSES = 20  # numbers as labels: above this many, at most one class per ten rows (else: a quantity)

# Cells that spreadsheets and pandas write for "no value".  They are reported as
# missing values rather than as text, in features and in class labels alike.
MISSING_MARKERS = frozenset(marker.lower() for marker in DEFAULT_NA_VALUES if marker)


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Table:
    """A CSV file as stripped strings, with the physical line of every data row."""

    path: Path
    columns: tuple[str, ...]  # header names, stripped of surrounding whitespace
    cells: list[list[str]]  # data rows, cells as strings (stripped)
    lines: list[int]  # physical line number of each data row (for messages)

    def positions(self, names: Sequence[str]) -> list[int]:
        """Where the named columns are (one pass over the header: linear in the column count)."""
        where = {name: i for i, name in enumerate(self.columns)}
        return [where[name] for name in names]


def read_table(path: str | Path) -> Table:
    """Read a UTF-8 CSV file (BOM, CRLF, quotes and blank lines allowed).

    A trailing delimiter on the header (an empty last column name) drops that
    column; data rows may then carry one extra, empty, last cell.
    """
    path = Path(path)
    text = _decode(path, _read_bytes(path))
    rows = _parse_rows(path, text)
    if not rows:
        raise DataError(f"{path}: the file is empty")
    header_line, header = rows[0]
    columns = _check_header(path, header_line, [name.strip() for name in header])
    trailing = len(header) > len(columns)  # the header ended with a delimiter
    if len(rows) == 1:
        raise DataError(f"{path}: line {header_line}: the file has a header but no data rows")

    cells, lines = [], []
    for line, row in rows[1:]:
        if trailing and len(row) == len(columns) + 1 and not row[-1].strip():
            row = row[:-1]
        if len(row) != len(columns):
            header = f"{len(columns)} column" + ("" if len(columns) == 1 else "s")
            message = f"{path}: line {line}: {len(row)} cells, but the header has {header}"
            delimiter = _other_delimiter(columns)
            if delimiter:
                message += f"; {_delimiter_hint(delimiter)}"
            raise DataError(message)
        cells.append([cell.strip() for cell in row])
        lines.append(line)
    return Table(path, columns, cells, lines)


def _read_bytes(path: Path) -> bytes:
    problem = input_problem(path, "CSV file")
    if problem is not None:
        raise DataError(f"{path}: {problem}")
    try:
        return path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot read the file ({error.strerror or error})") from None


def _decode(path: Path, raw: bytes) -> str:
    """UTF-8 text without its BOM; binary and UTF-16 files are refused."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DataError(f"{path}: the file is UTF-16 text; save it as UTF-8")
    if b"\x00" in raw:
        raise DataError(f"{path}: does not look like a CSV text file (it contains NUL bytes)")
    raw = raw.removeprefix(codecs.BOM_UTF8)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        byte = raw[error.start]
        raise DataError(
            f"{path}: line {line}: byte 0x{byte:02x} is not valid UTF-8; save the file as UTF-8"
        ) from None


def _parse_rows(path: Path, text: str) -> list[tuple[int, list[str]]]:
    """Non-blank rows, each with the physical line it starts on."""
    # newline="" keeps quoted line breaks inside their field and lets CRLF through to csv.
    # skipinitialspace: in `1, "2"` the quotes still quote, as cells are stripped anyway.
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
    rows = []
    lines_read = 0
    try:
        for row in reader:
            start = lines_read + 1
            lines_read = reader.line_num
            if not _is_blank(row):
                rows.append((start, row))
    except csv.Error as error:
        raise DataError(f"{path}: line {reader.line_num}: {error}") from None
    # Rows can only have been swallowed when the last row spans lines: check just then.
    if rows and _spans_lines(rows[-1][1]) and _ends_inside_quotes(text):
        raise DataError(
            f"{path}: line {rows[-1][0]}: a quoted cell opened on this line is never closed, "
            "so the rest of the file would be read as that one cell; add the closing quote"
        )
    return rows


def _spans_lines(row: list[str]) -> bool:
    return any("\n" in cell or "\r" in cell for cell in row)


def _ends_inside_quotes(text: str) -> bool:
    """Whether the text ends inside a quoted cell.

    The lenient reader above (csv's default) then takes everything up to the end
    of the file as that cell, silently swallowing the rows below.  The strict
    reader says so, but it also refuses ``"a" ,b``, which the lenient one reads
    as it should; so it only answers this one question.
    """
    try:
        for _ in csv.reader(io.StringIO(text, newline=""), skipinitialspace=True, strict=True):
            pass
    except csv.Error as error:
        return "unexpected end of data" in str(error)
    return False


def _is_blank(row: list[str]) -> bool:
    """An empty line, or one holding only spaces (``","`` is a row of empty cells)."""
    return len(row) <= 1 and not "".join(row).strip()


def _check_header(path: Path, line: int, names: list[str]) -> tuple[str, ...]:
    if len(names) > 1 and names[-1] == "":
        names = names[:-1]  # "a,b," - a trailing delimiter, not a column
    where = f"{path}: line {line}"
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if not name:
            raise DataError(f"{where}: column {position} has an empty name")
        if name in seen:
            raise DataError(
                f"{where}: column '{name}' appears twice (columns {seen[name]} and {position})"
            )
        seen[name] = position
    return tuple(names)


# --------------------------------------------------------------------------- data sets


@dataclass(frozen=True, eq=False)
class Dataset:
    """Raw (not standardised) arrays and the names needed to read them back."""

    X: np.ndarray  # (n_samples, n_features) float64; from the fast path, often a view of a wider array;
    #                from the API, the caller's array as given (any numeric dtype, not copied)
    y: np.ndarray  # classification: (n_samples,) int64 indices into `classes`;
    #                regression: (n_samples, n_targets) float64
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]
    classes: tuple | None  # sorted original labels (ints if all are integers); None for regression
    task: str  # "classification" or "regression"
    weights: np.ndarray | None = None  # (n_samples,) per-row weights from the sample-weight column


def load_dataset(
    path: str | Path,
    target: tuple[str, ...],
    features: tuple[str, ...] | None,
    task: str,
    loss_name: str = "",
    classes: tuple | None = None,
    weight_column: str | None = None,
) -> Dataset:
    """Load a training (or evaluation) set.

    ``features=None`` takes every column that is not a target (nor the weight
    column), in file order.  ``classes`` (from a checkpoint) maps labels onto
    known classes instead of collecting them from the file.  ``weight_column``
    holds per-row weights: finite numbers >= 0.

    A plain file goes through the fast path (see ``_open_plain``); anything else,
    and every file with a problem, through the careful reader below.
    """
    check_task(task)
    target, features = tuple(target), None if features is None else tuple(features)
    dataset = load_plain_dataset(Path(path), target, features, task, loss_name, classes, weight_column)
    if dataset is not None:
        return dataset

    table = read_table(path)
    check_targets(table, target)
    weights = None
    if weight_column is not None:
        require_columns(table, (weight_column,))
        weights = numbers_of(table, (weight_column,))[:, 0]
        negative = np.flatnonzero(weights < 0)
        if len(negative):
            raise DataError(f"{table.path}: line {table.lines[negative[0]]}, column '{weight_column}': "
                            f"a weight must be >= 0, got {weights[negative[0]]:g}")
    features = feature_columns(table, target, features, weight_column)
    X = numbers_of(table, features)
    if task == "regression":
        return Dataset(X, numbers_of(table, target), features, target, None, task, weights)
    y, classes = labels_of(table, target, loss_name, classes)
    return Dataset(X, y, features, target, classes, task, weights)


def check_targets(table: Table, target: tuple[str, ...]) -> None:
    if not target:
        raise DataError(f"{table.path}: no target column given")
    require_columns(table, target)


def feature_columns(
    table: Table, target: tuple[str, ...], features: tuple[str, ...] | None, weight_column: str | None,
    exclude: tuple[str, ...] = (),
) -> tuple[str, ...]:
    """The feature names: those given (they must exist), or every column but targets, weights
    and the ``exclude``d ones (which must exist)."""
    require_columns(table, exclude)
    if features is None:
        left_out = {*target, weight_column, *exclude}
        features = tuple(name for name in table.columns if name not in left_out)
    else:
        require_columns(table, features)
    if not features:
        taken = "the targets" + (" and data.exclude" if exclude else "")
        raise DataError(f"{table.path}: no feature columns left once {taken} are taken out")
    both = [name for name in features if name in target]
    if both:
        raise DataError(f"{table.path}: column '{both[0]}' is both a feature and a target")
    return features


def load_features(
    path: str | Path,
    feature_names: tuple[str, ...],
    target_names: tuple[str, ...],
    task: str,
    classes: tuple | None,
) -> tuple[np.ndarray, np.ndarray | None, tuple[str, ...], str | None]:
    """Load a file for prediction: columns are matched by name, in any order.

    Returns ``(X, y, ignored, note)``: ``X`` in the order of ``feature_names``;
    ``y`` when every target column is present and usable, else None; the names
    of the columns that are neither features nor targets; and, when the target
    column is there but cannot be scored (an empty cell, a class never seen in
    training), a note saying why: the predictions are still made.
    """
    check_task(task)
    feature_names, target_names = tuple(feature_names), tuple(target_names)
    loaded = load_plain_features(Path(path), feature_names, target_names, task, classes)
    if loaded is not None:
        return loaded

    table = read_table(path)
    require_features(table, feature_names)
    X = numbers_of(table, feature_names)
    y, note = None, None
    if scored(table.columns, target_names):
        try:
            if task == "regression":
                y = numbers_of(table, target_names)
            else:
                y, _ = labels_of(table, target_names, "", classes)
        except DataError as error:
            note = f"no metrics: {error}"
    return X, y, ignored_columns(table.columns, feature_names, target_names), note


def require_features(table: Table, names: Sequence[str]) -> None:
    """Every column a model reads must be in a file given to it for predictions."""
    missing = [name for name in names if name not in table.columns]
    if missing:
        delimiter = _other_delimiter(table.columns)
        raise DataError(
            f"{table.path}: missing feature column(s) the model was trained on: {', '.join(missing)}; "
            + (_delimiter_hint(delimiter) if delimiter else f"columns are: {', '.join(table.columns)}")
        )


def scored(columns: Sequence[str], target_names: Sequence[str]) -> bool:
    """Whether a prediction file holds every target column, so that it can be scored."""
    return bool(target_names) and all(name in columns for name in target_names)


def ignored_columns(columns: Sequence[str], feature_names: Sequence[str], target_names: Sequence[str]) -> tuple[str, ...]:
    known = set(feature_names) | set(target_names)
    return tuple(name for name in columns if name not in known)


def check_task(task: str) -> None:
    if task not in TASKS:  # the config is validated first, so this is a bug
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")


OTHER_DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "bars"}


def require_columns(table: Table, names: tuple[str, ...]) -> None:
    for name in names:
        if name not in table.columns:
            message = f"{table.path}: column '{name}' not found"
            delimiter = _other_delimiter(table.columns)
            if delimiter:
                raise MissingColumn(f"{message}; {_delimiter_hint(delimiter)}", name)
            message += f"; columns are: {', '.join(table.columns)}"
            close = difflib.get_close_matches(name, table.columns, n=1)
            if close:
                message += f"; did you mean '{close[0]}'?"
            raise MissingColumn(message, name)


def _other_delimiter(columns: Sequence[str]) -> str | None:
    """The name of another delimiter when the whole header came out as one column holding it."""
    if len(columns) != 1:
        return None
    return next((word for char, word in OTHER_DELIMITERS.items() if char in columns[0]), None)


def _delimiter_hint(delimiter: str) -> str:
    return (f"the header seems to separate its names with {delimiter}, "
            "but nnctl reads comma-separated files: save the file with commas")


def numbers_of(table: Table, names: tuple[str, ...]) -> np.ndarray:
    """The named columns as a (n_rows, len(names)) float64 array of finite numbers."""
    positions = table.positions(names)
    out = np.empty((len(table.cells), len(names)), dtype=np.float64)
    for i, (row, line) in enumerate(zip(table.cells, table.lines)):
        for j, (name, position) in enumerate(zip(names, positions)):
            text = row[position]
            value = _parse_number(text)
            if value is None or not math.isfinite(value):
                where = f"{table.path}: line {line}, column '{name}'"
                raise DataError(f"{where}: {why_not_a_number(text)}")
            out[i, j] = value
    return out


def labels_of(
    table: Table, target: tuple[str, ...], loss_name: str, classes: tuple | None
) -> tuple[np.ndarray, tuple]:
    """Class indices (n_rows,) int64 and the sorted classes they index."""
    if len(target) != 1:
        raise DataError(
            f"{table.path}: a classifier takes exactly one target column, "
            f"but {len(target)} were given: {', '.join(target)}"
        )
    name = target[0]
    position = table.columns.index(name)
    labels = [row[position] for row in table.cells]
    for label, line in zip(labels, table.lines):
        if not label or label.lower() in MISSING_MARKERS:
            what = "the label is empty" if not label else f"'{label}' is a missing label"
            raise DataError(f"{table.path}: line {line}, column '{name}': {what}")

    if classes is None:
        values = _as_integers(labels)
        continuous = _all_numbers(labels) and any(_as_integer(label) is None for label in labels)
        if continuous:
            needs = f"loss: {loss_name}" if loss_name else "a classifier"
            raise DataError(
                f"{table.path}: column '{name}' holds continuous values, but {needs} "
                "needs class labels; use loss: mse or mae for regression"
            )
        values = labels if values is None else values
        classes = tuple(sorted(set(values)))
        numbers = _all_numbers(labels)
        decimals = numbers and any("." in label or "e" in label.lower() for label in labels)  # 12.0: a quantity
        if len(classes) > max(MAX_CLASSES_FREE, len(labels) / 2) or (numbers and (
                len(classes) > max(MAX_NUMBER_CLASSES, len(labels) / 10)
                or (decimals and len(classes) > MAX_NUMBER_CLASSES))):
            needs = f"loss: {loss_name}" if loss_name else "a classifier"
            hint = ("use loss: mse or mae to predict it as a number (if they are class codes, write them "
                    "as text, e.g. c17)" if numbers else "is it an identifier or a name?")
            raise DataError(f"{table.path}: column '{name}' holds {len(classes)} distinct values in {len(labels)} "
                            f"rows, too many to be classes for {needs}; {hint}")
        if len(classes) < 2:
            raise DataError(
                f"{table.path}: column '{name}' has a single class ({classes[0]}); "
                "a classifier needs at least two"
            )
        index = {label: i for i, label in enumerate(classes)}
        return np.array([index[v] for v in values], dtype=np.int64), classes

    return _map_onto(table, name, labels, tuple(classes)), tuple(classes)


def _map_onto(table: Table, name: str, labels: list[str], classes: tuple) -> np.ndarray:
    """Indices of ``labels`` in the known ``classes``; an unseen label is an error."""
    index = {label: i for i, label in enumerate(classes)}
    integer_classes = all(isinstance(c, (int, np.integer)) for c in classes)
    y = np.empty(len(labels), dtype=np.int64)
    for i, (label, line) in enumerate(zip(labels, table.lines)):
        key = _as_integer(label) if integer_classes else label
        if key not in index:
            raise DataError(
                f"{table.path}: line {line}, column '{name}': class '{label}' was not seen "
                f"in training; known classes: {', '.join(str(c) for c in classes)}"
            )
        y[i] = index[key]
    return y


_CANONICAL_INT = re.compile(r"-?(0|[1-9][0-9]*)")


def _as_integer(text: str) -> int | None:
    """``"3"``, ``"03"`` and ``"3.0"`` are the integer 3; anything else is None."""
    value = _parse_number(text)
    if value is None or not math.isfinite(value) or not value.is_integer():
        return None
    return int(value)


def _as_integers(labels: list[str]) -> list[int] | None:
    """The labels as ints when every one is written as an int ("3", "-1"); else None.

    "03" or "3.0" stay text, so a label comes back from a prediction exactly
    as it was written in the training file.
    """
    if not all(_CANONICAL_INT.fullmatch(label) for label in labels):
        return None
    return [int(label) for label in labels]


def _all_numbers(labels: list[str]) -> bool:
    values = [_parse_number(label) for label in labels]
    return all(value is not None and math.isfinite(value) for value in values)


# --------------------------------------------------------------------------- the fast path
#
# Most data files are plain: UTF-8 text, a header line, then rows of unquoted
# cells, each row as long as the header.  On such a file the careful reader spends
# almost all its time making one Python string per cell and calling float() on
# it (100,000 rows x 51 columns: about 3.5 s and 600 MB).  The fast path hands
# the rows to np.loadtxt's C parser instead, which converts each cell with the
# same correctly rounded CPython routine as float(), so the arrays, names and
# classes are the careful path's, bit for bit, in about the time and memory
# np.loadtxt takes on its own (benchmarks/csv_load.py: ~0.45 s, ~80 MB; the few
# percent more are the checks below).  tests/test_data_speed.py holds the two
# paths equal.
#
# The fast path never reports a problem.  Whatever it cannot vouch for (a quote,
# a NUL byte, a line longer than csv's field limit, bad UTF-8, a blank line after
# the header, a ragged row, a cell that is not a finite number, a missing column,
# a label the class rules refuse ...) raises _NotPlain or DataError inside it,
# and the caller reads the file again with read_table, which reports the problem
# at its line and column.  So a file that is not plain costs one abandoned read.


_PLAIN_CHUNK = 1 << 17  # bytes decoded at a time (128 KiB)
_UNPACKED = (".gz", ".bz2", ".xz", ".lzma", ".zip")  # np.loadtxt would unpack such a file given its path


class _NotPlain(Exception):
    """The file needs the careful reader."""


class _PlainBytes(io.BufferedIOBase):
    """A binary file that stops, with ``_NotPlain``, at bytes only the csv module reads right.

    Quotes (a quoted cell may hold commas, line breaks or an unclosed quote), NUL
    bytes (the careful reader refuses the file) and cells longer than csv's field
    limit (it refuses the cell).  It reads at most ``limit`` bytes at a time.  Lines
    are checked cheaply: a line no longer than the limit holds no cell longer than it
    (``_run`` counts the bytes since the last LF).  Only a longer line (a header of
    200,000 names, say) has its cells measured, chunk by chunk (``_cell_run``, the bytes
    since the last comma or line end, kept at the end of every chunk), so a wide file
    stays on the fast path, in time linear in its size.  (A lone CR also ends a line,
    so a long file with CR line ends only is refused: cautious, and rare.)
    """

    def __init__(self, raw: BinaryIO, limit: int):
        self._raw, self._limit, self._run, self._cell_run = raw, limit, 0, 0

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()
        super().close()

    def read1(self, size: int = -1) -> bytes:
        chunk = self._raw.read(min(size, self._limit) if size > 0 else self._limit)
        if b'"' in chunk or b"\0" in chunk:
            raise _NotPlain
        first = chunk.find(b"\n")
        long_line = (self._run + (len(chunk) if first < 0 else first) > self._limit
                     or len(chunk) - chunk.rfind(b"\n") - 1 > self._limit)
        if long_line and self._longest_cell(chunk) > self._limit:
            raise _NotPlain
        self._run = self._run + len(chunk) if first < 0 else len(chunk) - chunk.rfind(b"\n") - 1
        last = max(chunk.rfind(b","), chunk.rfind(b"\n"), chunk.rfind(b"\r"))
        self._cell_run = self._cell_run + len(chunk) if last < 0 else len(chunk) - last - 1
        return chunk

    def _longest_cell(self, chunk: bytes) -> int:
        """The longest run of bytes between commas and line ends that this chunk ends or holds."""
        data = np.frombuffer(chunk, dtype=np.uint8)
        ends = np.flatnonzero((data == ord(",")) | (data == ord("\n")) | (data == ord("\r")))
        if not len(ends):
            return self._cell_run + len(chunk)
        inner = int(np.diff(ends).max()) - 1 if len(ends) > 1 else 0
        return max(self._cell_run + int(ends[0]), inner, len(chunk) - int(ends[-1]) - 1)

    read = read1


@contextmanager
def _open_plain(path: Path) -> Iterator[_PlainFile]:
    """Open a file for the fast path and read its header; ``_NotPlain`` or ``DataError`` if it is not plain."""
    if input_problem(path) is not None:  # before open(): opening a FIFO would wait for a writer
        raise _NotPlain
    try:
        raw = open(path, "rb", buffering=0)
    except OSError:
        raise _NotPlain from None  # missing, a directory, unreadable: the careful reader says which
    # newline=None: universal newlines, so lines break where csv breaks rows (LF, CRLF and a
    # lone CR).  Not "utf-8-sig", whose decoder is Python code: the BOM is dropped below.
    with io.TextIOWrapper(_PlainBytes(raw, csv.field_size_limit()), encoding="utf-8", newline=None) as text:
        text._CHUNK_SIZE = _PLAIN_CHUNK  # fewer, larger reads than the default 8 KiB
        yield _PlainFile(path, text)


class _PlainFile:
    """A plain CSV file, open: the header is read, the rows are read by ``rows``."""

    def __init__(self, path: Path, text: TextIO):
        self._path, self._text = path, text
        header = self._read_line().removeprefix(codecs.BOM_UTF8.decode())
        self.header = Table(path, _plain_columns(path, header), [], [])  # no rows

    def _read_line(self) -> str:
        try:
            return self._text.readline()
        except UnicodeDecodeError:
            raise _NotPlain from None

    def rows(self, numeric: Sequence[str], label: str | None) -> _PlainRows:
        """Every row, parsed: the ``numeric`` columns as floats, the ``label`` column as text.

        Other columns are read only to keep the check that every row is as long
        as the header (np.loadtxt makes it when it reads every column).
        """
        columns = self.header.columns
        if label in numeric:
            raise _NotPlain  # e.g. the label is also the weight column: one parse per column here
        first = self._read_line()
        if not first.strip():
            raise _NotPlain  # no rows, or a blank line first: the careful reader refuses or skips it
        codes: dict[str, int] = defaultdict(itertools.count().__next__)  # label cell -> code, first seen first
        numeric_names = set(numeric)  # a set: one lookup per column, linear in the column count
        converters: dict[int, Callable[[str], int]] = {i: len for i, name in enumerate(columns)
                                                       if name not in numeric_names}
        if label is not None:
            converters[columns.index(label)] = codes.__getitem__
        if self._path.suffix.lower() in _UNPACKED:
            rows: str | Iterator[str] = itertools.chain([first], self._text)
        else:
            # The rest of the bytes through _PlainBytes's checks (quotes, NULs, long lines), not
            # decoded; then np.loadtxt reads the file itself, in large blocks (a path, not lines
            # from Python: ~5% less work in all), and decodes it (strictly: bad UTF-8 is a ValueError).
            while self._text.buffer.read1(_PLAIN_CHUNK):
                pass
            rows = os.path.abspath(self._path)
        if isinstance(rows, str) and label is not None and _short_label(first, len(columns), columns.index(label)):
            del converters[columns.index(label)]
            parsed = _parse_short_labels(rows, converters, len(columns), columns.index(label))
            if parsed is not None:
                return _PlainRows(self.header, *parsed)
            converters[columns.index(label)] = codes.__getitem__
        try:
            values = np.loadtxt(rows, dtype=np.float64, delimiter=",", comments=None, quotechar=None, ndmin=2,
                                converters=converters, skiprows=0 if isinstance(rows, Iterator) else 1,
                                encoding="utf-8")
        except ValueError:  # a cell that is not a number, a ragged row, bad UTF-8
            raise _NotPlain from None
        if values.shape[1] != len(columns):
            raise _NotPlain  # every row is one cell longer or shorter than the header
        if not all_finite(values):  # (label codes and the other cells' lengths always are)
            raise _NotPlain  # NaN, inf or an overflow: the careful reader names the cell
        return _PlainRows(self.header, values, tuple(codes))


def _short_label(line: str, n_columns: int, position: int) -> bool:
    """Whether the label cell on a row's line has at most 7 characters, all Latin-1."""
    cells = line.rstrip("\n").split(",")
    return len(cells) == n_columns and len(cells[position]) < 8 and max(cells[position], default="\0") < "\u0100"


def _parse_short_labels(
    path: str, converters: dict[int, Callable[[str], int]], n_columns: int, position: int
) -> tuple[np.ndarray, tuple[str, ...]] | None:
    """The rows of a plain file whose label cells are short, parsed in C, labels too: the values
    (label codes in the label column, distinct labels in sorted order) and the distinct labels;
    None when a label is too long for the 8 bytes it is read into, or not Latin-1 (or any other
    problem: the caller parses the file again, labels through a converter, and finds it).

    The label column is read as 8-byte strings, in place: each row of the structured result is
    ``n_columns`` slots of 8 bytes, so after the labels are taken out the same memory is the
    (n_rows, n_columns) float64 array, and each label slot takes its code.  No Python call per row.
    """
    dtype = np.dtype([(f"c{i}", "S8" if i == position else "f8") for i in range(n_columns)])
    try:
        rows = np.loadtxt(path, dtype=dtype, delimiter=",", comments=None, quotechar=None, ndmin=1,
                          converters=converters, skiprows=1, encoding="utf-8")
    except ValueError:
        return None
    labels = np.ascontiguousarray(rows[f"c{position}"])  # (n_rows,) S8, a copy: 8 bytes a row
    if labels.view(np.uint8).reshape(-1, 8)[:, 7].any():
        return None  # a label of 8 characters or more: maybe cut
    distinct, codes = np.unique(labels.view(np.uint64), return_inverse=True)
    values = rows.view(np.float64).reshape(len(rows), n_columns)
    values[:, position] = codes.reshape(-1)
    if not all_finite(values):
        raise _NotPlain  # NaN, inf or an overflow: the careful reader names the cell
    return values, tuple(label.decode("latin-1") for label in distinct.view("S8").tolist())


def _plain_columns(path: Path, line: str) -> tuple[str, ...]:
    """The column names on a plain header line, checked as ``read_table`` checks them."""
    if not line.endswith("\n"):
        raise _NotPlain  # no rows below
    names = [name.strip() for name in line[:-1].split(",")]
    if len(names) < 2 or not names[-1]:
        raise _NotPlain  # one column (blank rows would count), or a trailing delimiter
    return _check_header(path, 1, names)


@dataclass(frozen=True, eq=False)
class _PlainRows:
    """The rows of a plain file: a value per cell, numbers as floats, labels as codes."""

    header: Table  # path and columns; no rows
    values: np.ndarray  # (n_rows, n_columns) float64: numbers; label codes; other columns' lengths
    labels: tuple[str, ...]  # the label column's distinct cells, unstripped, indexed by code

    def numbers(self, names: Sequence[str]) -> np.ndarray:
        """The named columns as a (n_rows, len(names)) float64 array (of finite numbers).

        Columns that sit side by side in the file, in order, come back as a view
        (the common case, X), which saves a copy of the largest array.
        """
        positions = self.header.positions(names)
        if positions and positions == list(range(positions[0], positions[0] + len(positions))):
            return self.values[:, positions[0] : positions[0] + len(positions)]
        return self.values[:, positions]

    def classes(self, name: str, loss_name: str, classes: tuple | None) -> tuple[np.ndarray, tuple]:
        """Class indices (n_rows,) int64 and the classes, as ``labels_of`` makes them.

        Its rules only depend on which labels occur, so it runs on a table of the
        distinct labels, and each row then takes its label's index.  (That
        table's line numbers are never shown: an error sends the file to the
        careful reader.)
        """
        distinct = [[label.strip()] for label in self.labels]
        table = Table(self.header.path, (name,), distinct, [0] * len(distinct))
        indices, classes = labels_of(table, (name,), loss_name, classes)
        codes = self.values[:, self.header.columns.index(name)].astype(np.intp)
        return indices[codes], classes


def load_plain_dataset(
    path: Path,
    target: tuple[str, ...],
    features: tuple[str, ...] | None,
    task: str,
    loss_name: str,
    classes: tuple | None,
    weight_column: str | None,
    exclude: tuple[str, ...] = (),
) -> Dataset | None:
    """``load_dataset`` on a plain file; None for any other file, or any problem."""
    try:
        with _open_plain(path) as plain:
            header = plain.header
            check_targets(header, target)
            if weight_column is not None:
                require_columns(header, (weight_column,))
            features = feature_columns(header, target, features, weight_column, exclude)
            if task == "classification" and len(target) != 1:
                raise _NotPlain
            label = target[0] if task == "classification" else None
            numeric = (*features, *(target if label is None else ()), *([weight_column] if weight_column else ()))
            rows = plain.rows(numeric, label)
        weights = None
        if weight_column is not None:
            weights = rows.numbers((weight_column,))[:, 0]
            if (weights < 0).any():
                raise _NotPlain
        X = rows.numbers(features)
        if label is None:
            return Dataset(X, rows.numbers(target), features, target, None, task, weights)
        y, classes = rows.classes(label, loss_name, classes)
        return Dataset(X, y, features, target, classes, task, weights)
    except (_NotPlain, DataError):
        return None


def load_plain_features(
    path: Path, feature_names: tuple[str, ...], target_names: tuple[str, ...], task: str, classes: tuple | None
) -> tuple[np.ndarray, np.ndarray | None, tuple[str, ...], None] | None:
    """``load_features`` on a plain file whose targets, if there, can be scored; else None."""
    try:
        with _open_plain(path) as plain:
            columns = plain.header.columns
            if any(name not in columns for name in feature_names):
                raise _NotPlain
            has_targets = scored(columns, target_names)
            if has_targets and task == "classification" and len(target_names) != 1:
                raise _NotPlain
            label = target_names[0] if has_targets and task == "classification" else None
            numeric = (*feature_names, *(target_names if has_targets and label is None else ()))
            rows = plain.rows(numeric, label)
        X = rows.numbers(feature_names)
        y = None
        if has_targets:
            y = rows.numbers(target_names) if label is None else rows.classes(label, "", classes)[0]
        return X, y, ignored_columns(columns, feature_names, target_names), None
    except (_NotPlain, DataError):
        return None


# --------------------------------------------------------------------------- writing


def write_csv(path: str | Path, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
    """Write a CSV file atomically: the old file stays intact if anything fails.

    Floats are written as ``repr(float(x))``, the shortest text that reads back
    to the same float64 bit for bit (round values first for short output).
    """
    def write(stream) -> None:
        text = io.TextIOWrapper(stream, encoding="utf-8", newline="", write_through=True)
        write_csv_to(text, columns, rows)
        text.flush()
        text.detach()

    atomic_write(path, write)


def write_csv_to(stream: TextIO, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
    """Write a header and rows to an open text stream (a file or stdout), LF line ends."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        if len(row) != len(columns):
            raise ValueError(f"a row has {len(row)} cells, but there are {len(columns)} columns")
        writer.writerow([_format_cell(value) for value in row])


def _format_cell(value: object) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if value is None:  # a figure that does not apply (val_mse of a classifier): an empty cell
        return ""
    return str(value)
