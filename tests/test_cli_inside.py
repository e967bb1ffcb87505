"""The commands that look inside a network, run in-process: gradcheck, explain, inspect, evaluate, plot."""

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nnctl import run
from nnctl.checkpoint import load_checkpoint
from nnctl.cli import app
from nnctl.config import load_config
from nnctl.core import activations
from nnctl.explain import explain

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("inside") / "run"
    run.train(load_config(ROOT / "configs" / "circles.yaml", ["optimizer.epochs=5", f"output={out}"]))
    return out


def test_gradcheck_passes_and_fails_by_exit_code(monkeypatch):
    result = runner.invoke(app, ["gradcheck", str(ROOT / "configs" / "moons.yaml"), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["passed"] is True and document["layer_sizes"] == [2, 16, 16, 2]
    wrong = activations.Activation("relu", activations.relu, lambda Z, A, out=None: 2.0 * (Z > 0))
    monkeypatch.setitem(activations.ACTIVATIONS, "relu", wrong)
    failed = runner.invoke(app, ["gradcheck", str(ROOT / "configs" / "moons.yaml")])
    assert failed.exit_code == 1 and "FAIL" in failed.stdout


def test_explain_prints_the_trainers_numbers():
    config = ROOT / "configs" / "regularization.yaml"
    result = runner.invoke(app, ["explain", str(config), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    worked = explain(load_config(config), 2)
    assert document["loss"]["total"] == pytest.approx(worked.loss.total)
    assert document["loss_after"]["total"] == pytest.approx(worked.loss_after.total)
    text = runner.invoke(app, ["explain", str(config)]).stdout
    assert f"L = {worked.loss.data:.4g} + {worked.loss.penalty:.4g} = {worked.loss.total:.4g}" in text


def test_inspect_evaluate_and_plot_on_a_run(run_dir, tmp_path):
    inspected = json.loads(runner.invoke(app, ["inspect", str(run_dir), "--json"]).stdout)
    ckpt = load_checkpoint(run_dir)
    assert inspected["layer_sizes"] == [2, 8, 2] and inspected["parameters"] == 42
    assert inspected["layers"][0]["weights"]["mean"] == pytest.approx(float(np.mean(ckpt.layers[0].W, dtype=np.float64)))
    shown = runner.invoke(app, ["inspect", str(run_dir)])
    assert shown.exit_code == 0 and "[1]" in shown.stdout  # the bias unit in the drawing

    data = ROOT / "datasets" / "circles.csv"
    scored = json.loads(runner.invoke(app, ["evaluate", str(run_dir), str(data), "--json"]).stdout)
    predicted = json.loads(runner.invoke(app, ["predict", str(run_dir), str(data), "--json"]).stdout)
    assert scored["metrics"]["accuracy"] == predicted["metrics"]["accuracy"]
    assert scored["confusion_matrix"] == predicted["confusion_matrix"]
    missing = tmp_path / "features-only.csv"
    missing.write_text("x1,x2\n0.1,0.2\n")
    refused = runner.invoke(app, ["evaluate", str(run_dir), str(missing)])
    assert refused.exit_code == 1 and "label" in refused.stderr and "Traceback" not in refused.output

    plotted = runner.invoke(app, ["plot", str(run_dir), "--width", "40", "--height", "8", "--png", str(tmp_path / "c.png")])
    assert plotted.exit_code == 0, plotted.output
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    nothing = runner.invoke(app, ["plot", str(tmp_path)])
    assert nothing.exit_code == 1 and "no run directories in it (none holds summary.json" in nothing.stderr
