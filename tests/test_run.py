"""A training run end to end: standardisation, dtypes, losses and data layouts the CLI tests do not reach."""

import re
from pathlib import Path

import numpy as np
import pytest

from nnctl import run
from nnctl.prep import prepare
from nnctl.checkpoint import load_checkpoint
from nnctl.config import config_from_dict
from nnctl.data import load_dataset
from nnctl.prep.transforms import split_indices
from nnctl.errors import TrainingError
from nnctl.predict import predict_file

ROOT = Path(__file__).resolve().parent.parent
CIRCLES = str(ROOT / "datasets" / "circles.csv")


def _config(tmp_path, **sections):
    raw = {"data": {"train": CIRCLES, "target": "label"}, "output": str(tmp_path / "run"), **sections}
    return config_from_dict(raw, base_dir=tmp_path)


def test_standardisation_uses_the_training_rows_only(tmp_path):
    config = _config(tmp_path, optimizer={"epochs": 1})
    split_rng, _, _ = run.generators(config)
    data = prepare.prepare_data(config, split_rng)
    raw = load_dataset(CIRCLES, ("label",), None, "classification")
    train_rows, _ = split_indices(raw.y, 0.2, run.generators(config)[0], True)
    np.testing.assert_allclose(data.scaler.mean, raw.X[train_rows].mean(axis=0))
    np.testing.assert_allclose(data.scaler.scale, raw.X[train_rows].std(axis=0))
    assert not np.allclose(data.scaler.mean, raw.X.mean(axis=0))
    assert data.X_train.dtype == np.float32  # model.dtype: standardised in float64, rounded once
    np.testing.assert_allclose(data.X_train.mean(axis=0, dtype=np.float64), 0, atol=1e-7)
    run.train(config)
    np.testing.assert_array_equal(load_checkpoint(tmp_path / "run").scaler.mean, data.scaler.mean)


def test_float64_multi_output_regression_with_a_validation_file_and_full_batches(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(120, 3))
    Y = np.c_[X @ [1.0, -2.0, 0.5], np.sin(2 * X[:, 0])]
    for name, rows in (("train.csv", slice(0, 90)), ("val.csv", slice(90, None))):
        lines = ["a,b,c,y1,y2"] + [",".join(repr(float(v)) for v in [*x, *y]) for x, y in zip(X[rows], Y[rows])]
        (tmp_path / name).write_text("\n".join(lines) + "\n")
    config = config_from_dict({
        "data": {"train": "train.csv", "target": ["y1", "y2"], "validation": "val.csv"},
        "model": {"hidden": [16], "activation": "tanh", "dtype": "float64"},
        "loss": "mae", "optimizer": {"learning_rate": 0.05, "batch_size": None, "epochs": 300},
        "output": "run"}, base_dir=tmp_path)
    result = run.train(config)
    assert len(result.data.X_train) == 90 and len(result.data.X_val) == 30
    assert result.layers[0].W.dtype == np.float64
    assert result.history.best.validation.metrics["r2"] > 0.5
    ckpt = load_checkpoint(tmp_path / "run")
    assert ckpt.layers[-1].W.shape == (16, 2) and ckpt.meta["target_names"] == ["y1", "y2"]
    predictions = predict_file(tmp_path / "run", tmp_path / "val.csv")
    assert predictions.columns == ["predicted_y1", "predicted_y2"]
    assert predictions.metrics["mae"] == pytest.approx(result.history.best.validation.metrics["mae"], rel=1e-9)


@pytest.mark.parametrize("activation,data", [("leaky_relu", "gaussians"), ("identity", "linear")])
def test_hinge_trains_binary_and_multiclass(tmp_path, activation, data):
    config = config_from_dict({
        "data": {"train": str(ROOT / "datasets" / f"{data}.csv"), "target": "label"},
        "model": {"hidden": [8], "activation": activation}, "loss": "hinge",
        "optimizer": {"learning_rate": 0.1, "epochs": 60}, "output": str(tmp_path / "run")})
    result = run.train(config)
    n_classes = len(result.data.dataset.classes)
    assert result.layers[-1].W.shape[1] == (1 if n_classes == 2 else n_classes)
    assert result.history.best.validation.metrics["accuracy"] >= 0.9


def test_a_run_that_diverges_later_keeps_its_last_finite_epoch(tmp_path):
    config = _config(tmp_path, loss="mse", data={"train": str(ROOT / "datasets" / "regression.csv"), "target": "y"},
                     model={"hidden": []}, optimizer={"learning_rate": 1.5, "batch_size": None, "epochs": 500})
    with pytest.raises(TrainingError) as caught:
        run.train(config)
    message = str(caught.value)
    epoch = int(re.search(r"at epoch (\d+), step \d+:", message).group(1))
    assert epoch > 1 and "lower optimizer.learning_rate (now 1.5)" in message
    assert f"hold epoch {epoch - 1}, the last finite one" in message
    last = load_checkpoint(tmp_path / "run" / "last.npz")
    assert last.meta["epoch"] == epoch - 1
    assert all(np.isfinite(layer.W).all() for layer in last.layers)


def test_a_run_that_diverges_at_once_leaves_an_earlier_run_untouched(tmp_path):
    good = _config(tmp_path, optimizer={"epochs": 3})
    run.train(good)
    before = {name: (tmp_path / "run" / name).read_bytes() for name in ("best.npz", "last.npz", "config.yaml")}
    huge = tmp_path / "huge.csv"
    huge.write_text("a,b,y\n" + "".join(f"{i * 1e6},{-i * 3e5},{i * 5e6}\n" for i in range(40)))
    bad = _config(tmp_path, loss="mse", model={"hidden": [4], "activation": "relu"},
                  optimizer={"learning_rate": 1e6, "epochs": 3},
                  data={"train": str(huge), "target": "y", "standardize": False})
    with pytest.raises(TrainingError, match="no epoch finished with finite values, so nothing was written"):
        run.train(bad)
    assert {name: (tmp_path / "run" / name).read_bytes() for name in before} == before


def test_targets_beyond_the_dtype_are_one_clear_error(tmp_path):
    from nnctl.errors import DataError

    data = tmp_path / "big.csv"
    data.write_text("x,y\n1,2\n2,1e25\n3,4\n4,5\n5,6\n")
    config = config_from_dict({"data": {"train": str(data), "target": "y", "standardize_target": False},
                               "loss": "mse", "output": str(tmp_path / "run")})
    with pytest.raises(DataError, match="column 'y' holds values beyond 1.84e\\+19, too large for model.dtype float32"):
        run.train(config)
    scaled = config_from_dict({"data": {"train": str(data), "target": "y"}, "loss": "mse",  # z-scored: it fits
                               "optimizer": {"epochs": 1}, "output": str(tmp_path / "run")})
    assert run.train(scaled).rows[0]["train_mse"] > 1e40  # reported in the target's own units, in float64
    wide = config_from_dict({"data": {"train": str(data), "target": "y"}, "loss": "mse", "model": {"dtype": "float64"},
                             "optimizer": {"epochs": 1, "learning_rate": 1e-60}, "output": str(tmp_path / "run")})
    assert run.train(wide).rows[0]["epoch"] == 1
