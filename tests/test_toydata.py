"""nnctl.toydata: shapes, balance, determinism and the geometry of each set."""

import numpy as np
import pytest

from nnctl import toydata

CLASSIFIERS = {"linear": 2, "xor": 2, "circles": 2, "moons": 2, "spirals": 2, "gaussians": 3}


def make(kind, n=300, noise=0.05, seed=0):
    return toydata.make(kind, n, noise, np.random.default_rng(seed))


def test_kinds():
    assert set(toydata.KINDS) == set(CLASSIFIERS) | {"regression"}


@pytest.mark.parametrize("kind, n_classes", CLASSIFIERS.items())
def test_classification_shapes_and_balance(kind, n_classes):
    X, y, features, target = make(kind, n=101)
    assert X.shape == (101, 2) and X.dtype == np.float64
    assert y.shape == (101,) and y.dtype == np.int64
    assert features == ("x1", "x2") and target == "label"
    counts = np.bincount(y)
    assert len(counts) == n_classes
    assert counts.max() - counts.min() <= 1
    assert np.all(np.isfinite(X))


@pytest.mark.parametrize("kind", toydata.KINDS)
def test_same_seed_same_data_other_seed_other_data(kind):
    X1, y1, _, _ = make(kind, seed=3)
    X2, y2, _, _ = make(kind, seed=3)
    X3, _, _, _ = make(kind, seed=4)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


@pytest.mark.parametrize("kind", CLASSIFIERS)
def test_rows_are_shuffled(kind):
    _, y, _, _ = make(kind, n=200)
    assert not np.array_equal(y, np.sort(y))
    assert not np.array_equal(y, np.arange(200) % (y.max() + 1))


def test_regression_target_is_the_stated_function_plus_noise():
    X, y, features, target = make("regression", n=500, noise=0.0)
    assert y.shape == (500,) and y.dtype == np.float64
    assert features == ("x1", "x2") and target == "y"
    np.testing.assert_allclose(y, np.sin(2 * X[:, 0]) + 0.5 * X[:, 1] ** 2)
    X, y, _, _ = make("regression", n=5000, noise=0.1)
    residual = y - (np.sin(2 * X[:, 0]) + 0.5 * X[:, 1] ** 2)
    assert abs(residual.std() - 0.1) < 0.01


def test_circles_inner_class_is_closer_to_the_origin():
    X, y, _, _ = make("circles", n=400, noise=0.05)
    radius = np.linalg.norm(X, axis=1)
    assert abs(np.median(radius[y == 1]) - 0.5) < 0.05
    assert abs(np.median(radius[y == 0]) - 1.0) < 0.05
    assert radius[y == 1].max() < radius[y == 0].min()


def test_noise_zero_puts_points_on_the_geometry():
    X, y, _, _ = make("circles", noise=0.0)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), np.where(y == 1, 0.5, 1.0))
    X, y, _, _ = make("xor", noise=0.0)
    assert np.all((X[:, 0] * X[:, 1] > 0) == (y == 1))
    X, y, _, _ = make("linear", noise=0.0)
    margin = (X[:, 0] + X[:, 1]) / np.sqrt(2) * np.where(y == 1, 1, -1)
    assert margin.min() >= 0.1 - 1e-12


def least_squares_accuracy(X, y):
    """Fit w on [X, 1] to targets -1/+1 and classify by the sign of X w."""
    A = np.column_stack([X, np.ones(len(X))])
    w, *_ = np.linalg.lstsq(A, np.where(y == 1, 1.0, -1.0), rcond=None)
    return np.mean((A @ w > 0) == (y == 1))


def test_a_linear_classifier_solves_linear_but_not_circles():
    assert least_squares_accuracy(*make("linear", n=1000, noise=0.05)[:2]) > 0.95
    assert least_squares_accuracy(*make("circles", n=1000, noise=0.05)[:2]) < 0.70
    assert least_squares_accuracy(*make("xor", n=1000, noise=0.05)[:2]) < 0.70


def test_gaussians_cluster_around_three_centres():
    X, y, _, _ = make("gaussians", n=3000, noise=0.0)
    centres = np.array([X[y == k].mean(axis=0) for k in range(3)])
    np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 1.0, atol=0.05)
    np.testing.assert_allclose(X[y == 0].std(axis=0), 0.25, atol=0.03)


def test_moons_follow_sklearn_geometry():
    X, y, _, _ = make("moons", noise=0.0)
    np.testing.assert_allclose(np.linalg.norm(X[y == 0], axis=1), 1.0)
    np.testing.assert_allclose(np.linalg.norm(X[y == 1] - [1.0, 0.5], axis=1), 1.0)
    assert np.all(X[y == 0, 1] >= 0) and np.all(X[y == 1, 1] <= 0.5)


def test_spirals_arms_are_half_a_turn_apart():
    X, y, _, _ = make("spirals", noise=0.0)
    radius = np.linalg.norm(X, axis=1)
    expected_angle = 3 * np.pi * radius + np.pi * y
    angle = np.arctan2(X[:, 1], X[:, 0])
    np.testing.assert_allclose(np.cos(angle - expected_angle), 1.0, atol=1e-9)


def test_bad_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown toy data kind 'blobs'; kinds are: linear, xor"):
        toydata.make("blobs", 10, 0.1, rng)
    with pytest.raises(ValueError, match="n must be at least 1"):
        toydata.make("xor", 0, 0.1, rng)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        toydata.make("xor", 10, -0.1, rng)


def test_generators_use_only_the_given_generator(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("global np.random state used")

    for name in ("rand", "randn", "uniform", "normal", "permutation", "shuffle", "choice"):
        monkeypatch.setattr(np.random, name, forbidden)
    for kind in toydata.KINDS:
        make(kind, n=10)
