"""Pure array transforms of data preparation: splitting rows and standardising columns.

No I/O and no printing.  Shapes: ``X`` is ``(n_samples, n_features)``; row
indices are sorted int64 arrays.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from nnctl.errors import DataError


# --------------------------------------------------------------------------- splitting


def split_indices(
    y: np.ndarray | None,
    fraction: float,
    rng: np.random.Generator,
    stratify: bool,
    *,
    n_samples: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Split row indices into sorted, disjoint ``(train_idx, val_idx)``.

    ``round(fraction * n)`` rows go to validation.  With ``stratify`` and class
    indices in ``y`` (1-D integers) this holds per class, and every class with
    at least two rows keeps at least one row on each side; a class with a single
    row stays in training.  ``stratify`` is ignored for any other ``y`` (e.g.
    regression targets).  ``n_samples`` gives the row count when ``y`` is None.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    if y is None and n_samples is None:
        raise ValueError("split_indices needs y or n_samples")
    n = len(y) if y is not None else int(n_samples)
    if fraction == 0.0:
        return np.arange(n, dtype=np.int64), np.empty(0, dtype=np.int64)

    by_class = stratify and y is not None and y.ndim == 1 and np.issubdtype(y.dtype, np.integer)
    if by_class:
        val = [_pick_per_class(np.flatnonzero(y == c), fraction, rng) for c in np.unique(y)]
        val_idx = np.concatenate(val)
    else:
        val_idx = rng.permutation(n)[: round(fraction * n)]
    val_idx = np.sort(val_idx).astype(np.int64)
    train_idx = np.setdiff1d(np.arange(n, dtype=np.int64), val_idx)

    if len(val_idx) == 0:
        raise DataError(
            f"a validation fraction of {fraction} leaves the validation set empty "
            f"({n} rows); use a larger fraction or more rows"
        )
    if len(train_idx) == 0:
        raise DataError(
            f"a validation fraction of {fraction} leaves the training set empty "
            f"({n} rows); use a smaller fraction or more rows"
        )
    return train_idx, val_idx


def fold_indices(y: np.ndarray, k: int, rng: np.random.Generator, stratify: bool
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
    """K-fold cross-validation: ``k`` sorted ``(train_idx, val_idx)`` pairs whose validation rows
    cover every row exactly once.  With ``stratify`` and class indices in ``y``, each class's rows
    are shuffled and dealt round the folds in turn (so class shares agree between folds, as
    scikit-learn's StratifiedKFold keeps them); otherwise all rows are."""
    n = len(y)
    if not 2 <= k <= n:
        raise DataError(f"{k} folds need at least {k} rows and k >= 2; the file has {n} rows")
    by_class = stratify and y.ndim == 1 and np.issubdtype(y.dtype, np.integer)
    fold_of = np.empty(n, dtype=np.int64)
    start = 0
    for rows in ([np.flatnonzero(y == c) for c in np.unique(y)] if by_class else [np.arange(n)]):
        order = rng.permutation(rows)
        fold_of[order] = (start + np.arange(len(order))) % k  # each class starts where the last one ended
        start = (start + len(order)) % k
    everything = np.arange(n, dtype=np.int64)
    return [(everything[fold_of != f], everything[fold_of == f]) for f in range(k)]


def _pick_per_class(rows: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    if len(rows) < 2:
        return rows[:0]
    k = min(max(round(fraction * len(rows)), 1), len(rows) - 1)
    return rng.permutation(rows)[:k]


# --------------------------------------------------------------------------- scaling


# Arrays from the caller are used as they are: no float64 copy of the data.  Whatever is
# computed from them is computed in float64, a few thousand rows at a time, with the same
# operations in the same order as on a float64 copy, so the results are the same bits.
_CHUNK_ELEMENTS = 1 << 18  # values per chunk: 2 MiB in float64


def numeric_array(X) -> np.ndarray:
    """``X`` as an array, not copied when it already holds numbers (bool, integers, floats);
    anything else is converted to float64 (and refused by NumPy if it cannot be)."""
    X = np.asarray(X)
    return X if X.dtype.kind in "biuf" else np.asarray(X, dtype=np.float64)


def _row_chunks(n_rows: int, n_columns: int) -> Iterator[tuple[int, int]]:
    step = max(1, _CHUNK_ELEMENTS // max(n_columns, 1))
    for start in range(0, n_rows, step):
        yield start, min(n_rows, start + step)


def _rows_of(X: np.ndarray, rows: np.ndarray | None, start: int, stop: int) -> np.ndarray:
    return X[start:stop] if rows is None else X[rows[start:stop]]


def all_finite(X: np.ndarray) -> bool:
    """Whether every value of ``X`` is finite, checked chunk by chunk (no full-size temporary)."""
    if X.dtype.kind != "f":
        return True
    if X.ndim != 2:
        return bool(np.isfinite(X).all())
    return all(np.isfinite(X[a:b]).all() for a, b in _row_chunks(len(X), X.shape[1]))


def first_column_beyond(X: np.ndarray, limit: float) -> int | None:
    """The first column of ``X`` holding a value with ``|value| > limit`` (compared in float64), or None:
    from each column's largest and smallest value, reduced in X's own dtype (exact, no temporary)."""
    if X.size == 0:
        return None
    top = np.maximum.reduce(X, axis=0).astype(np.float64)
    bottom = np.minimum.reduce(X, axis=0).astype(np.float64)
    columns = np.flatnonzero((top > limit) | (bottom < -limit))
    return int(columns[0]) if len(columns) else None


@dataclass(frozen=True, eq=False)
class Scaler:
    """Standardisation ``X_std = (X - mean) / scale``, fitted on training rows only."""

    mean: np.ndarray  # (n_features,)
    scale: np.ndarray  # (n_features,) standard deviation; 1.0 where a column is constant

    @classmethod
    def fit(cls, X: np.ndarray, rows: np.ndarray | None = None) -> Scaler:
        """See ``_fit``; a column whose statistics overflow float64 (values near 1e308) has them
        taken again on the column divided by its largest magnitude, so finite input always gives a
        finite mean and scale."""
        with np.errstate(over="ignore", invalid="ignore"):
            scaler = cls._fit(X, rows)
            bad = ~(np.isfinite(scaler.mean) & np.isfinite(scaler.scale))
            if not bad.any():
                return scaler
            columns = numeric_array(X)[:, bad] if rows is None else numeric_array(X)[rows][:, bad]
            columns = columns.astype(np.float64)
            largest = np.abs(columns).max(axis=0)
            largest[largest == 0] = 1.0
            shrunk = columns / largest
            mean, scale = scaler.mean.copy(), scaler.scale.copy()
            mean[bad] = largest * shrunk.mean(axis=0)
            spread = shrunk.std(axis=0)
            scale[bad] = np.where(spread > 0, largest * spread, 1.0)
        return cls(mean, scale)

    @classmethod
    def _fit(cls, X: np.ndarray, rows: np.ndarray | None = None) -> Scaler:
        """Column means and (population) standard deviations of ``X`` (of ``X[rows]`` if given).

        Accumulated in float64 whatever ``X`` holds, and bit for bit what ``X.mean(axis=0)``
        and ``X.std(axis=0)`` give on a float64 copy of those rows, without the copy: NumPy
        sums a C-ordered array's columns row after row, as done here chunk by chunk (and
        pairwise when there is a single column, or in another order for other layouts: then
        the statistics are taken on a float64 copy).
        """
        X = numeric_array(X)
        n = len(X) if rows is None else len(rows)
        if X.ndim != 2 or n == 0:
            raise ValueError(f"Scaler.fit needs a non-empty 2-D array, got shape {X.shape}")
        if X.shape[1] < 2 or (rows is None and not X.flags.c_contiguous):
            X = np.asarray(X, dtype=np.float64) if rows is None else X[rows].astype(np.float64)
            constant = np.ptp(X, axis=0) == 0  # exactly constant: std would be 0 (or rounding noise)
            return cls(X.mean(axis=0), np.where(constant, 1.0, X.std(axis=0)))
        m = X.shape[1]
        chunks = list(_row_chunks(n, m))
        buffer = np.empty((chunks[0][1] - chunks[0][0] + 1, m))  # row 0: the running sum
        total = low = high = None
        for a, b in chunks:
            chunk = buffer[1 : b - a + 1]
            chunk[...] = _rows_of(X, rows, a, b)
            low = chunk.min(axis=0) if low is None else np.minimum(low, chunk.min(axis=0))
            high = chunk.max(axis=0) if high is None else np.maximum(high, chunk.max(axis=0))
            total = _running_sum(buffer, total, b - a)
        mean = total / n
        squares = None
        for a, b in chunks:
            chunk = buffer[1 : b - a + 1]
            chunk[...] = _rows_of(X, rows, a, b)
            np.subtract(chunk, mean, out=chunk)
            np.square(chunk, out=chunk)
            squares = _running_sum(buffer, squares, b - a)
        constant = high == low  # exactly constant (max - min == 0 for finite values)
        return cls(mean, np.where(constant, 1.0, np.sqrt(squares / n)))

    @classmethod
    def identity(cls, n_features: int) -> Scaler:
        """A scaler that leaves ``X`` unchanged."""
        return cls(np.zeros(n_features), np.ones(n_features))

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.mean):
            raise ValueError(f"expected (n, {len(self.mean)}) features, got shape {X.shape}")
        out = (X - self.mean) / self.scale
        self._near_the_limit(X, out)
        return out

    def _near_the_limit(self, X: np.ndarray, out: np.ndarray) -> None:
        """Columns whose mean or scale is beyond 1e150 are standardised as x / scale - mean / scale,
        where x - mean could overflow (values of both signs near 1e308)."""
        huge = (np.abs(self.mean) > 1e150) | (self.scale > 1e150)
        if huge.any():
            with np.errstate(over="ignore"):
                out[:, huge] = X[:, huge] / self.scale[huge] - self.mean[huge] / self.scale[huge]

    def transform_to(self, X: np.ndarray, dtype, rows: np.ndarray | None = None) -> np.ndarray:
        """``transform(X[rows])`` rounded once to ``dtype``, the same bits, written chunk by chunk
        into one array of ``dtype`` (computed in float64); ``X`` itself when nothing changes it
        (an identity scaler, all rows, ``X`` already C-ordered ``dtype``)."""
        X, dtype = numeric_array(X), np.dtype(dtype)
        if X.ndim != 2 or X.shape[1] != len(self.mean):
            raise ValueError(f"expected (n, {len(self.mean)}) features, got shape {X.shape}")
        identity = not (self.mean.any() or np.signbit(self.mean).any() or (self.scale != 1).any())
        if identity and rows is None and X.dtype == dtype and X.flags.c_contiguous:
            return X
        n = len(X) if rows is None else len(rows)
        huge = (np.abs(self.mean) > 1e150) | (self.scale > 1e150)
        out = np.empty((n, X.shape[1]), dtype=dtype)
        for a, b in _row_chunks(n, X.shape[1]):
            chunk = _rows_of(X, rows, a, b)
            if not identity:
                raw = chunk if huge.any() else None  # kept only when needed: a chunk more of memory
                chunk = chunk.astype(np.float64)
                with np.errstate(over="ignore"):
                    np.subtract(chunk, self.mean, out=chunk)
                np.divide(chunk, self.scale, out=chunk)
                if raw is not None:
                    self._near_the_limit(np.asarray(raw, dtype=np.float64), chunk)
            elif chunk.dtype != dtype:
                chunk = chunk.astype(np.float64, copy=False)  # through float64, as before: one rounding
            out[a:b] = chunk
        return out


def _running_sum(buffer: np.ndarray, total: np.ndarray | None, k: int) -> np.ndarray:
    """The column sums so far plus those of ``buffer[1:k+1]``, added row after row."""
    if total is None:
        return np.add.reduce(buffer[1 : k + 1], axis=0)
    buffer[0] = total
    return np.add.reduce(buffer[: k + 1], axis=0)
