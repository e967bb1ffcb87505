"""configs/neuron.yaml: one sigmoid unit on the binary cross-entropy is logistic regression."""

from pathlib import Path

import numpy as np
import pytest

from nnctl import run
from nnctl.config import load_config
from nnctl.views.train import architecture

ROOT = Path(__file__).resolve().parent.parent


def test_one_sigmoid_neuron_is_logistic_regression(tmp_path):
    sklearn = pytest.importorskip("sklearn.linear_model")
    config = load_config(ROOT / "configs" / "neuron.yaml", [f"output={tmp_path / 'run'}"])
    result = run.train(config, write_files=False)
    assert architecture(result.layers, config.model.hidden_activations) == \
        "2 inputs + bias -> 1 output (sigmoid); 3 parameters: logistic regression"
    assert result.best_row["val_accuracy"] >= 0.975
    data = result.data
    # scikit-learn's logistic regression (practically no penalty) on the same standardised rows: the same line
    reference = sklearn.LogisticRegression(C=1e6, max_iter=1000).fit(data.X_train, data.y_train)  # ~no penalty
    X = np.vstack([data.X_train, data.X_val])
    ours = (X @ result.layers[0].W[:, 0] + result.layers[0].b[0] >= 0).astype(int)
    assert np.mean(ours == reference.predict(X)) >= 0.98
    w, v = result.layers[0].W[:, 0], reference.coef_[0]
    assert float(w @ v / np.linalg.norm(w) / np.linalg.norm(v)) > 0.98  # the same direction


def test_a_network_with_a_hidden_layer_is_not_called_logistic_regression(tmp_path):
    config = load_config(ROOT / "configs" / "xor.yaml", [f"output={tmp_path / 'run'}", "optimizer.epochs=1"])
    result = run.train(config, write_files=False)
    assert "regression" not in architecture(result.layers, config.model.hidden_activations)
    perceptron = load_config(ROOT / "configs" / "circles-perceptron.yaml",
                             [f"output={tmp_path / 'p'}", "optimizer.epochs=1"])
    layers = run.train(perceptron, write_files=False).layers
    assert architecture(layers, ()).endswith("; 6 parameters: multinomial logistic regression")
