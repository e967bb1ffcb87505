"""The fitted preprocessor: raw columns -> the network's inputs, and its targets back to their units.

Learned from the training rows only, stored in the checkpoint's JSON metadata
(``to_meta``/``from_meta``) and applied unchanged by predict, evaluate, boundary
and the Python API.  Pure: arrays in, arrays out; no I/O.

The inputs, in this order:

    numeric columns     x, with a missing cell replaced by the column's fill value
                        (the training rows' median, mean, or 0)
    missing indicators  1 where the numeric column's cell was missing, else 0
                        (data.missing_indicators, for columns with missing training cells)
    one-hot slots       per categorical column, 1 in the slot of the row's category:
                        the categories seen in training (sorted), then '(missing)'
                        when training rows had missing cells, then '(other)' for the
                        rarest values when there were more than data.max_categories

A value outside a column's slots at predict time sets none of them (all zeros)
under ``unknown_category: ignore``, and is counted; a column with an '(other)'
slot sends it there.  Only numeric inputs are standardised afterwards
(``standardized``); 0/1 inputs are left as they are.

Regression targets are z-scored for training, ``t = (y - mean) / scale``, and
the network's outputs mapped back, ``y_hat = z * scale + mean``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from nnctl.prep.columns import DEFAULT_NA_VALUES, top_categories
from nnctl.prep.transforms import Scaler, all_finite, numeric_array

IMPUTE = ("median", "mean", "zero", "drop")
UNKNOWN_CATEGORY = ("ignore", "error")
MISSING_SLOT, OTHER_SLOT = "(missing)", "(other)"
_FILL_COLUMNS = 4  # numeric columns whose fill values are computed at a time (bounds the copy; the sums of
# means add up in an order that depends on it, so it stays as the fill values were first computed)
_MEDIAN_COLUMNS = 64  # columns whose medians are computed at a time (the order of a median's values does not
_MEDIAN_VALUES = 1 << 20  # matter), and at most this many values (4 MiB in float32) at a time, or one column
_TILE_ROWS = 1024  # rows transposed at a time when the medians' columns are copied: a tile stays in cache


@dataclass(frozen=True)
class NumericColumn:
    name: str
    fill: float | None = None  # put into missing cells; None: a missing cell is refused (impute: drop)
    indicator: bool = False  # followed by a 0/1 "was missing" input

    @property
    def indicator_name(self) -> str:
        return f"{self.name} (missing)"


@dataclass(frozen=True)
class CategoricalColumn:
    name: str
    categories: tuple[str, ...]  # one input each, in this order
    missing: bool = False  # a '(missing)' slot after them
    other: bool = False  # an '(other)' slot last: the values left out of ``categories``

    @property
    def slots(self) -> tuple[str, ...]:
        return (*self.categories, *((MISSING_SLOT,) if self.missing else ()), *((OTHER_SLOT,) if self.other else ()))

    @property
    def input_names(self) -> tuple[str, ...]:
        """``name=category`` per slot; a category written like a slot's label is quoted: ``name="(missing)"``."""
        quoted = tuple(f'"{c}"' if c in (MISSING_SLOT, OTHER_SLOT) else c for c in self.categories)
        return tuple(f"{self.name}={slot}" for slot in (*quoted, *self.slots[len(self.categories):]))


