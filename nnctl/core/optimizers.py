"""Update rules: how a gradient moves the parameters.

An optimizer is (init, update): ``init(params)`` makes its state (plain
arrays), ``update(params, grads, state, learning_rate)`` changes the
parameters in place.  ``params`` and ``grads`` are flat lists of arrays in
the same order (W_0, b_0, W_1, b_1, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

Array = np.ndarray


def sgd_init(params: Sequence[Array]) -> dict:
    """Plain gradient descent keeps no state."""
    return {}


def sgd_update(params: Sequence[Array], grads: Sequence[Array], state: dict, learning_rate: float) -> None:
    """theta <- theta - eta * dL/dtheta, in place."""
    for theta, grad in zip(params, grads):
        theta -= learning_rate * grad


@dataclass(frozen=True)
class Optimizer:
    name: str
    init: Callable[[Sequence[Array]], dict]
    update: Callable[[Sequence[Array], Sequence[Array], dict, float], None]


OPTIMIZERS: dict[str, Optimizer] = {
    "sgd": Optimizer("sgd", sgd_init, sgd_update),
}
"""Optimizers by config name."""
