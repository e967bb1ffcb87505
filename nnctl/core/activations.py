"""Activation functions, each beside its derivative.

A neuron computes a weighted sum ``z = x . w + b`` and passes it through an
activation ``a = f(z)``.  Backpropagation needs ``f'(z)``; every derivative
here takes both the pre-activation ``Z`` and the output ``A = f(Z)`` and uses
whichever gives the cheapest exact formula (the docstring says which).

Each function takes an optional ``out`` array to write into, so that training
can reuse the buffers of one step in the next (see workspace.py); without it
a new array is returned.  The results are the same either way, bit for bit.

``ACTIVATIONS`` maps the names used in config files to these pairs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np

Array = np.ndarray

LEAKY_RELU_SLOPE = 0.01


@functools.lru_cache(maxsize=None)
def _exp_limit(dtype: np.dtype) -> float:
    """Largest |z| for which exp(z) and exp(-z) stay normal numbers in ``dtype`` (cached: it is
    asked on every step)."""
    return 0.9 * float(np.log(np.finfo(dtype).max))


FEW_COLUMNS = 16  # up to this many columns a row-wise max or sum may go column by column


def _by_columns(Z: Array) -> bool:
    """Whether a row-wise reduction of Z is faster column by column: NumPy reduces a short
    last axis slowly (max over an (8, 800, 2) array takes ~100x the time of one column-wise
    maximum), while each column-wise operation costs a call; so for a few columns, and
    more than a few rows unless the columns are very few."""
    k = Z.shape[-1]
    return 1 < k <= FEW_COLUMNS and (k <= 4 or Z.size >= 64 * k)


def row_max(Z: Array) -> Array:
    """max_j z_ij over the last axis (the same values as ``Z.max(axis=-1)``)."""
    if not _by_columns(Z):
        return np.maximum.reduce(Z, axis=-1)
    m = np.maximum(Z[..., 0], Z[..., 1])
    for j in range(2, Z.shape[-1]):
        np.maximum(m, Z[..., j], out=m)
    return m


def row_sum(Z: Array) -> Array:
    """sum_j z_ij over the last axis, bit for bit as ``Z.sum(axis=-1)``: for rows stored
    contiguously, column by column in the order NumPy adds such a row (fewer than 8
    numbers left to right; else 8 running sums, combined pairwise, then the rest)."""
    k = Z.shape[-1]
    if not _by_columns(Z) or Z.strides[-1] != Z.itemsize:  # NumPy adds rows of other layouts in other orders
        return np.add.reduce(Z, axis=-1)
    if k < 8:
        total = Z[..., 0] + Z[..., 1]
        for j in range(2, k):
            total += Z[..., j]
        return total
    r = [Z[..., j].copy() for j in range(8)]
    whole = k - k % 8
    for start in range(8, whole, 8):
        for j in range(8):
            r[j] += Z[..., start + j]
    total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    for j in range(whole, k):
        total += Z[..., j]
    return total


def sigmoid(Z: Array, out: Array | None = None) -> Array:
    """sigma(z) = 1 / (1 + e^-z), computed without overflow for any finite z.

    With e = exp(-|z|) (never overflows): sigma(z) = 1/(1+e) for z >= 0 and
    e/(1+e) for z < 0, i.e. exp(min(z, 0)) / (1 + e), which needs no mask.
    |z| is clipped where exp(-|z|) would underflow (about 80 in float32), so
    |z| up to 1e4 and beyond raise no floating-point warnings; beyond the clip
    sigma(z) is 1, or a tiny positive number in place of a smaller one, which
    no loss or gradient here can tell apart.
    """
    limit = _exp_limit(Z.dtype) if Z.dtype.kind == "f" else 700.0
    e = np.exp(-np.minimum(np.abs(Z), limit))  # e^-|z|
    top = np.exp(np.maximum(np.minimum(Z, 0), -limit))  # e^min(z, 0): e where z < 0, exactly 1 where z >= 0
    np.add(e, 1.0, out=e)  # 1 + e^-|z|
    if out is None:
        return np.divide(top, e, out=top).astype(Z.dtype, copy=False)
    return np.divide(top, e, out=out)


def sigmoid_derivative(Z: Array, A: Array, out: Array | None = None) -> Array:
    """sigma'(z) = sigma(z) (1 - sigma(z)), from the output A."""
    if out is None:
        return A * (1.0 - A)
    np.subtract(1.0, A, out=out)
    return np.multiply(out, A, out=out)


