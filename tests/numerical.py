"""Central finite differences, for the tests that check backpropagation against them."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


def numerical_gradients(objective: Callable[[], float], arrays: Sequence[np.ndarray], eps: float) -> list[np.ndarray]:
    """(L(theta + eps) - L(theta - eps)) / (2 eps) for every entry of every array, each moved in
    place and put back; ``objective`` reads the arrays as they are."""
    found = []
    for array in arrays:
        gradient = np.empty(array.shape)
        for index in np.ndindex(array.shape):
            kept = array[index]
            array[index] = kept + eps
            up = objective()
            array[index] = kept - eps
            down = objective()
            array[index] = kept
            gradient[index] = (up - down) / (2 * eps)
        found.append(gradient)
    return found


def worst_relative_error(analytic: Sequence[np.ndarray], numerical: Sequence[np.ndarray], floor: float) -> float:
    """max over entries of |a - n| / max(|a|, |n|, floor)."""
    return max(float(np.max(np.abs(a - n) / np.maximum(np.maximum(np.abs(a), np.abs(n)), floor)))
               for a, n in zip(analytic, numerical))
