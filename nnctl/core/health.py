"""Training health: numbers that tell a stuck or broken network from a learning one.

Per layer, after an epoch:

    weight_norm    ||W||_F, the size of the weights (L2 keeps it small)
    grad_norm      ||dL/dW||_F at the epoch's last step (near 0: nothing is learnt;
                   huge: the rate is too high)
    sparsity       share of weights with |w| < 1e-3 (L1 drives weights there)
    saturated      sigmoid/tanh layers: share of activations where f'(z) is tiny,
                   sigmoid outside [0.01, 0.99] or |tanh| > 0.99: gradients vanish there
    dead           relu layers: share of units that output 0 for every training row
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from nnctl.core.model import Layer

SPARSE_BELOW = 1e-3
SATURATED = {"sigmoid": lambda A: (A < 0.01) | (A > 0.99), "tanh": lambda A: np.abs(A) > 0.99}


def layer_health(layers: Sequence[Layer], activations: Sequence[np.ndarray],
                 weight_grads: Sequence[np.ndarray] | None) -> dict[str, float]:
    """Flat figures ``layer{l}_{name}`` for every layer l (1-based).

    ``activations[l]`` is the output of hidden layer l (as ``model.forward``
    returns it, ``activations[0]`` being the input); ``weight_grads`` the
    last step's dL/dW per layer.
    """
    figures = stack_health([layer.W for layer in layers], [layer.activation for layer in layers],
                           activations, weight_grads)
    return {name: float(value) for name, value in figures.items()}


def stack_health(weights: Sequence[np.ndarray], names: Sequence[str], activations: Sequence[np.ndarray],
                 weight_grads: Sequence[np.ndarray] | None) -> dict[str, np.ndarray]:
    """``layer_health``'s figures for one network (2-d weights) or for a stack of them
    (a leading axis of networks on every array but the shared input): each figure is an
    array with one value per network."""
    out: dict[str, np.ndarray] = {}
    for index, (W, activation) in enumerate(zip(weights, names)):
        prefix = f"layer{index + 1}_"
        out[prefix + "weight_norm"] = _norms(W)
        if weight_grads is not None:
            out[prefix + "grad_norm"] = _norms(weight_grads[index])
        out[prefix + "sparsity"] = np.mean(np.abs(W) < SPARSE_BELOW, axis=(-2, -1))
        if index + 1 < len(activations):  # a hidden layer: its output is activations[index + 1]
            A = activations[index + 1]
            if activation in SATURATED:
                out[prefix + "saturated"] = np.mean(SATURATED[activation](A), axis=(-2, -1))
            elif activation == "relu":
                out[prefix + "dead"] = np.mean(~(A > 0).any(axis=-2), axis=-1)
    return out


def _norms(W: np.ndarray) -> np.ndarray:
    """||W||_F of a matrix, or of each matrix of a stack."""
    if W.ndim == 2:
        return np.asarray(np.linalg.norm(W))  # sqrt(w . w) over the flattened matrix
    rows = W.reshape(len(W), 1, -1)
    return np.sqrt(np.matmul(rows, rows.swapaxes(-1, -2)))[:, 0, 0]  # the same dot, one per network
