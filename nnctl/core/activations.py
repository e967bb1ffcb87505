"""Activation functions, each beside its derivative.

A neuron computes a weighted sum ``z = x . w + b`` and passes it through an
activation ``a = f(z)``.  Backpropagation needs ``f'(z)``; every derivative
here takes both the pre-activation ``Z`` and the output ``A = f(Z)`` and uses
whichever gives the cheapest exact formula (the docstring says which).

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


def sigmoid(Z: Array) -> Array:
    """sigma(z) = 1 / (1 + e^-z), computed without overflow for any finite z.

    With e = exp(-|z|) (never overflows): sigma(z) = 1/(1+e) for z >= 0 and
    e/(1+e) for z < 0.  |z| is clipped where exp(-|z|) would underflow (about
    80 in float32), so |z| up to 1e4 and beyond raise no floating-point
    warnings; beyond the clip sigma(z) is 1, or a tiny positive number in place
    of a smaller one, which no loss or gradient here can tell apart.
    """
    limit = _exp_limit(Z.dtype) if np.issubdtype(Z.dtype, np.floating) else 700.0
    e = np.exp(-np.minimum(np.abs(Z), limit))
    return np.where(Z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(Z.dtype, copy=False)


def sigmoid_derivative(Z: Array, A: Array) -> Array:
    """sigma'(z) = sigma(z) (1 - sigma(z)), from the output A."""
    return A * (1.0 - A)


def tanh(Z: Array) -> Array:
    """tanh(z) = (e^z - e^-z) / (e^z + e^-z)."""
    return np.tanh(Z)


def tanh_derivative(Z: Array, A: Array) -> Array:
    """tanh'(z) = 1 - tanh(z)^2, from the output A."""
    return 1.0 - A * A


def relu(Z: Array) -> Array:
    """relu(z) = max(0, z)."""
    return np.maximum(Z, 0)


def relu_derivative(Z: Array, A: Array) -> Array:
    """relu'(z) = 1 if z > 0 else 0, from the pre-activation Z."""
    return (Z > 0).astype(Z.dtype)


def leaky_relu(Z: Array) -> Array:
    """leaky_relu(z) = z if z > 0 else 0.01 z."""
    return np.where(Z > 0, Z, LEAKY_RELU_SLOPE * Z)


def leaky_relu_derivative(Z: Array, A: Array) -> Array:
    """leaky_relu'(z) = 1 if z > 0 else 0.01, from the pre-activation Z."""
    return np.where(Z > 0, 1.0, LEAKY_RELU_SLOPE).astype(Z.dtype)


def identity(Z: Array) -> Array:
    """identity(z) = z."""
    return Z


def identity_derivative(Z: Array, A: Array) -> Array:
    """identity'(z) = 1."""
    return np.ones_like(Z)


def softmax(Z: Array) -> Array:
    """softmax(z)_j = e^{z_j} / sum_k e^{z_k}, row by row.

    Subtracting the row maximum first leaves the result unchanged and keeps
    every exponent <= 0, so nothing overflows; all-equal rows give 1/K each.
    Used only as an output activation: its derivative is folded into the
    softmax cross-entropy delta (see losses.py).
    """
    shifted = Z - Z.max(axis=1, keepdims=True)
    limit = _exp_limit(Z.dtype)
    E = np.exp(np.maximum(shifted, -limit))
    return E / E.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Activation:
    """An activation f and its derivative f'(Z, A)."""

    name: str
    forward: Callable[[Array], Array]
    derivative: Callable[[Array, Array], Array]


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
