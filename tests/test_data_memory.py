"""The data path's memory: from the caller's array to the arrays training takes, at most one
copy of the data, in model.dtype, and the same bits as standardising a float64 copy."""

import tracemalloc

import numpy as np
import pytest

from nnctl import run
from nnctl.prep import arrays
from nnctl.config import config_from_dict
from nnctl.prep.transforms import Scaler, split_indices
from nnctl.errors import DataError


def _config(**data):
    return config_from_dict({
        "data": {"train": "<arrays>", "target": "y", "validation": 0.2, **data},
        "model": {"hidden": [4]},
    })


def _data(n=20000, m=200, seed=0):
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(n, m)) * rng.uniform(0.5, 20, size=m) + rng.normal(size=m) * 5).astype(np.float32)
    return X, (X[:, 0] > X[:, 1]).astype(np.int64)


def _peak_of_prepare(config, X, y):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        data = arrays.prepare_arrays(config, X, y, run.generators(config)[0])
        return data, tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_prepare_arrays_makes_no_float64_copy_of_float32_data():
    X, y = _data()
    data, peak = _peak_of_prepare(_config(), X, y)
    assert data.X_train.dtype == data.X_val.dtype == np.float32
    # one float32 copy (training + validation rows) and small chunks; a float64 copy alone is 2x
    assert peak < 1.3 * X.nbytes, f"peak {peak / X.nbytes:.2f}x the data"


def test_identity_scaler_on_all_rows_takes_the_array_itself():
    X, y = _data()
    data, peak = _peak_of_prepare(_config(validation=0.0, standardize=False), X, y)
    assert data.X_train is X
    assert peak < 0.35 * X.nbytes  # chunks of a few MiB for the checks


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("source", ["float32", "float64", "int64", "fortran"])
def test_prepared_rows_equal_the_float64_computation_rounded_once(dtype, source):
    X32, y = _data(n=3001, m=37, seed=1)
    X = {"float32": X32, "float64": X32.astype(np.float64) * 1.1, "int64": np.round(X32 * 100).astype(np.int64),
         "fortran": np.asfortranarray(X32.astype(np.float64) * 1.1)}[source]
    config = config_from_dict({"data": {"train": "<arrays>", "target": "y", "validation": 0.25},
                               "model": {"hidden": [4], "dtype": dtype}})
    data = arrays.prepare_arrays(config, X, y, run.generators(config)[0])
    # what the data path did before: a float64 copy, split by fancy indexing, numpy's mean/std
    train_rows, val_rows = split_indices(y, 0.25, run.generators(config)[0], True)
    X64 = np.asarray(X, dtype=np.float64)
    train, val = X64[train_rows], X64[val_rows]
    mean, std = train.mean(axis=0), train.std(axis=0)
    assert data.scaler.mean.tobytes() == mean.tobytes()
    assert data.scaler.scale.tobytes() == std.tobytes()
    for got, rows in ((data.X_train, train), (data.X_val, val)):
        assert got.dtype == np.dtype(dtype) and got.flags.c_contiguous
        assert got.tobytes() == ((rows - mean) / std).astype(dtype).tobytes()


@pytest.mark.parametrize("shape", [(1, 3), (2, 2), (7, 1), (1000, 1), (50000, 3), (3000, 2), (999, 600)])
def test_scaler_fit_equals_numpy_on_a_float64_copy(shape):
    rng = np.random.default_rng(2)
    X = (rng.normal(size=shape) * 1e3 + 7).astype(np.float32)
    X[:, 0] = X[0, 0] if shape[0] > 1 else X[:, 0]  # a constant column: scale 1
    rows = np.sort(rng.permutation(shape[0])[: max(1, shape[0] // 2)])
    for subset in (None, rows):
        X64 = X.astype(np.float64) if subset is None else X.astype(np.float64)[subset]
        scaler = Scaler.fit(X, subset)
        assert scaler.mean.tobytes() == X64.mean(axis=0).tobytes()
        expected = np.where(np.ptp(X64, axis=0) == 0, 1.0, X64.std(axis=0))
        assert scaler.scale.tobytes() == expected.tobytes()
        assert scaler.transform_to(X, np.float32, subset).tobytes() == \
            scaler.transform(X if subset is None else X[subset]).astype(np.float32).tobytes()


def test_non_finite_values_are_still_refused():
    X, y = _data(n=3000, m=10)
    X[2500, 3] = np.nan
    with pytest.raises(DataError, match="finite numbers"):
        arrays.prepare_arrays(_config(), X, y, run.generators(_config())[0])


def test_unscaled_values_too_large_for_float32_are_still_refused():
    X, y = _data(n=3000, m=10)
    X[2999, 4] = 2.0 ** 64  # beyond sqrt(float32 max) in float64, though not in float32
    with pytest.raises(DataError, match="column 'x5' holds values beyond"):
        arrays.prepare_arrays(_config(standardize=False), X, y, run.generators(_config())[0])