@dataclass(frozen=True)
class TargetScaling:
    """z-scoring of regression targets: ``t = (y - mean) / scale``, per target column."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]

    @classmethod
    def fit(cls, y: np.ndarray) -> TargetScaling:
        """Means and population standard deviations of ``y: (n, n_targets)`` (1.0 for a constant column)."""
        y = np.asarray(y, dtype=np.float64)
        scaler = Scaler.fit(y.reshape(len(y), -1))  # the same bits as y.mean/y.std; finite near float64's limit
        return cls(tuple(map(float, scaler.mean)), tuple(map(float, scaler.scale)))

    def forward(self, y: np.ndarray) -> np.ndarray:
        return (np.asarray(y, dtype=np.float64) - np.array(self.mean)) / np.array(self.scale)

    def inverse(self, Z: np.ndarray) -> np.ndarray:
        """The network's outputs in the target's own units: ``z * scale + mean`` (float64)."""
        return np.asarray(Z, dtype=np.float64) * np.array(self.scale) + np.array(self.mean)


@dataclass(frozen=True)
class Unknown:
    """Values of one categorical column that fit none of its slots."""

    count: int
    first_row: int  # 0-based row of the first one
    first_value: str


@dataclass(frozen=True, eq=False)
class Transformed:
    X: np.ndarray  # (n, n_inputs)
    unknown: dict[str, Unknown] = field(default_factory=dict)  # by column name
    unfilled: tuple[str, int] | None = None  # (column, row) of a missing cell there is no fill value for


@dataclass(frozen=True)
class Preprocessor:
    numeric: tuple[NumericColumn, ...]
    categorical: tuple[CategoricalColumn, ...] = ()
    na_values: tuple[str, ...] = DEFAULT_NA_VALUES
    unknown_category: str = "ignore"
    target: TargetScaling | None = None  # regression targets trained z-scored; None: raw

    @classmethod
    def plain(cls, names: Sequence[str]) -> Preprocessor:
        """Numeric columns used as they are: checkpoints written before preprocessing was stored."""
        return cls(tuple(NumericColumn(name) for name in names))

    @property
    def numeric_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.numeric)

    @property
    def categorical_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.categorical)

    @property
    def raw_names(self) -> tuple[str, ...]:
        """The columns the model reads from a file: numeric ones, then categorical ones."""
        return self.numeric_names + self.categorical_names

    @property
    def kinds(self) -> dict[str, str]:
        """Each column the model reads, and whether it is 'numeric' or 'categorical'."""
        return {**{name: "numeric" for name in self.numeric_names},
                **{name: "categorical" for name in self.categorical_names}}

    @property
    def input_names(self) -> tuple[str, ...]:
        """One name per network input."""
        indicators = tuple(column.indicator_name for column in self.numeric if column.indicator)
        return self.numeric_names + indicators + tuple(n for c in self.categorical for n in c.input_names)

    @property
    def standardized(self) -> np.ndarray:
        """(n_inputs,) bool: the inputs that standardisation applies to (the numeric columns)."""
        mask = np.zeros(len(self.input_names), dtype=bool)
        mask[: len(self.numeric)] = True
        return mask

    @property
    def is_identity(self) -> bool:
        """Whether the inputs are the numeric columns themselves (no indicator, no category)."""
        return not self.categorical and not any(column.indicator for column in self.numeric)

    def summary(self) -> str:
        """What the inputs became, e.g. ``4 numeric + island (3) + sex (3) = 10 inputs``."""
        if self.is_identity:
            return f"{len(self.numeric)} numeric input" + ("" if len(self.numeric) == 1 else "s")
        parts = [f"{len(self.numeric)} numeric"] if self.numeric else []
        indicators = sum(column.indicator for column in self.numeric)
        if indicators:
            parts.append(f"{indicators} missing indicator" + ("" if indicators == 1 else "s"))
        parts += [f"{column.name} ({len(column.slots)})" for column in self.categorical]
        n = len(self.input_names)
        return " + ".join(parts) + f" = {n} input" + ("" if n == 1 else "s")

    def transform(self, numbers: np.ndarray, texts: Mapping[str, np.ndarray] | None = None) -> Transformed:
        """The inputs of rows given as ``numbers: (n, len(numeric))`` (NaN where missing) and, per
        categorical column, ``texts[name]: (n,)`` objects (str, None where missing).

        With no categorical column, no indicator and no missing cell, ``numbers`` itself comes
        back (not copied)."""
        numbers = numeric_array(numbers)
        if numbers.ndim != 2 or numbers.shape[1] != len(self.numeric):
            raise ValueError(f"expected (n, {len(self.numeric)}) numeric columns, got shape {numbers.shape}")
        if self.is_identity and all_finite(numbers):
            return Transformed(numbers)
        filled, unfilled = self._impute(numbers)
        blocks = [filled]
        for j, column in enumerate(self.numeric):
            if column.indicator:
                blocks.append(np.isnan(numbers[:, j]).astype(np.float64)[:, None])
        unknown: dict[str, Unknown] = {}
        for column in self.categorical:
            block, missed = one_hot(column, (texts or {})[column.name])
            blocks.append(block)
            if missed is not None:
                unknown[column.name] = missed
        X = np.concatenate(blocks, axis=1) if len(blocks) > 1 else filled
        return Transformed(X, unknown, unfilled)

    def _impute(self, numbers: np.ndarray) -> tuple[np.ndarray, tuple[str, int] | None]:
        """The numeric columns with each missing cell (NaN) replaced by its column's fill value."""
        holes = np.isnan(numbers) if numbers.dtype.kind == "f" else np.zeros(numbers.shape, dtype=bool)
        if not holes.any():
            return numbers.astype(np.float64, copy=False), None
        fills = np.array([np.nan if c.fill is None else c.fill for c in self.numeric])
        filled = np.where(holes, fills, numbers)
        bad = np.argwhere(holes & np.isnan(fills))
        unfilled = (self.numeric[bad[0][1]].name, int(bad[0][0])) if len(bad) else None
        return filled, unfilled

    def targets(self, y: np.ndarray) -> np.ndarray:
        """Regression targets as training takes them (z-scored when ``target`` is set)."""
        return y if self.target is None else self.target.forward(y)

    def outputs(self, Z: np.ndarray) -> np.ndarray:
        """A regression network's outputs in the target's own units."""
        return Z if self.target is None else self.target.inverse(Z)

    # ------------------------------------------------------------------ checkpoint metadata

    def to_meta(self) -> dict:
        return {
            "numeric": [{"name": c.name, "fill": c.fill, "indicator": c.indicator} for c in self.numeric],
            "categorical": [{"name": c.name, "categories": list(c.categories), "missing": c.missing,
                             "other": c.other} for c in self.categorical],
            "na_values": list(self.na_values),
            "unknown_category": self.unknown_category,
            "target": None if self.target is None else {"mean": list(self.target.mean),
                                                        "scale": list(self.target.scale)},
        }

    @classmethod
    def from_meta(cls, meta: object) -> Preprocessor:
        """Read ``to_meta``'s dict back; ValueError naming the first entry that is not as written."""
        entry = _Entry(meta, "preprocessing")
        numeric = tuple(NumericColumn(item.text("name"), item.number("fill", null=True), item.flag("indicator"))
                        for item in entry.items("numeric"))
        categorical = tuple(
            CategoricalColumn(item.text("name"), tuple(item.texts("categories", empty=True)), item.flag("missing"),
                              item.flag("other"))
            for item in entry.items("categorical"))
        unknown = entry.text("unknown_category")
        if unknown not in UNKNOWN_CATEGORY:
            raise ValueError(f"preprocessing.unknown_category must be one of {', '.join(UNKNOWN_CATEGORY)}")
        target = None
        if entry.get("target") is not None:
            scaling = entry.child("target")
            mean, scale = scaling.numbers("mean"), scaling.numbers("scale")
            if len(mean) != len(scale) or not mean or any(s <= 0 for s in scale):
                raise ValueError("preprocessing.target must hold as many means as scales, the scales > 0")
            target = TargetScaling(tuple(mean), tuple(scale))
        made = cls(numeric, categorical, tuple(entry.texts("na_values", empty=True)), unknown, target)
        names = made.raw_names
        if not names or len(set(names)) != len(names):
            raise ValueError("preprocessing names no column, or one column twice")
        for column in categorical:
            if not column.slots or len(set(column.categories)) != len(column.categories):
                raise ValueError(f"preprocessing: column {column.name!r} has no slot, or a category twice")
        return made


