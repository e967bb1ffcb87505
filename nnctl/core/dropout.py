"""Inverted dropout: hidden units switched off at random while training.

In every training step each unit j of hidden layer l is kept with probability 1 - p_l,
independently for every row i of the batch, and dropped (its output set to 0) otherwise:

    keep_ij ~ Bernoulli(1 - p_l)
    M_l[i, j] = keep_ij / (1 - p_l)              (the mask)
    A_l = f_l(Z_l) * M_l                         (model.forward, given the masks)
    dZ_l = (dA_l * M_l) * f_l'(Z_l)              (model.backward: a dropped unit passes no gradient)

No unit can count on another being there, which keeps the network from fitting the training rows
by co-adapted units (Srivastava et al. 2014).  Scaling the kept units by 1 / (1 - p_l) ("inverted"
dropout) keeps the expected output, E[A_l] = f_l(Z_l), so the trained network is used as it is:
evaluation, prediction and export drop nothing and rescale nothing.

The masks come from the run's generator, so the seed fixes them: at the start of every epoch,
after the shuffle, the generator gives one key (``epoch_key``), and step s of the epoch draws its
masks from a generator seeded with (key, s) (``step_masks``).  A run stopped at step s and resumed
draws the masks it would have drawn, and each seed of a stack (sweeps) draws those of its own run.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

Array = np.ndarray


def active(rates: Sequence[float]) -> bool:
    """Whether any hidden layer drops units."""
    return any(p > 0 for p in rates)


def epoch_key(rng: np.random.Generator) -> int:
    """The epoch's key, drawn from the run's generator after the shuffle."""
    return int(rng.integers(2**63))


def step_masks(rates: Sequence[float], key: int, step: int, out: Sequence[Array | None]) -> list[Array | None]:
    """Fill the masks of step ``step`` of the epoch with key ``key``: ``out[l]`` (rows, units of
    hidden layer l), in the network's dtype, for every layer with p_l > 0 (None where p_l = 0).

        u ~ U[0, 1);   M = (u >= p) / (1 - p)       (kept with probability 1 - p)
    """
    draw = np.random.default_rng([key, step])
    masks: list[Array | None] = []
    for p, mask in zip(rates, out):
        if p == 0:
            masks.append(None)
            continue
        draw.random(out=mask, dtype=mask.dtype)  # u, in place
        np.multiply(mask >= p, mask.dtype.type(1.0 / (1.0 - p)), out=mask)  # keep / (1 - p)
        masks.append(mask)
    return masks


def new_masks(rates: Sequence[float], widths: Sequence[int], lead: tuple[int, ...], dtype) -> list[Array | None]:
    """Empty mask arrays ``lead + (units,)`` for the hidden layers that drop units (None for the others)."""
    return [np.empty(lead + (width,), dtype) if p > 0 else None for p, width in zip(rates, widths)]


def fixed_masks(rates: Sequence[float], widths: Sequence[int], rows: int, seed: int, dtype) -> list[Array | None]:
    """One set of masks for ``rows`` rows, drawn as the first step of an epoch draws them, from a
    key that ``seed`` fixes: for a worked step (``nnctl explain``) and a gradient check, which hold
    the masks still."""
    return step_masks(rates, epoch_key(np.random.default_rng(seed)), 0, new_masks(rates, widths, (rows,), dtype))
