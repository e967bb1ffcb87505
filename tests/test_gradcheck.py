"""nnctl.gradcheck: backprop against central differences on the shipped configs' own networks."""

import io
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from nnctl.config import load_config
from nnctl.core.activations import ACTIVATIONS, Activation, sigmoid
from nnctl.core.losses import LOSSES
from nnctl.core.model import count_parameters
from nnctl.batch import first_rows
from nnctl.gradcheck import FLOOR, gradcheck
from nnctl.views.gradcheck import gradcheck_table, gradcheck_to_dict, gradcheck_view

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


def _config(name: str, *overrides: str):
    return load_config(ROOT / "configs" / f"{name}.yaml", list(overrides))


def _text(renderable) -> str:
    console = Console(file=io.StringIO(), width=200)
    console.print(renderable)
    return console.file.getvalue()


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_backprop_passes_on_every_shipped_config(path):
    result = gradcheck(load_config(path), max_params=20_000)  # every entry, also of dropout.yaml's 128 x 128
    assert result.passed, [(c.name, c.max_rel_error) for c in result.arrays]
    # every parameter is checked, weights and biases apart, layer by layer
    assert result.checked == count_parameters(result.layer_sizes)
    assert [c.name for c in result.arrays] == [f"{k}{l}" for l in range(1, len(result.layer_sizes)) for k in "Wb"]
    for check, (fan_in, fan_out) in zip(result.arrays[0::2], zip(result.layer_sizes, result.layer_sizes[1:])):
        assert check.shape == (fan_in, fan_out) and check.checked == fan_in * fan_out and check.kind == "weights"
    assert all(c.max_rel_error < 1e-6 and c.max_abs_error < 1e-8 for c in result.arrays)
    assert result.rows == 8 and not result.sampled


def test_the_network_is_the_one_training_builds_in_float64():
    config = _config("circles")  # float32 in the file
    batch32, batch64 = first_rows(config, 8), first_rows(config, 8, dtype="float64")
    assert batch32.layers[0].W.dtype == np.float32 and batch64.layers[0].W.dtype == np.float64
    for a, b in zip(batch32.layers, batch64.layers):  # the same draws, cast
        np.testing.assert_array_equal(a.W, b.W.astype(np.float32))
    np.testing.assert_array_equal(batch64.X, batch64.data.X_train[:8])


def test_a_wrong_activation_derivative_fails_on_the_layers_below_it(monkeypatch):
    # sigma'(z) = sigma (1 - sigma) replaced by sigma: only the hidden layer's gradients use it
    monkeypatch.setitem(ACTIVATIONS, "sigmoid", Activation("sigmoid", sigmoid, lambda Z, A, out=None: A))
    result = gradcheck(_config("circles"))
    assert not result.passed
    by_name = {c.name: c for c in result.arrays}
    assert not by_name["W1"].passed and not by_name["b1"].passed
    assert by_name["W1"].max_rel_error > 0.1 and by_name["b1"].max_rel_error > 0.1
    assert by_name["W2"].passed and by_name["b2"].passed  # the output layer does not use f'
    text = _text(gradcheck_view(result))
    assert "FAIL" in text and "2 of 4 arrays FAIL: W1, b1" in text


def test_a_wrong_loss_gradient_fails_every_layer(monkeypatch):
    mse = LOSSES["mse"]
    monkeypatch.setitem(LOSSES, "mse", replace(mse, gradient=lambda Z, T: Z - T))  # the factor 2 / k dropped
    result = gradcheck(_config("regression"))
    assert not result.passed and not any(c.passed for c in result.arrays)
    assert min(c.max_rel_error for c in result.arrays) > 0.3


def test_the_penalty_gradient_is_checked_too(monkeypatch):
    config = _config("circles", "regularization.l1=0.01", "regularization.l2=0.01")
    assert gradcheck(config).passed
    monkeypatch.setattr("nnctl.core.workspace.penalty_gradient", lambda W, l1, l2, **_: 2 * l2 * W)  # L1's part lost
    result = gradcheck(config)
    assert [c.name for c in result.arrays if not c.passed] == ["W1", "W2"]  # biases carry no penalty


def test_row_weights_are_part_of_the_objective():
    result = gradcheck(_config("gaussians", "data.class_weight={0: 3.0, 1: 1.0, 2: 0.5}"))
    assert result.passed and first_rows(_config("gaussians", "data.class_weight=balanced"), 8).weights is not None


def test_sampling_checks_at_most_max_params_entries_per_array_and_is_seeded():
    config = _config("spirals")  # arrays of 64, 32, 1024, 32, 1024, 32, 64 and 2 entries
    result = gradcheck(config, max_params=50)
    assert result.sampled and result.passed
    assert [c.checked for c in result.arrays] == [min(c.size, 50) for c in result.arrays]
    assert result.checked == 50 * 4 + 32 * 3 + 2
    again = gradcheck(config, max_params=50)
    assert [c.worst for c in again.arrays] == [c.worst for c in result.arrays]
    assert "50 of 1024" in _text(gradcheck_table(result))


def test_rows_and_tolerance_are_honoured():
    result = gradcheck(_config("xor"), rows=3, tolerance=1e-30)
    assert result.rows == 3 and not result.passed  # nothing agrees to 1e-30
    assert result.floor == FLOOR
    assert gradcheck(_config("xor"), rows=10_000).rows == 320  # all the training rows


def test_rendered_table_and_json_hold_the_result_numbers():
    result = gradcheck(_config("moons"))
    text = _text(gradcheck_view(result))
    for check in result.arrays:
        assert f"{check.max_rel_error:.2e}" in text and f"{check.max_abs_error:.2e}" in text
    assert text.count("PASS") == len(result.arrays) and "all 6 arrays pass (354 entries)" in text
    document = json.loads(json.dumps(gradcheck_to_dict(result)))
    assert document["passed"] is True and document["checked"] == 354
    assert [a["max_rel_error"] for a in document["arrays"]] == [c.max_rel_error for c in result.arrays]
