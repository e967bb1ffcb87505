"""nnctl train scores a constant guess and the linear model of the same loss beside the network,
and says whether the hidden layers earned their place (issue 18, point 1, for train)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nnctl.cli import app

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def _train(tmp_path, config: str, *extra: str):
    out = tmp_path / "run"
    done = runner.invoke(app, ["train", str(ROOT / "configs" / config), "--set", f"output={out}", *extra, "--json"])
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout), json.loads((out / "summary.json").read_text())


def test_on_circles_the_linear_model_is_near_chance_and_the_network_near_one(tmp_path):
    document, summary = _train(tmp_path, "circles.yaml")
    found = document["baselines"]
    assert found == summary["baselines"]
    assert found["on"] == "validation" and found["metric"] == "accuracy"
    assert found["majority_class"] == pytest.approx(0.5, abs=0.1) and found["linear_model"] < 0.7
    assert found["network"] > 0.95 and found["network"] == pytest.approx(summary["best"]["val_accuracy"])
    assert found["verdict"] == (f"the hidden layers earned their place: "
                                f"{found['network'] - found['linear_model']:+.3f} accuracy over the linear model")


def test_on_a_straight_line_the_hidden_layer_earns_nothing(tmp_path):
    document, _ = _train(tmp_path, "neuron.yaml", "--set", "model.hidden=[8]")
    found = document["baselines"]
    assert found["network"] - found["linear_model"] < 2 / 80  # at most a row of the 80 validation rows
    assert found["verdict"].startswith("no better than the linear model (") and "consider model.hidden: []" in found["verdict"]


def test_regression_is_scored_by_r2_against_the_mean(tmp_path):
    document, _ = _train(tmp_path, "regression.yaml")
    found = document["baselines"]
    assert found["metric"] == "r2" and abs(found["mean_target"]) < 0.1 and found["linear_model"] < found["network"]


def test_a_perceptron_is_the_linear_model(tmp_path):
    document, _ = _train(tmp_path, "circles-perceptron.yaml")
    found = document["baselines"]
    assert found["linear_model"] is None and found["verdict"].startswith("this network has no hidden layer")


def test_with_a_test_set_the_baselines_are_scored_on_its_rows_too(tmp_path):
    document, summary = _train(tmp_path, "mixed.yaml", "--set", f"data.test={ROOT / 'datasets' / 'mixed-test.csv'}")
    found = document["baselines"]["test"]
    assert found == summary["baselines"]["test"] and found["on"] == "test" and found["metric"] == "accuracy"
    assert found["network"] == summary["test"]["test_accuracy"]
    # the majority class of the training rows ('no'), scored on the 500 test rows
    bought = [line.split(",")[-1] for line in (ROOT / "datasets" / "mixed-test.csv").read_text().splitlines()[1:]]
    assert found["majority_class"] == pytest.approx(bought.count("no") / len(bought))
    assert found["linear_model"] > found["majority_class"] + 0.05  # the linear model learned something
    # the linear model's test figure is the one nnctl evaluate learns again from the run and scores on the file
    evaluated = runner.invoke(app, ["evaluate", str(tmp_path / "run"), str(ROOT / "datasets" / "mixed-test.csv"),
                                    "--json"])
    assert json.loads(evaluated.stdout)["baselines"]["linear_model"] == found["linear_model"]
    assert found["linear_model"] != document["baselines"]["linear_model"]  # not the validation figure
    gain, over = found["network"] - found["linear_model"], found["network"] - found["majority_class"]
    assert found["verdict"] == f"on the test rows: {gain:+.3f} accuracy over the linear model, {over:+.3f} over " \
                               "the majority class"  # figures only: no advice from the test rows
    shown = runner.invoke(app, ["train", str(ROOT / "configs" / "mixed.yaml"), "--overwrite", "--set",
                                f"output={tmp_path / 'run'}", "--set", f"data.test={ROOT / 'datasets' / 'mixed-test.csv'}"])
    lines = [line for line in shown.stdout.splitlines() if line.startswith("baselines")]
    assert [line.split(":")[0] for line in lines] == ["baselines (accuracy on the validation rows)",
                                                       "baselines (accuracy on the test rows)"]
    assert f"this network {found['network']:.4f}" in lines[1]


def test_the_verdict_weighs_the_linear_model_then_the_constant():
    from nnctl.baselines import Baselines

    # 76 rows: a gain must be two rows (0.0263) at least
    beaten = Baselines("validation", "accuracy", "majority class", 0.93, 0.96, 100, 0.947, rows=76)
    assert beaten.verdict() == ("no better than the linear model (-0.013 accuracy, less than 0.0263): "
                                "consider model.hidden: [] (fewer parameters, the same answers)")
    worse_linear = Baselines("validation", "accuracy", "majority class", 0.93, 0.80, 100, 0.935, rows=76)
    assert worse_linear.verdict() == "no better than the majority class (+0.005 accuracy, less than 0.0263)"
    earned = Baselines("validation", "accuracy", "majority class", 0.5, 0.6, 100, 0.9875, rows=80)
    assert earned.verdict() == "the hidden layers earned their place: +0.388 accuracy over the linear model"
    # held-out rows: the differences only
    for on in ("test", "evaluated"):
        held_out = Baselines(on, "r2", "mean target", -0.01, 0.832, 100, 0.864, rows=500)
        assert held_out.verdict() == f"on the {on} rows: +0.032 R^2 over the linear model, +0.874 over the mean target"


def test_a_gain_of_exactly_two_rows_counts():
    from nnctl.baselines import Baselines

    found = Baselines("validation", "accuracy", "majority class", 9 / 28, 9 / 28, 100, 11 / 28, rows=28)
    assert 11 / 28 - 9 / 28 < 2 / 28  # in floats
    assert found.verdict() == "the hidden layers earned their place: +0.071 accuracy over the linear model"
    one_row = Baselines("validation", "accuracy", "majority class", 9 / 28, 10 / 28, 100, 11 / 28, rows=28)
    assert one_row.verdict().startswith("no better than the linear model (+0.0357 accuracy, less than 0.0714)")
    # with 201 rows two rows are less than 0.01: the figures say so without reading alike
    rows_201 = Baselines("validation", "accuracy", "majority class", 0.5, 0.8, 100, 0.8 + 2 / 201, rows=201)
    assert rows_201.verdict().startswith("no better than the linear model (+0.00995 accuracy, less than 0.01)")


def test_the_text_shows_both_figures_and_the_flag_or_key_turns_them_off(tmp_path):
    out = tmp_path / "shown"
    done = runner.invoke(app, ["train", str(ROOT / "configs" / "circles.yaml"), "--set", f"output={out}"])
    lines = [line for line in done.stdout.splitlines() if line.startswith("baselines")]
    assert len(lines) == 1 and "majority class" in lines[0] and "linear model" in lines[0]
    for extra in (["--no-baselines"], ["--set", "training.baselines=false"]):
        document, summary = _train(tmp_path, "circles.yaml", "--overwrite", *extra)
        assert "baselines" not in document and "baselines" not in summary


def test_evaluate_scores_the_baselines_on_its_rows_from_the_runs_training_rows(tmp_path):
    import shutil

    data = tmp_path / "circles.csv"
    shutil.copy(ROOT / "datasets" / "circles.csv", data)
    out = tmp_path / "run"
    assert runner.invoke(app, ["train", str(ROOT / "configs" / "circles.yaml"), "--set", f"data.train={data}",
                               "--set", f"output={out}", "--no-baselines"]).exit_code == 0
    document = json.loads(runner.invoke(app, ["evaluate", str(out), str(data), "--json"]).stdout)
    found = document["baselines"]
    assert found["on"] == "evaluated" and found["network"] == document["metrics"]["accuracy"]
    assert found["majority_class"] == pytest.approx(0.5) and found["linear_model"] < 0.7
    gain, over = found["network"] - found["linear_model"], found["network"] - found["majority_class"]
    assert found["verdict"] == f"on the evaluated rows: {gain:+.3f} accuracy over the linear model, {over:+.3f} " \
                               "over the majority class"  # held-out rows: the differences, no advice
    shown = runner.invoke(app, ["evaluate", str(out), str(data)], terminal_width=200).stdout
    assert "baselines (accuracy on the evaluated rows): majority class 0.5000, linear model" in shown
    assert "baselines" not in json.loads(runner.invoke(app, ["evaluate", str(out), str(data), "--json",
                                                              "--no-baselines"]).stdout)
    moved = tmp_path / "elsewhere.csv"
    data.rename(moved)  # the training file is gone: the scores stay, the baselines say why they are missing
    document = json.loads(runner.invoke(app, ["evaluate", str(out), str(moved), "--json"]).stdout)
    assert "baselines" not in document
    assert document["notes"][-1].startswith("no baselines: they are learned from the run's training rows, which "
                                            "cannot be read (")
