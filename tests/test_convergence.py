"""A run that was still improving when its epochs ran out says so (issue 13, point 6)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nnctl import sweep
from nnctl.cli import app
from nnctl.core.training import still_improving

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


@pytest.mark.parametrize("values, lower, expected", [
    ([1.0, 0.9, 0.8, 0.7, 0.6], True, True),          # falling to the end
    ([1.0, 0.5, 0.5, 0.5, 0.5], True, False),         # flat for the last epochs
    ([1.0, 0.5, 0.7, 0.6, 0.55], True, False),        # better at the end than just before, not than the best
    ([1.0, 0.5, 0.5, 0.5, 0.49999], True, False),     # a gain below 0.1% of the value
    ([0.5, 0.6, 0.7, 0.8, 0.9], False, True),         # accuracy still rising
    ([0.9, 0.8, 0.9, 0.9, 0.9], False, False),
    ([3.0], True, True),                              # one epoch: nothing says it had converged
    ([0.5, 1.0, 0.9, 0.8, 1.0], False, False),        # an accuracy of 1 tied at the end: no gain
    ([1.0, 0.4, 0.9, 0.8, 0.5], True, False),         # better than just before the window, not than before it
])
def test_still_improving(values, lower, expected):
    assert still_improving(values, lower) is expected


def test_window_is_the_last_tenth_at_most_ten():
    values = [1.0 - 0.01 * i for i in range(50)] + [0.5] * 50  # fell for 50 epochs, flat for the last 50
    assert not still_improving(values, True)  # its best came 50 epochs before the end
    assert still_improving(values[:55], True) and still_improving(values[:50], True)  # 5 epochs, 1 epoch before
    falling = [1.0 - 0.001 * i for i in range(189)] + [0.8] * 11  # 200 epochs, the best 11 before the end
    assert not still_improving(falling, True) and still_improving(falling[:-2], True)


def test_train_says_when_the_monitored_figure_was_still_improving(tmp_path):
    short = runner.invoke(app, ["train", str(ROOT / "configs" / "circles.yaml"), "--set", f"output={tmp_path / 's'}",
                                "--set", "optimizer.epochs=30"])
    assert short.exit_code == 0, short.output
    note = [line for line in short.stdout.splitlines() if line.startswith("note: val_loss was still improving")]
    assert note and note[0].endswith("of 30): the run may not have converged; more optimizer.epochs or a larger "
                                     "optimizer.learning_rate may do better")
    assert json.loads((tmp_path / "s" / "summary.json").read_text())["converged"] is False
    stopped = runner.invoke(app, ["train", str(ROOT / "configs" / "moons-adam.yaml"),
                                  "--set", f"output={tmp_path / 'm'}"])  # early stopping ends it: converged
    assert stopped.exit_code == 0 and "still improving" not in stopped.stdout
    assert "stopped: no improvement in val_loss" in stopped.stdout
    assert json.loads((tmp_path / "m" / "summary.json").read_text())["converged"] is True


def _candidate(name: str, metric: float, unconverged: int = 0) -> sweep.CandidateSummary:
    return sweep.CandidateSummary(name, 10, 1, (0.5, 0.0), (0.5, 0.0), (metric, 0.0), None, 30.0, 0.1,
                                  unconverged=unconverged)


def test_the_perceptron_verdict_waits_for_a_converged_perceptron():
    converged = sweep.perceptron_note([_candidate("0", 0.6), _candidate("8", 0.95)], "8", "classification")
    assert converged == ("the perceptron (no hidden layer) reaches 0.600 validation accuracy against 0.950 for 8: "
                         "the data is not linearly separable, so a hidden layer is needed")
    slow = sweep.perceptron_note([_candidate("0", 0.6, unconverged=1), _candidate("8", 0.95)], "8", "regression")
    assert slow == ("the perceptron (no hidden layer) reaches 0.600 validation R^2 against 0.950 for 8, but it was "
                    "still improving at its last epoch, so the comparison is inconclusive: train it longer (more "
                    "optimizer.epochs or a larger optimizer.learning_rate) before concluding that a hidden layer "
                    "is needed")


def test_a_sweep_marks_candidates_still_improving(tmp_path):
    result = runner.invoke(app, ["sweep-hidden", str(ROOT / "configs" / "regression.yaml"), "--sizes", "0,8",
                                 "--jobs", "1", "--set", "optimizer.epochs=30", "--set", "optimizer.learning_rate=0.002",
                                 "-o", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.strip().startswith("hidden "))
    assert "still improving" in header
    perceptron = next(line for line in lines if line.strip().startswith("0 "))
    assert "1 of 1" in perceptron
    runs = json.loads((tmp_path / "cli" / "results.json").read_text())["runs"]
    assert next(r for r in runs if r["candidate"] == "0")["converged"] is False
