"""Update rules: how a gradient moves the parameters.

An optimizer is (init, update): ``init(params)`` makes its state, plain
arrays and counters that a checkpoint can hold, and ``update(params, grads,
state, eta)`` changes the parameters (and the state) in place.  ``params``
and ``grads`` are flat lists of arrays in the same order (W_0, b_0, W_1, ...);
``eta`` is the learning rate of this step.  Each line below carries its
equation, in the notation of the CS231n notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

Array = np.ndarray

MOMENTUM = 0.9  # mu
BETA1, BETA2, EPSILON = 0.9, 0.999, 1e-8  # Adam's defaults (Kingma & Ba, 2015)


@dataclass(frozen=True)
class Hyper:
    """The optimizer's own constants (each rule uses the ones it needs)."""

    momentum: float = MOMENTUM
    beta1: float = BETA1
    beta2: float = BETA2
    epsilon: float = EPSILON


# --- plain gradient descent -----------------------------------------------------

def sgd_init(params: Sequence[Array]) -> dict:
    return {}


def sgd_update(params, grads, state: dict, eta: float, h: Hyper) -> None:
    for theta, g in zip(params, grads):
        theta -= eta * g  # theta <- theta - eta g


# --- momentum ---------------------------------------------------------------------

def velocity_init(params: Sequence[Array]) -> dict:
    return {"velocity": [np.zeros_like(p) for p in params]}


def momentum_update(params, grads, state: dict, eta: float, h: Hyper) -> None:
    for theta, g, v in zip(params, grads, state["velocity"]):
        v *= h.momentum
        v -= eta * g  # v <- mu v - eta g
        theta += v  # theta <- theta + v


def nesterov_update(params, grads, state: dict, eta: float, h: Hyper) -> None:
    """Nesterov momentum in the form that needs only the gradient at theta."""
    for theta, g, v in zip(params, grads, state["velocity"]):
        previous = v.copy()  # v_prev <- v
        v *= h.momentum
        v -= eta * g  # v <- mu v - eta g
        theta += (1 + h.momentum) * v - h.momentum * previous  # theta <- theta - mu v_prev + (1 + mu) v


# --- Adam ----------------------------------------------------------------------------

def adam_init(params: Sequence[Array]) -> dict:
    return {"m": [np.zeros_like(p) for p in params], "v": [np.zeros_like(p) for p in params], "t": 0}


def adam_update(params, grads, state: dict, eta: float, h: Hyper) -> None:
    state["t"] += 1  # t <- t + 1
    t = state["t"]
    correction1 = 1.0 - h.beta1**t  # 1 - beta1^t
    correction2 = 1.0 - h.beta2**t  # 1 - beta2^t
    for theta, g, m, v in zip(params, grads, state["m"], state["v"]):
        m *= h.beta1
        m += (1.0 - h.beta1) * g  # m <- beta1 m + (1 - beta1) g
        v *= h.beta2
        v += (1.0 - h.beta2) * (g * g)  # v <- beta2 v + (1 - beta2) g^2
        m_hat = m / correction1  # m_hat <- m / (1 - beta1^t)
        v_hat = v / correction2  # v_hat <- v / (1 - beta2^t)
        theta -= eta * m_hat / (np.sqrt(v_hat) + h.epsilon)  # theta <- theta - eta m_hat / (sqrt(v_hat) + eps)


@dataclass(frozen=True)
class Optimizer:
    name: str
    init: Callable[[Sequence[Array]], dict]
    update: Callable[[Sequence[Array], Sequence[Array], dict, float, Hyper], None]


OPTIMIZERS: dict[str, Optimizer] = {
    "sgd": Optimizer("sgd", sgd_init, sgd_update),
    "momentum": Optimizer("momentum", velocity_init, momentum_update),
    "nesterov": Optimizer("nesterov", velocity_init, nesterov_update),
    "adam": Optimizer("adam", adam_init, adam_update),
}
"""Optimizers by config name."""