def one_hot(column: CategoricalColumn, values: np.ndarray) -> tuple[np.ndarray, Unknown | None]:
    """``(n, len(slots))`` 0/1 columns for ``values`` (str, None where missing), and the values
    that fit no slot (left all zeros), if any."""
    values = np.asarray(values, dtype=object)
    slot_of = {category: i for i, category in enumerate(column.categories)}
    k = len(column.categories)
    missing_slot = k if column.missing else None
    other_slot = len(column.slots) - 1 if column.other else None
    distinct, inverse = np.unique(np.where(values == None, "", values).astype(str), return_inverse=True)  # noqa: E711
    is_missing = np.fromiter((value is None for value in values), dtype=bool, count=len(values))
    code = np.array([slot_of.get(value, -1) for value in distinct.tolist()], dtype=np.int64)[inverse.reshape(-1)]
    code[is_missing] = -1 if missing_slot is None else missing_slot
    outside = (code == -1) & ~is_missing
    if other_slot is not None:
        code[outside] = other_slot
    out = np.zeros((len(values), len(column.slots)))
    placed = code >= 0
    out[np.flatnonzero(placed), code[placed]] = 1.0
    unplaced = np.flatnonzero(code < 0)
    if not len(unplaced):
        return out, None
    first = int(unplaced[0])
    shown = MISSING_SLOT if values[first] is None else str(values[first])
    return out, Unknown(len(unplaced), first, shown)


