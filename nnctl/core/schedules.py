"""Learning-rate schedules: the rate for the next epoch, from the epochs done so far.

    constant      eta_e = eta_0
    step          eta_e = eta_0 * factor^floor(e / every)
    exponential   eta_e = eta_0 * factor^e
    plateau       eta <- max(eta * factor, min_learning_rate) after `patience` epochs
                  in which the monitored value did not improve by more than min_delta

e counts completed epochs, so the first epoch always runs at eta_0.  The
plateau schedule keeps its bookkeeping in a small dict that a checkpoint holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Schedule:
    name: str = "constant"  # constant, step, exponential or plateau
    factor: float = 0.5  # what the rate is multiplied by (per step, per epoch, per plateau)
    every: int = 10  # step: epochs between two decays
    patience: int = 10  # plateau: epochs without improvement before a decay
    min_delta: float = 0.0  # plateau: the least change that counts as an improvement
    min_learning_rate: float = 0.0  # plateau: never below this


def initial_state() -> dict:
    """Plateau bookkeeping: the best monitored value so far and the epochs since."""
    return {"best": None, "waited": 0}


def constant(schedule: Schedule, eta0: float, eta: float, done: int, monitored: float, lower: bool, state: dict) -> float:
    return eta0  # eta_e = eta_0


def step(schedule: Schedule, eta0: float, eta: float, done: int, monitored: float, lower: bool, state: dict) -> float:
    return eta0 * schedule.factor ** (done // schedule.every)  # eta_e = eta_0 factor^floor(e / every)


def exponential(schedule: Schedule, eta0: float, eta: float, done: int, monitored: float, lower: bool,
                state: dict) -> float:
    return eta0 * schedule.factor**done  # eta_e = eta_0 factor^e


def plateau(schedule: Schedule, eta0: float, eta: float, done: int, monitored: float, lower: bool,
            state: dict) -> float:
    """eta <- max(eta factor, min_learning_rate) once `patience` epochs in a row did not improve."""
    if improved(monitored, state["best"], schedule.min_delta, lower):
        state["best"], state["waited"] = monitored, 0
        return eta
    state["waited"] += 1
    if state["waited"] < schedule.patience:
        return eta
    state["waited"] = 0
    return max(eta * schedule.factor, schedule.min_learning_rate)


RULES = {"constant": constant, "step": step, "exponential": exponential, "plateau": plateau}
SCHEDULES = tuple(RULES)


def next_learning_rate(schedule: Schedule, eta0: float, eta: float, epochs_done: int,
                       monitored: float, lower_is_better: bool, state: dict) -> float:
    """The learning rate for epoch ``epochs_done + 1``; updates ``state`` in place."""
    return RULES[schedule.name](schedule, eta0, eta, epochs_done, monitored, lower_is_better, state)


def improved(value: float, best: float | None, min_delta: float, lower_is_better: bool) -> bool:
    """Better than ``best`` by more than ``min_delta`` (any finite value beats None)."""
    if best is None or (isinstance(best, float) and math.isnan(best)):
        return True
    return value < best - min_delta if lower_is_better else value > best + min_delta
