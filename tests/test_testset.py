"""data.test: a test file scored once, with the best epoch's weights, after training (issue 13, point 3)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nnctl import run
from nnctl.checkpoint import load_checkpoint
from nnctl.cli import app
from nnctl.config import load_config
from nnctl.evaluation import evaluate_file

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


@pytest.fixture(scope="module")
def test_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("test") / "mixed-test.csv"
    assert runner.invoke(app, ["data", "make", "mixed", "-o", str(path), "--n", "300", "--seed", "3"]).exit_code == 0
    return path


@pytest.mark.parametrize("name, metric", [("mixed", "accuracy"), ("mixed-spend", "r2")])
def test_the_summary_holds_the_best_epochs_test_figures_and_training_never_saw_them(tmp_path, test_file, name,
                                                                                    metric):
    base = ["optimizer.epochs=30", "early_stopping.patience=null"]
    with_test = run.train(load_config(ROOT / "configs" / f"{name}.yaml",
                                      [*base, f"output={tmp_path / 'a'}", f"data.test={test_file}"]))
    without = run.train(load_config(ROOT / "configs" / f"{name}.yaml", [*base, f"output={tmp_path / 'b'}"]))
    for mine, theirs in zip(with_test.layers, without.layers, strict=True):  # the test rows changed nothing
        np.testing.assert_array_equal(mine.W, theirs.W)
    untimed = lambda rows: [{k: v for k, v in row.items() if k != "seconds"} for row in rows]  # noqa: E731
    assert untimed(with_test.rows) == untimed(without.rows)
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert "test" not in json.loads((tmp_path / "b" / "summary.json").read_text())
    scored = evaluate_file(tmp_path / "a" / "best.npz", test_file)
    assert summary["test"][f"test_{metric}"] == pytest.approx(scored.metrics[metric], rel=1e-5)
    if metric == "r2":  # in the target's own units
        assert summary["test"]["test_mse"] == pytest.approx(scored.metrics["mse"], rel=1e-5)
    assert load_checkpoint(tmp_path / "a" / "best.npz").meta["epoch"] == summary["best_epoch"]


def test_train_shows_the_test_rows_and_figures(tmp_path, test_file):
    result = runner.invoke(app, ["train", str(ROOT / "configs" / "mixed.yaml"), "--set", f"output={tmp_path}",
                                 "--set", f"data.test={test_file}", "--set", "optimizer.epochs=3"])
    assert result.exit_code == 0, result.output
    assert "rows: 640 training, 160 validation, 300 test (scored once, at the end)" in result.stdout
    figures = {" ".join(line.split()[:2]): line.split()[-1] for line in result.stdout.splitlines()
               if line.strip().startswith("test ")}
    summary = json.loads((tmp_path / "summary.json").read_text())["test"]
    assert figures["test accuracy"] == f"{summary['test_accuracy']:.4f}"


def test_a_missing_test_file_is_one_line_naming_the_key(tmp_path):
    result = runner.invoke(app, ["train", str(ROOT / "configs" / "mixed.yaml"), "--set", f"output={tmp_path}",
                                 "--set", f"data.test={tmp_path / 'nope.csv'}"])
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"error: {tmp_path / 'nope.csv'}: no such file "
                                     f"(data.test from --set, relative to the working directory {Path.cwd()})")


def test_a_sweep_reports_the_chosen_runs_test_figures_and_chooses_without_them(tmp_path, test_file):
    args = ["sweep-hidden", str(ROOT / "configs" / "mixed.yaml"), "--sizes", "0,4", "--jobs", "1",
            "--set", "optimizer.epochs=20"]
    result = runner.invoke(app, [*args, "-o", str(tmp_path / "t"), "--set", f"data.test={test_file}"])
    assert result.exit_code == 0, result.output
    plain = runner.invoke(app, [*args, "-o", str(tmp_path / "p")])
    tested, untested = (json.loads((tmp_path / d / "results.json").read_text()) for d in ("t", "p"))
    untimed = lambda rows: [{k: v for k, v in row.items() if k != "seconds"} for row in rows]  # noqa: E731
    assert tested["best"] == untested["best"] and untimed(tested["candidates"]) == untimed(untested["candidates"])
    assert "test" not in untested and plain.exit_code == 0
    chosen = next(r for r in tested["runs"] if r["candidate"] == tested["best"])
    assert tested["test"] == {"candidate": tested["best"], "seed": chosen["seed"], "test_loss": chosen["test_loss"],
                              "test_accuracy": chosen["test_metric"]}
    assert evaluate_file(chosen["output"], test_file).metrics["accuracy"] == pytest.approx(chosen["test_metric"])
    # the test rows see the chosen run alone: no other run has test figures, in the results or its summary
    others = [r for r in tested["runs"] if r["output"] != chosen["output"]]
    assert others and all(r["test_loss"] is None and r["test_metric"] is None for r in others)
    assert all("test" not in json.loads((Path(r["output"]) / "summary.json").read_text()) for r in others)
    kept = json.loads((Path(chosen["output"]) / "summary.json").read_text())["test"]
    assert kept["test_loss"] == chosen["test_loss"] and kept["test_accuracy"] == chosen["test_metric"]
    assert f"test (data.test, never used for choosing), hidden {tested['best']} seed={chosen['seed']}: " \
           f"loss {chosen['test_loss']:.4f}, accuracy {chosen['test_metric']:.4f}" in result.stdout