@dataclass(frozen=True)
class Options:
    """The data section's preparation settings (see config.DataConfig)."""

    impute: str = "median"
    missing_indicators: bool = False
    max_categories: int = 50
    unknown_category: str = "ignore"
    na_values: tuple[str, ...] = DEFAULT_NA_VALUES


def fit_preprocessor(numbers: np.ndarray, numeric_names: Sequence[str], texts: Mapping[str, np.ndarray],
                     rows: np.ndarray | None, options: Options, target: TargetScaling | None = None) -> Preprocessor:
    """Learn fill values and vocabularies from the training rows (``rows`` of the arrays; all when None).

    ``numbers: (n, len(numeric_names))``, NaN where missing; ``texts``: the categorical columns.
    A column with no value in the training rows is a ValueError (nothing to learn a fill from).
    """
    numbers = numeric_array(numbers)
    fills, holes = _fill_values(numbers, rows, options.impute)
    empty = np.flatnonzero(np.isnan(fills)) if options.impute != "drop" else ()
    if len(empty):
        raise ValueError(f"column '{numeric_names[empty[0]]}' is missing in every training row; add it to data.exclude")
    indicators = (holes if options.missing_indicators else np.zeros_like(holes)).tolist()
    fill_values = [None] * len(fills) if options.impute == "drop" else fills.tolist()
    numeric = [NumericColumn(name, fill, indicator)  # lists, not NumPy scalars: 200,000 columns in 0.1 s
               for name, fill, indicator in zip(numeric_names, fill_values, indicators)]
    categorical = []
    for name, values in texts.items():
        values = np.asarray(values, dtype=object)
        seen = values if rows is None else values[rows]
        if all(value is None for value in seen):
            raise ValueError(f"column '{name}' is missing in every training row; add it to data.exclude")
        categorical.append(_vocabulary(name, seen, options.max_categories))
    made = Preprocessor(tuple(numeric), tuple(categorical), tuple(options.na_values), options.unknown_category,
                        target)
    names = made.input_names
    if len(set(names)) != len(names):  # e.g. a column named 'plan=basic' beside the slot of 'plan' for 'basic'
        seen: set[str] = set()
        twice = next(name for name in names if name in seen or seen.add(name))
        raise ValueError(f"two inputs would be named {twice!r} (a column of that name, and a category's slot or a "
                         "missing-value indicator); rename the column")
    return made


