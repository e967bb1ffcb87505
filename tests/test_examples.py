"""The shipped configs and data sets do what the README says they do."""

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nnctl.cli import app
from nnctl.config import load_config
from nnctl import run

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


def _train(name: str, tmp_path: Path):
    config = load_config(ROOT / "configs" / f"{name}.yaml", [f"output={tmp_path / name}"])
    return run.train(config)


def test_a_hidden_layer_solves_circles_and_a_perceptron_does_not(tmp_path):
    mlp = _train("circles", tmp_path)
    perceptron = _train("circles-perceptron", tmp_path)
    assert mlp.history.best.validation.metrics["accuracy"] >= 0.95
    assert perceptron.history.best.validation.metrics["accuracy"] < 0.70
    assert [layer.W.shape for layer in perceptron.layers] == [(2, 2)]


# The mixed table is noisy on purpose (customers, not geometry), and so are the noisy moons of
# dropout.yaml (points wander across the boundary): what a good fit reaches there.
GOOD_ENOUGH = {"mixed": ("accuracy", 0.85), "mixed-spend": ("r2", 0.78), "dropout": ("accuracy", 0.88)}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_shipped_config_trains_to_a_good_fit(path, tmp_path):
    result = run.train(load_config(path, [f"output={tmp_path}"]))
    best = result.history.best.validation
    if path.stem == "circles-perceptron":
        assert best.metrics["accuracy"] < 0.70
    elif path.stem in GOOD_ENOUGH:
        metric, floor = GOOD_ENOUGH[path.stem]
        assert best.metrics[metric] >= floor, path.stem
    elif result.data.dataset.task == "classification":
        assert best.metrics["accuracy"] >= 0.9, path.stem
    else:
        assert best.metrics["r2"] >= 0.9
    assert (tmp_path / "best.npz").is_file() and (tmp_path / "history.csv").is_file()


def test_datasets_are_what_their_readme_commands_make(tmp_path):
    readme = (ROOT / "datasets" / "README.md").read_text()
    commands = re.findall(r"^nnctl (data make .+)$", readme, flags=re.MULTILINE)
    assert len(commands) == 10
    runner = CliRunner()
    for command in commands:
        args = command.split()
        shipped = ROOT / args[args.index("-o") + 1]
        args[args.index("-o") + 1] = str(tmp_path / shipped.name)
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert (tmp_path / shipped.name).read_bytes() == shipped.read_bytes(), shipped.name
