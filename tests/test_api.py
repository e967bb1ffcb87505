"""The Python API: the same training as the command line, on arrays."""

import csv
from pathlib import Path

import numpy as np
import pytest

import nnctl
from nnctl import run
from nnctl.checkpoint import load_checkpoint
from nnctl.config import load_config
from nnctl.errors import NnctlError

ROOT = Path(__file__).resolve().parent.parent


def _circles():
    rows = list(csv.reader((ROOT / "datasets" / "circles.csv").open()))[1:]
    X = np.array([[float(a), float(b)] for a, b, _ in rows])
    y = np.array([int(label) for _, _, label in rows])
    return X, y


def test_fit_on_arrays_equals_nnctl_train_on_the_csv(tmp_path):
    config = load_config(ROOT / "configs" / "circles.yaml", ["optimizer.epochs=20", f"output={tmp_path / 'cli'}"])
    run.train(config)
    X, y = _circles()
    model = nnctl.Model.from_config(ROOT / "configs" / "circles.yaml", ["optimizer.epochs=20"]).fit(X, y)
    trained = load_checkpoint(tmp_path / "cli" / "best.npz")
    for a, b in zip(model.layers, trained.layers):
        assert np.array_equal(a.W, b.W) and np.array_equal(a.b, b.b)
    assert model.summary_["best"] == {k: v for k, v in trained.meta["metrics"].items()}
    assert not (tmp_path / "runs").exists()  # fit writes nothing unless asked


def test_predict_save_load_and_labels_as_given(tmp_path):
    X, y = _circles()
    names = np.where(y == 1, "inner", "ring")
    model = nnctl.Model.from_config({"model": {"hidden": [8], "activation": "tanh"},
                                     "optimizer": {"learning_rate": 0.5, "epochs": 60}}).fit(X, names)
    assert model.classes_ == ["inner", "ring"]
    predicted = model.predict(X)
    assert set(predicted) == {"inner", "ring"} and np.mean(predicted == names) > 0.95
    P = model.predict_proba(X[:5])
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-6)
    model.save(tmp_path / "m.npz")
    again = nnctl.Model.load(tmp_path / "m.npz")
    assert np.array_equal(again.predict(X), predicted)
    with pytest.raises(NnctlError, match="not trained yet"):
        nnctl.Model.from_config({"loss": "mse"}).predict(X)


def test_regression_and_validation_arrays():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(300, 2))
    y = np.sin(2 * X[:, 0]) + 0.5 * X[:, 1] ** 2
    model = nnctl.Model.from_config({"model": {"hidden": [16], "activation": "tanh"}, "loss": "mse",
                                     "optimizer": {"learning_rate": 0.05, "epochs": 150}})
    model.fit(X[:240], y[:240], X_val=X[240:], y_val=y[240:])
    assert model.summary_["best"]["val_r2"] > 0.8
    assert model.predict(X).shape == (300,)
    with pytest.raises(NnctlError, match="gives scores, not probabilities"):
        model.predict_proba(X)
