"""Gradient check: backpropagation against central finite differences, on a config's own network.

The network is built as ``nnctl train`` builds it (same generators, same data split, same
standardisation, same initial weights), but in float64, and fed the first ``rows`` training
rows as they are, with their row weights if the config has any.  For every parameter theta
(or a seeded sample of each large array) the objective

    L(theta) = data loss (mean over the rows, weighted) + l1 sum |W| + l2 sum W^2

is differentiated twice:

    analytic  a = dL/dtheta from backpropagation (``core.training.gradients``, what training uses)
    numerical n = (L(theta + eps) - L(theta - eps)) / (2 eps),   eps = 1e-5

and compared entry by entry with the relative error

    |a - n| / max(|a|, |n|, FLOOR),   FLOOR = 1e-4.

The floor: a gradient of 1e-9 computed as 1.3e-9 is a 30% relative error but only round-off
(the difference quotient carries an absolute error of about 1e-16 / eps = 1e-11, and more on
the loss's scale).  Below FLOOR the error is taken relative to FLOOR, so a tiny gradient must
agree to FLOOR * tolerance = 1e-10 in absolute terms.  An array passes when its largest
relative error is at most ``tolerance`` (1e-6 by default; float64 with eps = 1e-5 usually gives
1e-9 or better, a wrong derivative 1e-2 or worse).

Dropout: with ``model.dropout``, each hidden layer's outputs are multiplied by a mask (0 for a
dropped unit, 1 / (1 - p) for a kept one: core/dropout.py).  The check draws one set of masks for
its rows, seeded by the config's seed, and holds it fixed: both the analytic and the numerical
gradient are of L with those masks, so the mask's place in the chain rule is checked too.  A row
whose kept units of a layer all output 0 keeps one more that does not: else the next layer's sums
for that row would be its biases alone, which start at exactly 0, on relu's kink.

Kinks: relu and leaky_relu at z = 0, the mae loss at z = t, the hinge loss at its margin, and
the L1 penalty at w = 0 have no derivative.  When a value sits within eps of its kink the two
sides of the difference quotient see different slopes, and that entry can fail although
backprop is right.  With float64 and the data rows as they are (no rounding onto a grid) this is
rare; ``near_kinks`` counts the values within ``KINK_DISTANCE`` of a kink, so a FAIL next to a
non-zero count can be told apart from a wrong derivative (which fails by far more, everywhere).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnctl.config import Config
from nnctl.core.dropout import active as dropout_active
from nnctl.core.activations import ACTIVATIONS
from nnctl.core.dropout import fixed_masks
from nnctl.core.losses import Loss
from nnctl.core.model import Layer, forward, layer_sizes
from nnctl.core.regularizers import penalty
from nnctl.core.training import gradients, parameters
from nnctl.batch import first_rows

Array = np.ndarray

EPS = 1e-5  # central differences: truncation ~ eps^2, round-off ~ 1e-16 / eps; both ~ 1e-11
FLOOR = 1e-4  # the least denominator of the relative error (see the module docstring)
KINK_DISTANCE = 1e-4  # values closer than this to a kink are counted in ``near_kinks``


@dataclass(frozen=True)
class ArrayCheck:
    """The comparison for one parameter array: a layer's weights or its biases."""

    layer: int  # 1-based, as in the math: Z_l = A_(l-1) W_l + b_l
    kind: str  # "weights" or "biases"
    shape: tuple[int, ...]
    checked: int  # entries compared (all of them, or a sample of at most max_params)
    max_abs_error: float  # max |a - n|
    max_rel_error: float  # max |a - n| / max(|a|, |n|, FLOOR)
    worst: tuple[int, ...]  # index of the entry with the largest relative error
    passed: bool  # max_rel_error <= tolerance

    @property
    def name(self) -> str:
        """'W1', 'b1', ...: the array's name in the math."""
        return f"{'W' if self.kind == 'weights' else 'b'}{self.layer}"

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass(frozen=True)
class GradcheckResult:
    """Per layer, weights and biases apart, in order (W1, b1, W2, b2, ...)."""

    arrays: list[ArrayCheck]
    layer_sizes: list[int]  # [n_inputs, *hidden, n_outputs]
    activations: list[str]  # per layer: the hidden activations, then the output activation
    loss: str
    l1: float
    l2: float
    rows: int  # training rows the objective was computed on
    objective: float  # L at the initial weights: data loss + penalty
    eps: float
    tolerance: float
    floor: float
    max_params: int  # the most entries checked per array
    near_kinks: int  # values within KINK_DISTANCE of a kink (see the module docstring)
    dropout: tuple[float, ...] = ()  # p per hidden layer, when the check held dropout masks fixed
    dropped: int = 0  # hidden outputs the fixed masks drop
    kept_back: int = 0  # units kept in rows whose kept units all output 0 (see the module docstring)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.arrays)

    @property
    def checked(self) -> int:
        return sum(check.checked for check in self.arrays)

    @property
    def sampled(self) -> bool:
        """True when some array was checked on a sample of its entries."""
        return any(check.checked < check.size for check in self.arrays)


