"""Update rules: how a gradient moves the parameters.

An optimizer is (init, update): ``init(params)`` makes its state, plain
arrays and counters that a checkpoint can hold, and ``update(params, grads,
state, eta, h, work)`` changes the parameters (and the state) in place.
``params`` and ``grads`` are flat lists of arrays in the same order (W_0, b_0,
W_1, ...); ``eta`` is the learning rate of this step (a number, or one per
network of a stack, shaped to broadcast).  ``work``, when given, holds two
scratch arrays per parameter (``work[0][i]`` and ``work[1][i]`` shaped like
``params[i]``) for the intermediate results, so that a step allocates nothing;
the results are the same without it.  Each line below carries its equation,
in the notation of the CS231n notes.
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


def _scratch(work, count: int) -> list:
    """The scratch arrays of each parameter, or Nones (then NumPy allocates)."""
    return list(zip(*work)) if work is not None else [(None, None)] * count


def sgd_update(params, grads, state: dict, eta: float, h: Hyper, work=None) -> None:
    for theta, g, (w, _) in zip(params, grads, _scratch(work, len(params))):
        theta -= np.multiply(eta, g, out=w)  # theta <- theta - eta g


# --- momentum ---------------------------------------------------------------------

def velocity_init(params: Sequence[Array]) -> dict:
    return {"velocity": [np.zeros_like(p) for p in params]}


def momentum_update(params, grads, state: dict, eta: float, h: Hyper, work=None) -> None:
    for theta, g, v, (w, _) in zip(params, grads, state["velocity"], _scratch(work, len(params))):
        v *= h.momentum
        v -= np.multiply(eta, g, out=w)  # v <- mu v - eta g
        theta += v  # theta <- theta + v


def nesterov_update(params, grads, state: dict, eta: float, h: Hyper, work=None) -> None:
    """Nesterov momentum in the form that needs only the gradient at theta."""
    for theta, g, v, (w, u) in zip(params, grads, state["velocity"], _scratch(work, len(params))):
        previous = np.multiply(h.momentum, v, out=u)  # mu v_prev
        v *= h.momentum
        v -= np.multiply(eta, g, out=w)  # v <- mu v - eta g
        step = np.multiply(1 + h.momentum, v, out=w)
        step -= previous
        theta += step  # theta <- theta - mu v_prev + (1 + mu) v


# --- Adam ----------------------------------------------------------------------------

def adam_init(params: Sequence[Array]) -> dict:
    return {"m": [np.zeros_like(p) for p in params], "v": [np.zeros_like(p) for p in params], "t": 0}


def adam_update(params, grads, state: dict, eta: float, h: Hyper, work=None) -> None:
    state["t"] += 1  # t <- t + 1
    t = state["t"]
    correction1 = 1.0 - h.beta1**t  # 1 - beta1^t
    correction2 = 1.0 - h.beta2**t  # 1 - beta2^t
    for theta, g, m, v, (w, u) in zip(params, grads, state["m"], state["v"], _scratch(work, len(params))):
        m *= h.beta1
        m += np.multiply(1.0 - h.beta1, g, out=w)  # m <- beta1 m + (1 - beta1) g
        v *= h.beta2
        g_squared = np.multiply(g, g, out=w)
        v += np.multiply(1.0 - h.beta2, g_squared, out=w)  # v <- beta2 v + (1 - beta2) g^2
        m_hat = np.divide(m, correction1, out=w)  # m_hat <- m / (1 - beta1^t)
        v_hat = np.divide(v, correction2, out=u)  # v_hat <- v / (1 - beta2^t)
        denominator = np.sqrt(v_hat, out=u)
        denominator += h.epsilon
        step = np.multiply(eta, m_hat, out=w)
        step /= denominator
        theta -= step  # theta <- theta - eta m_hat / (sqrt(v_hat) + eps)


@dataclass(frozen=True)
class Optimizer:
    name: str
    init: Callable[[Sequence[Array]], dict]
    update: Callable[..., None]  # (params, grads, state, eta, hyper, work=None)
    scratch: int  # the scratch arrays per parameter ``update`` writes its intermediate results into
    hyper: tuple[str, ...] = ()  # the fields of Hyper the rule reads
    equation: str = ""  # the update as `explain` writes it


OPTIMIZERS: dict[str, Optimizer] = {
    "sgd": Optimizer("sgd", sgd_init, sgd_update, 1, (), "W <- W - eta dW,  b <- b - eta db"),
    "momentum": Optimizer("momentum", velocity_init, momentum_update, 1, ("momentum",),
                          "v <- mu v - eta dW (v starts at 0);  W <- W + v"),
    "nesterov": Optimizer("nesterov", velocity_init, nesterov_update, 2, ("momentum",),
                          "v <- mu v - eta dW (v starts at 0);  W <- W - mu v_prev + (1 + mu) v"),
    "adam": Optimizer("adam", adam_init, adam_update, 2, ("beta1", "beta2", "epsilon"),
                      "m <- b1 m + (1 - b1) dW;  v <- b2 v + (1 - b2) dW^2;  W <- W - eta m_hat / (sqrt(v_hat) + eps)"),
}
"""Optimizers by config name."""
