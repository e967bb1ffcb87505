"""nnctl inspect: every figure equals the checkpoint's own arrays and metadata."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from nnctl.views import inspect as inspect_view
from nnctl.checkpoint import save_checkpoint
from nnctl.config import load_config
from nnctl.core.model import Layer
from nnctl.prep.transforms import Scaler
from nnctl.errors import CheckpointError
from nnctl.inspection import SMALL, array_stats, inspect_checkpoint, inspection_to_dict
from nnctl.run import train

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("inspect")
    circles = train(load_config(ROOT / "configs" / "circles.yaml", ["optimizer.epochs=5", f"output={tmp / 'c'}"]))
    regression = train(load_config(ROOT / "configs" / "regression.yaml",
                                   ["optimizer.epochs=5", f"output={tmp / 'r'}"]))
    return tmp / "c", tmp / "r", circles, regression


def _text(renderable, width: int = 160) -> str:
    console = Console(width=width, record=True, file=open("/dev/null", "w"))
    console.print(renderable)
    return console.export_text()


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def _expected_stats(values: np.ndarray) -> dict[str, float]:
    v = values.astype(np.float64).ravel()
    return {"count": v.size, "mean": v.sum() / v.size, "std": np.sqrt(((v - v.sum() / v.size) ** 2).mean()),
            "min": v.min(), "max": v.max(), "zeros": np.count_nonzero(v == 0) / v.size,
            "small": np.count_nonzero(np.abs(v) < 1e-3) / v.size}


@pytest.mark.parametrize("which", ["c", "r"])
def test_every_statistic_equals_the_checkpoints_arrays(runs, which):
    run_dir = runs[0] if which == "c" else runs[1]
    ins = inspect_checkpoint(run_dir)  # a run directory means its best.npz
    assert ins.path == run_dir / "best.npz"
    arrays = _arrays(run_dir / "best.npz")
    meta = json.loads(str(arrays["meta"]))
    assert ins.layer_sizes == meta["layer_sizes"] and ins.activations == meta["activations"]
    assert len(ins.layers) == len(meta["layer_sizes"]) - 1
    for layer in ins.layers:
        W, b = arrays[f"W{layer.index - 1}"], arrays[f"b{layer.index - 1}"]
        assert (layer.inputs, layer.outputs) == W.shape and layer.activation == meta["activations"][layer.index - 1]
        for stats, values in ((layer.weights, W), (layer.biases, b)):
            expected = _expected_stats(values)
            assert stats.count == expected["count"]
            assert stats.min == expected["min"] and stats.max == expected["max"]
            assert stats.zeros == expected["zeros"] and stats.small == expected["small"]
            assert stats.mean == pytest.approx(expected["mean"], rel=1e-12, abs=1e-15)
            assert stats.std == pytest.approx(expected["std"], rel=1e-12, abs=1e-15)
    assert ins.scaler_mean == arrays["scaler_mean"].tolist() and ins.scaler_scale == arrays["scaler_scale"].tolist()


def test_parameters_per_layer_are_inputs_plus_one_times_outputs(runs):
    circles, regression = inspect_checkpoint(runs[0]), inspect_checkpoint(runs[1])
    assert [layer.parameters for layer in circles.layers] == [(2 + 1) * 8, (8 + 1) * 2]
    assert circles.parameters == 42
    assert [layer.parameters for layer in regression.layers] == [(2 + 1) * 32, (32 + 1) * 32, (32 + 1) * 1]
    assert regression.parameters == 96 + 1056 + 33
    summary = json.loads((runs[1] / "summary.json").read_text())
    assert regression.parameters == summary["parameters"]


def test_the_stored_metadata_comes_through(runs):
    run_dir, result = runs[0], runs[2]
    ins = inspect_checkpoint(run_dir / "best.npz")
    meta = json.loads(str(_arrays(run_dir / "best.npz")["meta"]))
    summary = json.loads((run_dir / "summary.json").read_text())
    assert ins.epoch == summary["best_epoch"] == meta["epoch"]
    assert ins.metrics == meta["metrics"] == summary["best"]
    assert all(result.best_row[name] == value for name, value in ins.metrics.items())
    assert ins.config == meta["config"] and ins.config["optimizer"]["epochs"] == 5
    assert (ins.feature_names, ins.target_names, ins.classes) == (["x1", "x2"], ["label"], [0, 1])
    assert (ins.loss, ins.task, ins.seed, ins.format_version) == ("softmax_cross_entropy", "classification", 0, 1)
    assert ins.nnctl_version == meta["nnctl_version"]
    assert ins.output_units == ["0", "1"]
    assert ins.training_state is None  # best.npz holds no training state


def test_last_checkpoint_shows_its_training_state(runs):
    ins = inspect_checkpoint(runs[0] / "last.npz")
    state = json.loads(str(_arrays(runs[0] / "last.npz")["meta"]))["training_state"]
    assert ins.epoch == 5
    assert ins.training_state["epoch"] == state["epoch"] == 5 and ins.training_state["step"] == state["step"]
    assert ins.training_state["learning_rate"] == 0.5 and ins.training_state["optimizer"] == "sgd"
    assert ins.training_state["history_rows"] == 5
    assert "rng_state" not in ins.training_state and "best_meta" not in ins.training_state


def _hand_made(path: Path) -> None:
    W0 = np.array([[0.0, 5e-4, 0.2], [0.0, -1.0, 2.0]])
    b0 = np.array([0.0, 0.0, 1e-4])
    W1 = np.array([[1.0], [-2.0], [0.5]])
    b1 = np.array([0.25])
    layers = [Layer(W0, b0, "relu"), Layer(W1, b1, "sigmoid")]
    meta = {"loss": "binary_cross_entropy", "task": "classification", "feature_names": ["width", "a_very_long_name"],
            "target_names": ["label"], "classes": ["no", "yes"], "epoch": 3, "metrics": {"train_loss": 0.5},
            "seed": 7, "config": {"model": {"hidden": [3]}}}
    save_checkpoint(path, layers, Scaler.identity(2), meta)


def test_shares_of_zeros_and_small_weights_on_a_hand_made_checkpoint(tmp_path):
    _hand_made(tmp_path / "m.npz")
    ins = inspect_checkpoint(tmp_path / "m.npz")
    first = ins.layers[0]
    assert first.weights.zeros == 2 / 6 and first.weights.small == 3 / 6  # 0, 0 and 5e-4 < 1e-3
    assert first.biases.zeros == 2 / 3 and first.biases.small == 3 / 3
    assert first.weights.min == -1.0 and first.weights.max == 2.0
    assert first.weights.mean == pytest.approx((5e-4 + 0.2 - 1.0 + 2.0) / 6)
    assert ins.layers[1].biases == array_stats(np.array([0.25]))
    assert ins.layers[1].biases.std == 0.0
    assert ins.output_units == ["P(yes)"]  # one sigmoid unit: the probability of the second class
    assert SMALL == 1e-3


def test_inspection_to_dict_is_json(runs):
    document = inspection_to_dict(inspect_checkpoint(runs[0] / "last.npz"))
    again = json.loads(json.dumps(document, allow_nan=False))
    assert again["parameters"] == 42 and again["layer_sizes"] == [2, 8, 2]
    assert [layer["parameters"] for layer in again["layers"]] == [24, 18]
    assert set(again["layers"][0]["weights"]) == {"count", "mean", "std", "min", "max", "zeros", "small"}
    assert again["training_state"]["epoch"] == 5 and again["path"].endswith("last.npz")


def test_architecture_drawing_shows_units_bias_units_and_parameters(runs, tmp_path):
    text = inspect_view.architecture_text(inspect_checkpoint(runs[0])).plain
    lines = text.splitlines()
    assert lines[0].split() == ["input", "hidden", "1", "output"]
    assert "8 sigmoid + bias" in lines[1] and "2 softmax" in lines[1]
    assert "(x1)" in text and "(x2)" in text and "(h1)" in text and "(h8)" in text and "(0)" in text
    assert text.count("[1]") == 2  # beside the input and the hidden layer, not the output
    assert "3x8 = 24" in text and "9x2 = 18" in text and "W1, b1" in text and "W2, b2" in text
    assert "..." in text  # 8 units are more than MAX_UNITS: (h1)..(h4), ..., (h8)
    assert "(h5)" not in text
    wide = inspect_view.architecture_text(inspect_checkpoint(runs[1])).plain
    assert "(h32)" in wide and "33x32 = 1056" in wide and "hidden 2" in wide and "(y)" in wide
    _hand_made(tmp_path / "m.npz")
    small = inspect_view.architecture_text(inspect_checkpoint(tmp_path / "m.npz")).plain
    assert "(h1)" in small and "(h3)" in small and "..." not in small
    assert "(a_very_long~)" in small and "(P(yes))" in small


def test_inspection_view_renders_tables_and_metadata(runs):
    out = _text(inspect_view.inspection_view(inspect_checkpoint(runs[0] / "last.npz")))
    for expected in ("parameters", "weight statistics", "W1", "b2", "total", "42", "softmax_cross_entropy",
                     "format version", "nnctl version", "training state", "optimizer.learning_rate", "0.5",
                     "classes", "val accuracy"):
        assert expected in out, expected


def test_a_missing_or_damaged_checkpoint_is_one_error(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        inspect_checkpoint(tmp_path)  # a directory without best.npz
    (tmp_path / "x.npz").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="not a readable nnctl checkpoint"):
        inspect_checkpoint(tmp_path / "x.npz")
