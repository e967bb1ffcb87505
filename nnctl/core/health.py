"""Training health: numbers that tell a stuck or broken network from a learning one.

Per layer, after an epoch:

    weight_norm    ||W||_F, the size of the weights (L2 keeps it small)
    grad_norm      ||dL/dW||_F at the epoch's last step (near 0: nothing is learnt;
                   huge: the rate is too high)
    sparsity       share of weights with |w| < 1e-3 (L1 drives weights there)
    saturated      sigmoid/tanh layers: share of activations where f'(z) is tiny,
                   sigmoid outside [0.01, 0.99] (f' < 0.01 x 0.99) or |tanh| > 0.99
                   (f' < 1 - 0.99^2): gradients vanish there
    dead           relu layers: share of units that output 0 for every training row

The counts behind the last two come from the training steps themselves (``step_counts``,
from the f'(Z) each step's backward pass computed) or from a pass over the rows
(``activation_counts``, from the outputs A); the thresholds on f' are those on A (sigmoid'
= A (1 - A) < 0.0099 exactly where A < 0.01 or A > 0.99), but for rounding at the very edge.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from nnctl.core.model import Layer

SPARSE_BELOW = 1e-3
SATURATED = {"sigmoid": lambda A: (A < 0.01) | (A > 0.99), "tanh": lambda A: np.abs(A) > 0.99}  # from outputs A
SATURATED_BELOW = {"sigmoid": 0.01 * (1 - 0.01), "tanh": 1 - 0.99 ** 2}  # the same from f'(z): saturated below
COUNTED = (*SATURATED, "relu")  # the hidden activations whose outputs the health figures count


def layer_health(layers: Sequence[Layer], activations: Sequence[np.ndarray],
                 weight_grads: Sequence[np.ndarray] | None) -> dict[str, float]:
    """Flat figures ``layer{l}_{name}`` for every layer l (1-based).

    ``activations[l]`` is the output of hidden layer l (as ``model.forward``
    returns it, ``activations[0]`` being the input); ``weight_grads`` the
    last step's dL/dW per layer.
    """
    names = [layer.activation for layer in layers]
    counts = [activation_counts(name, A) for name, A in zip(names, activations[1:])]
    figures = health_figures([layer.W for layer in layers], names, counts, len(activations[0]), weight_grads)
    return {name: float(value) for name, value in figures.items()}


def activation_counts(activation: str, A: np.ndarray) -> np.ndarray | None:
    """What the health figures need of a hidden layer's outputs ``A: (..., rows, units)``,
    in a form that adds up over chunks of rows (``add_counts``): the number of saturated
    values (sigmoid, tanh), or which units were ever positive (relu)."""
    if activation in SATURATED:
        return np.count_nonzero(SATURATED[activation](A), axis=(-2, -1))
    if activation == "relu":
        return (A > 0).any(axis=-2)
    return None


def step_counts(activation: str, fprime: np.ndarray) -> np.ndarray | None:
    """The same counts from a layer's derivative ``f'(Z): (..., rows, units)``, as a training
    step has it: saturated values (sigmoid, tanh); for relu, where f' = 1, how many rows each
    unit was positive on (units never positive: the count is 0)."""
    if activation in SATURATED_BELOW:
        saturated = fprime < SATURATED_BELOW[activation]
        if saturated.ndim == 2:  # one network: the plain count, a C call
            return np.count_nonzero(saturated)
        # a stack: np.add.reduce rather than np.count_nonzero(..., axis=...), whose Python wrapper
        # costs more than the count on a small batch
        return np.add.reduce(saturated, axis=(-2, -1), dtype=np.int64)
    if activation == "relu":
        return np.add.reduce(fprime, axis=-2)
    return None


def add_counts(total: list | None, chunk: list) -> list:
    """The counts of two chunks of rows together."""
    if total is None:
        return chunk
    return [None if a is None else (a | b if a.dtype == bool else a + b) for a, b in zip(total, chunk)]


def health_figures(weights: Sequence[np.ndarray], names: Sequence[str], counts: Sequence[np.ndarray | None],
                 n_rows: int, weight_grads: Sequence[np.ndarray] | None) -> dict[str, np.ndarray]:
    """The health figures for one network (2-d weights) or for a stack of them (a
    leading axis of networks), from the hidden layers' ``activation_counts`` over
    ``n_rows`` rows: each figure is an array with one value per network."""
    out: dict[str, np.ndarray] = {}
    for index, (W, activation) in enumerate(zip(weights, names)):
        prefix = f"layer{index + 1}_"
        out[prefix + "weight_norm"] = _norms(W)
        if weight_grads is not None:
            out[prefix + "grad_norm"] = _norms(weight_grads[index])
        out[prefix + "sparsity"] = np.mean(np.abs(W) < SPARSE_BELOW, axis=(-2, -1))
        if index < len(counts):  # a hidden layer
            units = W.shape[-1]
            if activation in SATURATED:  # share of saturated values
                out[prefix + "saturated"] = counts[index] / float(n_rows * units)
            elif activation == "relu":  # share of units never positive (a count of 0, or False)
                out[prefix + "dead"] = np.mean(counts[index] == 0, axis=-1)
    return out


def _norms(W: np.ndarray) -> np.ndarray:
    """||W||_F of a matrix, or of each matrix of a stack."""
    if W.ndim == 2:
        return np.asarray(np.linalg.norm(W))  # sqrt(w . w) over the flattened matrix
    rows = W.reshape(len(W), 1, -1)
    return np.sqrt(np.matmul(rows, rows.swapaxes(-1, -2)))[:, 0, 0]  # the same dot, one per network