def gradcheck(config: Config, rows: int = 8, max_params: int = 2000, tolerance: float = 1e-6) -> GradcheckResult:
    """Compare backprop with central differences for every parameter of the configured network.

    Arrays with more than ``max_params`` entries are checked on ``max_params`` entries drawn
    without replacement by a generator seeded with the config's seed (the same entries each run).
    """
    if max_params < 1:
        raise ValueError(f"max_params must be at least 1, got {max_params}")
    batch = first_rows(config, rows, dtype="float64")
    layers, loss = batch.layers, batch.loss
    l1, l2 = config.regularization.l1, config.regularization.l2

    rates = config.model.hidden_dropout if dropout_active(config.model.hidden_dropout) else ()
    masks, kept_back = None, 0
    if rates:
        masks = fixed_masks(rates, [layer.W.shape[1] for layer in layers[:-1]], len(batch.X), config.seed,
                            layers[0].W.dtype)
        kept_back = _keep_one(layers, batch.X, masks, rates)

    def objective() -> float:
        Z = forward(layers, batch.X, masks=masks)[1][-1]
        return loss.value(Z, batch.T, batch.weights) + penalty([layer.W for layer in layers], l1, l2)

    analytic = gradients(layers, loss, batch.X, batch.T, l1, l2, batch.weights, masks)
    rng = np.random.default_rng(config.seed)
    checks = []
    for position, (theta, a) in enumerate(zip(parameters(layers), analytic)):
        flat_theta, flat_a = theta.reshape(-1), a.reshape(-1)  # views: writing flat_theta moves theta
        if theta.size > max_params:
            entries = np.sort(rng.choice(theta.size, size=max_params, replace=False))
        else:
            entries = np.arange(theta.size)
        numerical = np.empty(len(entries))
        for k, i in enumerate(entries):
            kept = flat_theta[i]
            flat_theta[i] = kept + EPS
            up = objective()
            flat_theta[i] = kept - EPS
            down = objective()
            flat_theta[i] = kept
            numerical[k] = (up - down) / (2 * EPS)
        chosen = flat_a[entries]
        absolute = np.abs(chosen - numerical)
        relative = absolute / np.maximum(np.maximum(np.abs(chosen), np.abs(numerical)), FLOOR)
        worst = int(np.argmax(relative))
        checks.append(ArrayCheck(
            layer=position // 2 + 1, kind="weights" if position % 2 == 0 else "biases", shape=theta.shape,
            checked=len(entries), max_abs_error=float(absolute.max()), max_rel_error=float(relative[worst]),
            worst=tuple(int(j) for j in np.unravel_index(entries[worst], theta.shape)),
            passed=bool(relative[worst] <= tolerance),
        ))
    return GradcheckResult(
        arrays=checks, layer_sizes=layer_sizes(layers), activations=[layer.activation for layer in layers],
        loss=config.loss, l1=l1, l2=l2, rows=len(batch.X), objective=objective(), eps=EPS, tolerance=tolerance,
        floor=FLOOR, max_params=max_params, near_kinks=near_kinks(layers, loss, batch.X, batch.T, l1, masks),
        dropout=tuple(rates), dropped=sum(int(np.sum(mask == 0)) for mask in masks or () if mask is not None),
        kept_back=kept_back,
    )



def _keep_one(layers: list[Layer], X: Array, masks: list[Array | None], rates: tuple[float, ...]) -> int:
    """Keep one more unit in every row whose kept units all output 0 (while a unit it dropped does
    not): that row would feed the next layer nothing, leaving its sums at the biases.  Changes the
    masks in place; returns how many units it kept so."""
    kept = 0
    for l, (mask, p) in enumerate(zip(masks, rates)):
        if mask is None:
            continue
        _, sums = forward(layers, X, masks=masks)
        output = ACTIVATIONS[layers[l].activation].forward(sums[l].copy())  # f(Z_l) before the mask
        for row in np.flatnonzero(~np.any(output * mask != 0, axis=1)):
            alive = np.flatnonzero(output[row] != 0)
            if alive.size:
                mask[row, alive[0]] = 1.0 / (1.0 - p)
                kept += 1
    return kept


def near_kinks(layers: list[Layer], loss: Loss, X: Array, T: Array, l1: float,
               masks: list[Array | None] | None = None) -> int:
    """How many values lie within KINK_DISTANCE of a point without a derivative: relu-like
    pre-activations at 0, weights at 0 under L1, mae residuals at 0, hinge margins at 0."""
    _, sums = forward(layers, X, masks=masks)
    close = 0
    for layer, Z in zip(layers[:-1], sums[:-1]):
        if layer.activation in ("relu", "leaky_relu"):
            close += int(np.sum(np.abs(Z) < KINK_DISTANCE))
    if l1:
        close += sum(int(np.sum(np.abs(layer.W) < KINK_DISTANCE)) for layer in layers)
    Z = sums[-1]
    if loss.name == "mae":
        close += int(np.sum(np.abs(Z - T) < KINK_DISTANCE))
    elif loss.name == "hinge":
        if Z.shape[1] == 1:
            margins = 1.0 - T * Z  # the kink of max(0, 1 - t z)
        else:  # the kinks of max(0, z_j - z_y + 1), j != y
            margins = (Z - np.sum(T * Z, axis=1, keepdims=True) + 1.0)[T == 0]
        close += int(np.sum(np.abs(margins) < KINK_DISTANCE))
    return close