def tanh(Z: Array, out: Array | None = None) -> Array:
    """tanh(z) = (e^z - e^-z) / (e^z + e^-z)."""
    return np.tanh(Z, out=out)


def tanh_derivative(Z: Array, A: Array, out: Array | None = None) -> Array:
    """tanh'(z) = 1 - tanh(z)^2, from the output A."""
    out = np.multiply(A, A, out=out)
    return np.subtract(1.0, out, out=out)


def relu(Z: Array, out: Array | None = None) -> Array:
    """relu(z) = max(0, z)."""
    return np.maximum(Z, 0, out=out)


def relu_derivative(Z: Array, A: Array, out: Array | None = None) -> Array:
    """relu'(z) = 1 if z > 0 else 0, from the pre-activation Z."""
    if out is None:
        return (Z > 0).astype(Z.dtype)
    return np.greater(Z, 0, out=out)


def leaky_relu(Z: Array, out: Array | None = None) -> Array:
    """leaky_relu(z) = z if z > 0 else 0.01 z."""
    if out is None:
        return np.where(Z > 0, Z, LEAKY_RELU_SLOPE * Z)
    np.multiply(Z, LEAKY_RELU_SLOPE, out=out)
    np.copyto(out, Z, where=Z > 0)
    return out


def leaky_relu_derivative(Z: Array, A: Array, out: Array | None = None) -> Array:
    """leaky_relu'(z) = 1 if z > 0 else 0.01, from the pre-activation Z."""
    if out is None:
        return np.where(Z > 0, 1.0, LEAKY_RELU_SLOPE).astype(Z.dtype)
    out[...] = LEAKY_RELU_SLOPE
    np.copyto(out, 1.0, where=Z > 0)
    return out


def identity(Z: Array, out: Array | None = None) -> Array:
    """identity(z) = z (``out`` is not needed: Z itself is the result)."""
    return Z


def identity_derivative(Z: Array, A: Array, out: Array | None = None) -> Array:
    """identity'(z) = 1."""
    if out is None:
        return np.ones_like(Z)
    out[...] = 1.0
    return out


def softmax(Z: Array) -> Array:
    """softmax(z)_j = e^{z_j} / sum_k e^{z_k}, row by row.

    Subtracting the row maximum first leaves the result unchanged and keeps
    every exponent <= 0, so nothing overflows; all-equal rows give 1/K each.
    Used only as an output activation: its derivative is folded into the
    softmax cross-entropy delta (see losses.py).
    """
    E = np.subtract(Z, row_max(Z)[..., None])  # z - max_k z_k: a new array, worked on in place
    np.maximum(E, -_exp_limit(Z.dtype), out=E)
    np.exp(E, out=E)
    return np.divide(E, row_sum(E)[..., None], out=E)


@dataclass(frozen=True)
class Activation:
    """An activation f and its derivative f'(Z, A)."""

    name: str
    forward: Callable[..., Array]  # (Z, out=None) -> A
    derivative: Callable[..., Array]  # (Z, A, out=None) -> f'(Z)


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation("sigmoid", sigmoid, sigmoid_derivative),
    "tanh": Activation("tanh", tanh, tanh_derivative),
    "relu": Activation("relu", relu, relu_derivative),
    "leaky_relu": Activation("leaky_relu", leaky_relu, leaky_relu_derivative),
    "identity": Activation("identity", identity, identity_derivative),
}
"""Hidden-layer activations by config name."""

OUTPUT_ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "identity": identity,
    "sigmoid": sigmoid,
    "softmax": softmax,
}
"""Output activations; which one a network uses follows from its loss."""