def _fill_values(numbers: np.ndarray, rows: np.ndarray | None, impute: str) -> tuple[np.ndarray, np.ndarray]:
    """Each column's fill value over ``rows`` (NaN when every such cell is missing), and whether
    any such cell is missing; a few columns at a time, in float64 (no full-size temporary)."""
    m = numbers.shape[1]
    fills, holes = np.zeros(m), np.zeros(m, dtype=bool)
    if impute in ("zero", "drop") and all_finite(numbers):
        return fills, holes
    complete = all_finite(numbers)  # one pass: then no column needs the missing-cell bookkeeping
    n = len(numbers) if rows is None else len(rows)
    if complete and impute == "median":
        width = max(1, min(_MEDIAN_COLUMNS, _MEDIAN_VALUES // max(n, 1)))
        for a in range(0, m, width):
            fills[a:a + width] = _medians(numbers[:, a:a + width] if rows is None else numbers[rows, a:a + width])
        return fills, holes
    for a in range(0, m, _FILL_COLUMNS):
        b = min(m, a + _FILL_COLUMNS)
        block = numbers[:, a:b] if rows is None else numbers[rows, a:b]
        block = np.asarray(block, dtype=np.float64)
        if complete:
            fills[a:b] = block.mean(axis=0)
            continue
        present = ~np.isnan(block)
        holes[a:b] = ~present.all(axis=0)
        counts = present.sum(axis=0)
        if impute in ("zero", "drop"):
            values = np.zeros(b - a)
        elif impute == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                values = np.where(present, block, 0.0).sum(axis=0) / counts
        else:
            values = np.array([np.median(block[present[:, j], j]) if counts[j] else np.nan for j in range(b - a)])
        fills[a:b] = np.where(counts == 0, np.nan, values)
    return fills, holes


def _medians(block: np.ndarray) -> np.ndarray:
    """``np.median(block, axis=0)`` of finite values, in float64, the same numbers in a fraction of
    the time: each column copied to a contiguous row in its own dtype (converting to float64 keeps
    the order, so the middle values are the same ones) and partitioned once at the upper middle;
    the lower middle, for an even count, is the largest value below it; their mean in float64."""
    n = block.shape[0]
    rows = np.empty(block.shape[::-1], block.dtype)  # (columns, n): a copy, partitioned in place
    for start in range(0, n, _TILE_ROWS):  # tile by tile: a whole transposing copy misses the cache
        rows[:, start:start + _TILE_ROWS] = block[start:start + _TILE_ROWS].T
    k = n // 2
    rows.partition(k, axis=1)
    upper = rows[:, k].astype(np.float64)
    return upper if n % 2 else (rows[:, :k].max(axis=1).astype(np.float64) + upper) / 2


def _vocabulary(name: str, values: np.ndarray, max_categories: int) -> CategoricalColumn:
    """Sorted categories of the training values; the rarest share one '(other)' slot when there
    are more than ``max_categories`` (which counts that slot)."""
    present = [value for value in values if value is not None]
    distinct = sorted(set(present))
    other = len(distinct) > max_categories
    if other:
        distinct = sorted(value for value, _ in top_categories(np.array(present, dtype=object), max_categories - 1))
    return CategoricalColumn(name, tuple(distinct), missing=len(present) < len(values), other=other)


class _Entry:
    """A JSON object of the checkpoint's metadata, read with a ValueError for any entry not as written."""

    def __init__(self, value: object, path: str):
        if not isinstance(value, dict):
            raise ValueError(f"{path} is not a JSON object")
        self.value, self.path = value, path

    def get(self, key: str) -> object:
        return self.value.get(key)

    def child(self, key: str) -> _Entry:
        return _Entry(self.value.get(key), f"{self.path}.{key}")

    def items(self, key: str) -> list[_Entry]:
        value = self.value.get(key)
        if not isinstance(value, list):
            raise ValueError(f"{self.path}.{key} is not a list")
        return [_Entry(item, f"{self.path}.{key}[{i}]") for i, item in enumerate(value)]

    def text(self, key: str) -> str:
        value = self.value.get(key)
        if not isinstance(value, str) or not value:
            raise ValueError(f"{self.path}.{key} is not a name")
        return value

    def texts(self, key: str, empty: bool = False) -> list[str]:
        value = self.value.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) and (v or empty) for v in value):
            raise ValueError(f"{self.path}.{key} is not a list of names")
        return value

    def flag(self, key: str) -> bool:
        value = self.value.get(key)
        if not isinstance(value, bool):
            raise ValueError(f"{self.path}.{key} is not true or false")
        return value

    def number(self, key: str, null: bool = False) -> float | None:
        value = self.value.get(key)
        if value is None and null:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise ValueError(f"{self.path}.{key} is not a finite number")
        return float(value)

    def numbers(self, key: str) -> list[float]:
        value = self.value.get(key)
        if not isinstance(value, list):
            raise ValueError(f"{self.path}.{key} is not a list of numbers")
        return [_Entry({"v": v}, f"{self.path}.{key}").number("v") for v in value]
