"""L1 and L2 weight penalties.

    loss = data loss + lambda_1 * sum |W| + lambda_2 * sum W^2

summed over the weight matrices of every layer, never the biases.  The data
loss is a mean over samples and the penalty is not divided by n, so a
learning rate and lambdas carry over between batch sizes.  L2 prefers many
small weights: for x = [1, 1, 1, 1], w = [1, 0, 0, 0] and [.25, .25, .25, .25]
give the same x . w = 1, but L2 rates them 1 and 0.25 (L1 rates both 1).
The same two functions feed the reported loss and the gradient.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def penalty(weights: Sequence[np.ndarray], l1: float, l2: float) -> float:
    """lambda_1 * sum |W| + lambda_2 * sum W^2 over all weight matrices."""
    total = 0.0
    for W in weights:
        if l1:
            total += l1 * float(np.sum(np.abs(W), dtype=np.float64))
        if l2:
            total += l2 * float(np.sum(np.square(W, dtype=np.float64)))
    return total


def penalty_gradient(W: np.ndarray, l1: float, l2: float, out: np.ndarray | None = None,
                     term: np.ndarray | None = None) -> np.ndarray | None:
    """d penalty / dW = lambda_1 sign(W) + 2 lambda_2 W  (None when both are 0).

    ``out`` and ``term`` (arrays shaped like W) take the result and the second term,
    so that a training step allocates nothing; the values are the same without them."""
    if not l1 and not l2:
        return None
    grad = np.zeros_like(W) if out is None else out
    grad[...] = 0
    if l1:
        grad += np.multiply(l1, np.sign(W, out=term), out=term)
    if l2:
        grad += np.multiply(2.0 * l2, W, out=term)
    return grad
