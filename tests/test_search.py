"""nnctl sweep: the search space, K-fold cross-validation, and a grid sweep end to end (issue 13, points 1-2)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nnctl import space
from nnctl.checkpoint import load_checkpoint
from nnctl.cli import app
from nnctl.config import load_config
from nnctl.errors import ConfigError, DataError
from nnctl.prep.prepare import prepare_folds
from nnctl.prep.transforms import fold_indices

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def test_grid_values_split_at_top_level_commas_and_multiply():
    assert space.split_values("[8],[16,16], 'a,b',{x: 1, y: 2}") == ["[8]", "[16,16]", "'a,b'", "{x: 1, y: 2}"]
    points = space.grid_points(["model.hidden=[8],[16,16]", "optimizer.learning_rate=0.01,0.1"])
    assert points == [("model.hidden=[8]", "optimizer.learning_rate=0.01"),
                      ("model.hidden=[8]", "optimizer.learning_rate=0.1"),
                      ("model.hidden=[16,16]", "optimizer.learning_rate=0.01"),
                      ("model.hidden=[16,16]", "optimizer.learning_rate=0.1")]
    assert space.label_of(points[1]) == "hidden=[8] learning_rate=0.1"
    assert space.label_of(("model.l1=1", "regularization.l1=2")) == "model.l1=1 regularization.l1=2"
    for bad, message in (("lr", "expected KEY=VALUE1,VALUE2"), ("a.b=1,,2", "an empty value")):
        with pytest.raises(ConfigError, match=message):
            space.grid_points([bad])
    with pytest.raises(ConfigError, match="seed is given twice"):
        space.grid_points(["seed=1", "seed=2"])


def test_random_points_come_from_their_ranges_and_repeat_with_the_seed():
    axes = ["optimizer.learning_rate=log:1e-4..1e-1", "model.hidden=int:4..64", "model.activation=relu,tanh",
            "regularization.l2=0.0..0.01"]
    points = space.random_points(axes, 20, np.random.default_rng(3))
    assert points == space.random_points(axes, 20, np.random.default_rng(3)) and len(set(points)) == 20
    for point in points:
        values = dict(setting.split("=", 1) for setting in point)
        assert 1e-4 <= float(values["optimizer.learning_rate"]) <= 1e-1
        assert 4 <= int(values["model.hidden"]) <= 64
        assert values["model.activation"] in ("relu", "tanh") and 0 <= float(values["regularization.l2"]) <= 0.01
    assert len(space.random_points(["seed=1,2"], 5, np.random.default_rng(0))) == 2  # only 2 distinct points
    for bad in ("a=log:0..1", "a=int:1.5..3", "a=3..1"):
        with pytest.raises(ConfigError, match="--random"):
            space.random_points([bad], 2, np.random.default_rng(0))


def test_folds_cover_every_row_once_and_keep_the_class_shares():
    y = np.array([0] * 60 + [1] * 30 + [2] * 10)
    folds = fold_indices(y, 5, np.random.default_rng(0), stratify=True)
    validation = np.concatenate([val for _, val in folds])
    assert sorted(validation.tolist()) == list(range(100))
    for train, val in folds:
        assert np.intersect1d(train, val).size == 0 and len(train) + len(val) == 100
        assert np.bincount(y[val]).tolist() == [12, 6, 2]
    with pytest.raises(DataError, match="4 folds need at least 4 rows"):
        fold_indices(np.arange(3), 4, np.random.default_rng(0), stratify=False)


def test_each_fold_is_prepared_from_its_own_training_rows(tmp_path):
    config = load_config(ROOT / "configs" / "mixed-spend.yaml", [f"output={tmp_path}"])
    folds = prepare_folds(config, 3)
    assert len(folds) == 3 and sum(len(f.X_val) for f in folds) == 791  # every row with a spend, once
    means = {f.preprocessor.target.mean for f in folds}
    assert len(means) == 3  # fitted on different training rows
    for fold in folds:
        assert len(fold.X_train) + len(fold.X_val) == 791


def test_a_grid_over_two_keys_with_three_folds_picks_a_candidate_whose_config_trains(tmp_path):
    out = tmp_path / "sweep"
    result = runner.invoke(app, ["sweep", str(ROOT / "configs" / "circles.yaml"), "--grid", "model.hidden=[2],[8]",
                                 "--grid", "optimizer.learning_rate=0.1,1.0", "--folds", "3", "--jobs", "1",
                                 "--set", "optimizer.epochs=40", "-o", str(out)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("note: 3-fold cross-validation on ") and lines[0].endswith(
        "circles.csv: data.validation is not used; each run holds out one fold, and the chosen candidate is trained "
        "again on every row (best-run)")
    assert sum(line.startswith("run candidate=") for line in lines) == 4 * 3
    assert "candidates compared" in result.stdout
    results = json.loads((out / "results.json").read_text())
    assert results["folds"] == 3 and results["best"] == "hidden=[8] learning_rate=1.0"
    assert results["settings"][results["best"]] == ["model.hidden=[8]", "optimizer.learning_rate=1.0"]
    best = next(c for c in results["candidates"] if c["candidate"] == results["best"])
    runs = [r for r in csv.DictReader((out / "runs.csv").open()) if r["candidate"] == results["best"]]
    assert best["runs"] == 3 and best["val_metric_mean"] == pytest.approx(np.mean([float(r["val_metric"])
                                                                                  for r in runs]))
    # Cross-validated: the chosen candidate was trained again on the whole file (best-run), and its
    # config.yaml trains to the same weights, bit for bit (into best-run-2: best-run is kept).
    assert results["refit"]["seed"] == int(runs[0]["seed"]) and results["refit"]["best"]["val_accuracy"] > 0.9
    retrained = runner.invoke(app, ["train", str(out / "config.yaml")])
    assert retrained.exit_code == 0, retrained.output
    trained = load_config(out / "config.yaml")
    assert trained.model.hidden == (8,) and trained.optimizer.learning_rate == 1.0 and trained.data.validation == 0.2
    again, kept = load_checkpoint(out / "best-run-2"), load_checkpoint(out / "best.npz")
    for a, b in zip(again.layers, kept.layers, strict=True):
        np.testing.assert_array_equal(a.W, b.W)
    assert load_checkpoint(out / "best-run").meta["epoch"] == kept.meta["epoch"]


def test_every_candidate_is_checked_before_anything_trains(tmp_path):
    out = tmp_path / "sweep"
    result = runner.invoke(app, ["sweep", str(ROOT / "configs" / "circles.yaml"), "--grid",
                                 "optimizer.learning_rate=0.1,-1", "-o", str(out)])
    assert result.exit_code == 1 and not out.exists()
    assert result.stderr.startswith("error: candidate learning_rate=-1: ")
    assert "optimizer.learning_rate: must be a number > 0, got -1" in result.stderr
    none = runner.invoke(app, ["sweep", str(ROOT / "configs" / "circles.yaml"), "-o", str(out)])
    assert none.exit_code == 1 and "nnctl sweep needs at least one --grid" in none.stderr


def test_random_search_on_the_command_line(tmp_path):
    out = tmp_path / "r"
    result = runner.invoke(app, ["sweep", str(ROOT / "configs" / "circles.yaml"), "--random", "3", "--grid",
                                 "optimizer.learning_rate=log:0.05..2", "--grid", "model.hidden=int:2..8",
                                 "--set", "optimizer.epochs=5", "--jobs", "1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    settings = json.loads((out / "results.json").read_text())["settings"]
    assert len(settings) == 3
    for values in settings.values():
        rate, hidden = (value.split("=", 1)[1] for value in values)
        assert 0.05 <= float(rate) <= 2 and 2 <= int(hidden) <= 8


def test_odd_ranges_and_repeated_values_are_one_line_each(tmp_path):
    base = ["sweep", str(ROOT / "configs" / "circles.yaml"), "-o", str(tmp_path / "x")]
    for args, message in ((["--random", "2", "--grid", "optimizer.learning_rate=0.01...0.1"], "ends of the range"),
                          (["--grid", "model.hidden=[8],[8]"], "[8] is given twice")):
        result = runner.invoke(app, [*base, *args])
        assert result.exit_code == 1 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    few = runner.invoke(app, [*base, "--random", "5", "--grid", "model.hidden=int:1..2", "--set", "optimizer.epochs=2",
                              "--jobs", "1"])
    assert few.exit_code == 0, few.output
    assert "note: --random 5: these values and ranges hold only 2 distinct candidates; all of them are tried" in \
        few.stdout
