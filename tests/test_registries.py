"""A new loss is one registry entry: config validation, training, explain and gradcheck read what
they need of it (task, output activation, equations) from the entry itself."""

import io
from pathlib import Path

import numpy as np
from rich.console import Console

from nnctl import run
from nnctl.config import config_from_dict, task_of_loss
from nnctl.core import losses
from nnctl.explain import explain
from nnctl.gradcheck import gradcheck
from nnctl.views.explain import explanation_view

ROOT = Path(__file__).resolve().parent.parent


def _log_cosh_samples(Z, T):
    """l_i = 1/k sum_j log cosh(z_ij - t_ij)."""
    return np.mean(np.log(np.cosh(np.asarray(Z - T, dtype=np.float64))), axis=-1)


def _log_cosh_gradient(Z, T):
    """dl_i/dz_ij = tanh(z_ij - t_ij) / k."""
    return np.tanh(Z - T) * (1.0 / Z.shape[-1])


LOG_COSH = losses.Loss("log_cosh", "identity", "regression", _log_cosh_samples, _log_cosh_gradient,
                       losses.LOSSES["mse"].encode, equation="mean over rows of 1/k sum log cosh(Z{L} - T)",
                       delta_equation="tanh(Z{L} - T) / (n k)")


def test_a_loss_added_at_run_time_trains_explains_and_passes_gradcheck(monkeypatch, tmp_path):
    monkeypatch.setitem(losses.LOSSES, "log_cosh", LOG_COSH)
    config = config_from_dict({
        "data": {"train": str(ROOT / "datasets" / "regression.csv"), "target": "y", "validation": 0.2},
        "model": {"hidden": [8], "activation": "tanh", "dtype": "float64"},
        "loss": "log_cosh",
        "optimizer": {"name": "adam", "learning_rate": 0.01, "epochs": 30},
        "output": str(tmp_path / "run"),
    })
    assert task_of_loss("log_cosh") == "regression"
    result = run.train(config, write_files=False)
    first, last = result.rows[0], result.rows[-1]
    assert last["val_loss"] < first["val_loss"] and "val_r2" in last  # regression figures, from the task
    stream = io.StringIO()
    Console(file=stream, width=200).print(explanation_view(explain(config)))
    text = stream.getvalue()
    assert "data loss: mean over rows of 1/k sum log cosh(Z2 - T)" in text
    assert "dZ2 = dL/dZ2 = tanh(Z2 - T) / (n k)" in text
    checked = gradcheck(config, rows=4)
    assert checked.passed, checked
