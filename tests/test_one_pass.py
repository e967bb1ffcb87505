"""One forward and one backward: training, stacked seeds, evaluation, gradcheck and explain all
run ``model.forward`` and ``model.backward``, and no other code of nnctl multiplies a layer's
weights."""

import ast
import sys
from pathlib import Path

import numpy as np
import pytest

from nnctl.config import load_config
from nnctl.core import model
from nnctl.core.losses import LOSSES
from nnctl.core.stacked import fit_stacked
from nnctl.core.training import Settings, evaluate, fit
from nnctl.explain import explain
from nnctl.gradcheck import gradcheck

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "nnctl"


def _functions_run(action) -> set[str]:
    """The qualified names of nnctl's functions that ran during ``action()``."""
    seen = set()

    def hook(frame, event, _arg):
        if event == "call" and frame.f_code.co_filename.startswith(str(PACKAGE)):
            seen.add(f"{Path(frame.f_code.co_filename).stem}.{frame.f_code.co_qualname}")

    sys.setprofile(hook)
    try:
        action()
    finally:
        sys.setprofile(None)
    return seen


def _net_and_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2)).astype(np.float32)
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    return model.init_network([2, 4, 2], ["tanh"], "softmax", rng), X, y


SETTINGS = Settings(loss="softmax_cross_entropy", learning_rate=0.1, epochs=1, batch_size=8)


@pytest.mark.parametrize("what", ["fit", "fit_stacked", "gradcheck", "explain"])
def test_every_step_runs_the_one_forward_and_backward(what):
    layers, X, y = _net_and_data()
    config = load_config(ROOT / "configs" / "xor.yaml")
    actions = {
        "fit": lambda: fit(layers, X, y, SETTINGS, np.random.default_rng(0)),
        "fit_stacked": lambda: fit_stacked([layers, _net_and_data()[0]], X, y, SETTINGS,
                                           [np.random.default_rng(0), np.random.default_rng(1)]),
        "gradcheck": lambda: gradcheck(config, rows=4),
        "explain": lambda: explain(config, rows=2),
    }
    ran = _functions_run(actions[what])
    assert {"model.forward", "model.backward"} <= ran


def test_evaluation_runs_the_one_forward():
    layers, X, y = _net_and_data()
    ran = _functions_run(lambda: evaluate(layers, LOSSES["softmax_cross_entropy"], X, y))
    assert "model.forward" in ran and "model.backward" not in ran


def test_no_other_module_multiplies_by_a_layers_weights():
    """The products of a pass (``@`` or np.matmul with a W) appear in core/model.py only."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "core" / "model.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            matmul = (isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult)) or (
                isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "matmul")
            if matmul and ".W" in ast.unparse(node):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []
