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
    out: dict[str, float] = {}
    for index, layer in enumerate(layers):
        prefix = f"layer{index + 1}_"
        out[prefix + "weight_norm"] = float(np.linalg.norm(layer.W))
        if weight_grads is not None:
            out[prefix + "grad_norm"] = float(np.linalg.norm(weight_grads[index]))
        out[prefix + "sparsity"] = float(np.mean(np.abs(layer.W) < SPARSE_BELOW))
        if index + 1 < len(activations):  # a hidden layer: its output is activations[index + 1]
            A = activations[index + 1]
            if layer.activation in SATURATED:
                out[prefix + "saturated"] = float(np.mean(SATURATED[layer.activation](A)))
            elif layer.activation == "relu":
                out[prefix + "dead"] = float(np.mean(~(A > 0).any(axis=0)))
    return out
