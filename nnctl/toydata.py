"""The classic two-feature toy data sets, in pure NumPy (no I/O, no global state).

Every generator has the signature ``(n, noise, rng) -> (X, y)``: ``X`` is
``(n, 2)`` float64; ``y`` is ``(n,)`` int64 class labels (balanced: the class
sizes differ by at most one) or float64 values for ``regression``.  Rows come
shuffled with ``rng``.  ``noise`` is the standard deviation of Gaussian jitter
added to every point (to ``y`` for ``regression``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

FEATURE_NAMES = ("x1", "x2")


def linear(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two classes on either side of the line x1 + x2 = 0, points in a 2x2 square
    turned 45 degrees; a margin of 0.1 on each side keeps them separable at noise 0.
    Label 1 is where x1 + x2 > 0."""
    y = _balanced_labels(n, 2)
    along = rng.uniform(-1.0, 1.0, n)
    across = rng.uniform(0.1, 1.0, n) * np.where(y == 1, 1.0, -1.0)
    X = np.column_stack([along + across, -along + across]) / np.sqrt(2.0)
    return _finish(X, y, noise, rng)


def xor(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Four quadrants of the square [-1, 1]^2, each point at least 0.1 from the axes:
    label 1 where x1 and x2 have the same sign (first and third quadrants)."""
    y = _balanced_labels(n, 2)
    sign1 = rng.choice([-1.0, 1.0], n)
    sign2 = np.where(y == 1, sign1, -sign1)
    X = np.column_stack([sign1, sign2]) * rng.uniform(0.1, 1.0, (n, 2))
    return _finish(X, y, noise, rng)


def circles(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """An inner circle of radius 0.5 (label 1) inside an outer ring of radius 1
    (label 0), both centred on the origin: not linearly separable."""
    y = _balanced_labels(n, 2)
    radius = np.where(y == 1, 0.5, 1.0)
    X = radius[:, None] * _unit_vectors(rng.uniform(0.0, 2.0 * np.pi, n))
    return _finish(X, y, noise, rng)


def moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles of radius 1 (as sklearn's make_moons): the
    upper one centred on (0, 0) is label 0, the lower one centred on (1, 0.5) is label 1."""
    y = _balanced_labels(n, 2)
    t = rng.uniform(0.0, np.pi, n)
    upper = _unit_vectors(t)
    lower = np.array([1.0, 0.5]) - upper
    X = np.where((y == 1)[:, None], lower, upper)
    return _finish(X, y, noise, rng)


def spirals(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals of 1.5 turns from near the origin out to radius 1;
    the spiral of label 1 is the spiral of label 0 turned by 180 degrees."""
    y = _balanced_labels(n, 2)
    t = rng.uniform(0.05, 1.0, n)  # radius; the angle grows with it
    X = t[:, None] * _unit_vectors(3.0 * np.pi * t + np.pi * y)
    return _finish(X, y, noise, rng)


def gaussians(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Three round Gaussian blobs (labels 0, 1, 2) of standard deviation 0.25, centred
    at unit distance from the origin, 120 degrees apart; noise widens them further."""
    y = _balanced_labels(n, 3)
    centres = _unit_vectors(np.pi / 2.0 + 2.0 * np.pi / 3.0 * np.arange(3))
    X = centres[y] + rng.normal(0.0, 0.25, (n, 2))
    return _finish(X, y, noise, rng)


def regression(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Points uniform on [-1.5, 1.5]^2 and the smooth target
    y = sin(2 * x1) + 0.5 * x2^2, plus Gaussian noise on y."""
    X = rng.uniform(-1.5, 1.5, (n, 2))
    y = np.sin(2.0 * X[:, 0]) + 0.5 * X[:, 1] ** 2 + rng.normal(0.0, noise, n)
    order = rng.permutation(n)  # already random; shuffled for symmetry with the others
    return X[order], y[order]


KINDS: dict[str, Callable[[int, float, np.random.Generator], tuple[np.ndarray, np.ndarray]]] = {
    "linear": linear,
    "xor": xor,
    "circles": circles,
    "moons": moons,
    "spirals": spirals,
    "gaussians": gaussians,
    "regression": regression,
}

REGRESSION_KINDS = frozenset({"regression"})
TABLE_KINDS = ("mixed",)  # tables of named columns of numbers and text, made by ``mixed``


def make(
    kind: str, n: int, noise: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], str]:
    """``(X, y, feature_names, target_name)`` for one of ``KINDS``.

    The target is named ``"y"`` for regression and ``"label"`` for classification.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown toy data kind {kind!r}; kinds are: {', '.join(KINDS)}")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if not noise >= 0.0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    X, y = KINDS[kind](n, noise, rng)
    return X, y, FEATURE_NAMES, "y" if kind in REGRESSION_KINDS else "label"


MIXED_COLUMNS = ("id", "age", "income", "visits", "plan", "region", "spend", "bought")
PLANS = {"basic": 0.0, "plus": 80.0, "premium": 200.0}  # plan -> its share of spend
REGIONS = {"north": 0.0, "south": 30.0, "east": -20.0, "west": 50.0}  # region -> its share of spend


def mixed(n: int, noise: float, rng: np.random.Generator) -> tuple[tuple[str, ...], list[list]]:
    """A table like the ones practitioners bring: ``(columns, rows)`` of customers.

    id      C00001, C00002, ...: an identifier, never a feature
    age     whole years 18-80; 8% of the cells empty
    income  thousands, log-normal around 60; 10% of the cells 'NA'
    visits  a count (Poisson, mean 4); 5% of the cells '?'
    plan    basic, plus or premium (text)
    region  north, south, east or west (text); 3% of the cells empty
    spend   the regression target, in the hundreds:
            300 + 60 z_income + 40 sin(2 z_age) + 25 (visits - 4) + plan + region + noise;
            1% of the cells empty (those rows are left out by training)
    bought  the binary target, yes or no: the sign of
            0.9 z_income + 0.5 (visits - 4) - 0.8 z_age^2 + plan / 100 - 0.8 + logistic noise

    with z_age = (age - 49) / 18 and z_income = (ln income - ln 60) / 0.5.  The numbers
    behind a missing cell still make the targets, as in real data.  ``noise`` scales the
    targets' noise (standard deviation 300 * noise for spend; scale 4 * noise of bought's
    logistic noise).
    """
    age = rng.integers(18, 81, n)
    income = np.round(np.exp(np.log(60.0) + 0.5 * rng.normal(size=n)), 1)
    visits = rng.poisson(4.0, n)
    plan = rng.choice(list(PLANS), n, p=[0.5, 0.3, 0.2])
    region = rng.choice(list(REGIONS), n)
    z_age, z_income = (age - 49) / 18.0, (np.log(income) - np.log(60.0)) / 0.5
    plan_share, region_share = np.array([PLANS[p] for p in plan]), np.array([REGIONS[r] for r in region])
    spend = (300 + 60 * z_income + 40 * np.sin(2 * z_age) + 25 * (visits - 4) + plan_share + region_share
             + rng.normal(0.0, 300.0 * noise, n))
    logit = 0.9 * z_income + 0.5 * (visits - 4) - 0.8 * z_age ** 2 + plan_share / 100 - 0.8
    bought = np.where(logit + rng.logistic(0.0, 4.0 * noise, n) > 0, "yes", "no")
    cells = {
        "id": [f"C{i + 1:05d}" for i in range(n)],
        "age": _with_holes(age.tolist(), 0.08, "", rng),
        "income": _with_holes(income.tolist(), 0.10, "NA", rng),
        "visits": _with_holes(visits.tolist(), 0.05, "?", rng),
        "plan": plan.tolist(),
        "region": _with_holes(region.tolist(), 0.03, "", rng),
        "spend": _with_holes(np.round(np.maximum(spend, 20.0), 2).tolist(), 0.01, "", rng),
        "bought": bought.tolist(),
    }
    return MIXED_COLUMNS, [list(row) for row in zip(*(cells[name] for name in MIXED_COLUMNS))]


def _with_holes(values: list, share: float, marker: str, rng: np.random.Generator) -> list:
    """``values`` with about ``share`` of them replaced by ``marker``."""
    holes = rng.random(len(values)) < share
    return [marker if hole else value for value, hole in zip(values, holes)]


def _balanced_labels(n: int, n_classes: int) -> np.ndarray:
    """(n,) int64 labels 0, 1, ..., 0, 1, ...: class sizes differ by at most one."""
    return np.arange(n, dtype=np.int64) % n_classes


def _unit_vectors(angles: np.ndarray) -> np.ndarray:
    """(len(angles), 2) points (cos a, sin a) on the unit circle."""
    return np.column_stack([np.cos(angles), np.sin(angles)])


def _finish(
    X: np.ndarray, y: np.ndarray, noise: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Add Gaussian jitter of standard deviation ``noise`` and shuffle the rows."""
    X = X + rng.normal(0.0, noise, X.shape)
    order = rng.permutation(len(y))
    return X[order], y[order]
