"""Row-wise max and sum over a few columns: the values of NumPy's own reductions, bit for bit."""

import numpy as np
import pytest

from nnctl.core.activations import row_max, row_sum


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows", [1, 5, 32, 200, 1437])
def test_row_max_and_row_sum_equal_numpy_bit_for_bit(rows, dtype):
    rng = np.random.default_rng(rows)
    for k in range(1, 20):  # through the column-by-column cases (2..16) and past them
        Z = (np.exp(rng.normal(size=(rows, k)) * 3) * rng.choice([-1, 1], size=(rows, k))).astype(dtype)
        if rows > 3:
            Z[2, 0] = np.nan
        assert np.array_equal(row_max(Z), Z.max(axis=-1), equal_nan=True), k
        assert np.array_equal(row_sum(Z), Z.sum(axis=-1), equal_nan=True), k
        assert np.array_equal(row_sum(np.asfortranarray(Z)), np.asfortranarray(Z).sum(axis=-1), equal_nan=True)
        stack = np.stack([Z, 2 * Z, -Z])
        assert np.array_equal(row_sum(stack), stack.sum(axis=-1), equal_nan=True), k
        assert np.array_equal(row_max(stack), stack.max(axis=-1), equal_nan=True), k
        assert row_sum(Z).dtype == dtype

