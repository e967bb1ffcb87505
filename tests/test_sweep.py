"""nnctl sweep-hidden: candidates, seeds, parallel runs, the comparison and its files."""

import csv
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nnctl import sweep
from nnctl.checkpoint import load_checkpoint
from nnctl.cli import app
from nnctl.config import load_config
from nnctl.errors import ConfigError, OutputError

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
QUICK = ["optimizer.epochs=40", "optimizer.learning_rate=1.0"]


def _config(tmp_path, name="circles", extra=()):
    return load_config(ROOT / "configs" / f"{name}.yaml", [*QUICK, f"output={tmp_path / 'run'}", *extra])


def test_parse_sizes():
    assert sweep.parse_sizes("0,1,2,3,4,8,16") == [(), (1,), (2,), (3,), (4,), (8,), (16,)]
    assert sweep.parse_sizes("8, 16x16,32x32x32") == [(8,), (16, 16), (32, 32, 32)]
    assert () in sweep.DEFAULT_SIZES
    for bad, fragment in [("a", "'a' is not a size"), ("0x3", "'0x3' is not a size"), ("-1", "'-1'"),
                          ("8,8", "'8' appears twice"), ("", "'' is not a size")]:
        with pytest.raises(ConfigError, match=fragment):
            sweep.parse_sizes(bad)


def test_run_seeds_are_spawned_from_the_config_seed():
    expected = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(7).spawn(3)]
    assert sweep.run_seeds(7, 3) == expected
    assert len(set(expected)) == 3 and sweep.run_seeds(7, 2) == expected[:2]


def _comparable(outcome):
    return replace(outcome, seconds=0.0, output="")


@pytest.fixture(scope="module")
def circles_sweep(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("sweep")
    config = _config(tmp_path)
    serial = sweep.sweep(config, [(), (1,), (3,)], seeds=2, jobs=1, directory=tmp_path / "serial")
    parallel = sweep.sweep(config, [(), (1,), (3,)], seeds=2, jobs=2, directory=tmp_path / "parallel")
    return tmp_path, config, serial, parallel


def test_jobs_do_not_change_results(circles_sweep):
    _, _, serial, parallel = circles_sweep
    assert [_comparable(r) for r in serial.runs] == [_comparable(r) for r in parallel.runs]
    assert [replace(c, seconds=0.0) for c in serial.candidates] == [replace(c, seconds=0.0) for c in parallel.candidates]
    assert len(serial.runs) == 6 and {r.candidate for r in serial.runs} == {"0", "1", "3"}


def test_sweep_figures_equal_separate_train_runs(circles_sweep, tmp_path):
    # The seeds of a candidate train stacked (core/stacked.py); each equals its run alone, bit for bit.
    _, config, serial, _ = circles_sweep
    for outcome in serial.runs:
        hidden = "[]" if outcome.candidate == "0" else f"[{outcome.candidate}]"
        out = tmp_path / f"train-{outcome.candidate}-{outcome.seed}"
        result = runner.invoke(app, [
            "train", str(ROOT / "configs" / "circles.yaml"), *sum((["--set", s] for s in QUICK), []),
            "--set", f"model.hidden={hidden}", "--set", f"seed={outcome.seed}",
            "--set", f"data.split_seed={config.seed}", "--set", f"output={out}"])
        assert result.exit_code == 0, result.output
        best = json.loads((out / "summary.json").read_text())["best"]
        assert best["val_accuracy"] == outcome.val_metric
        assert best["val_loss"] == outcome.val_loss and best["train_loss"] == outcome.train_loss
        alone, stacked = load_checkpoint(out / "best.npz"), load_checkpoint(Path(outcome.output) / "best.npz")
        for a, b in zip(alone.layers, stacked.layers):
            assert np.array_equal(a.W, b.W) and np.array_equal(a.b, b.b)
        assert _figures(out / "history.csv") == _figures(Path(outcome.output) / "history.csv")


def _figures(history: Path) -> list[dict]:
    """history.csv's rows but the wall time."""
    return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(history.open())]


def test_candidate_means_and_choice(circles_sweep):
    _, _, serial, _ = circles_sweep
    by_name = {c.candidate: c for c in serial.candidates}
    three = [r.val_metric for r in serial.runs if r.candidate == "3"]
    assert by_name["3"].val_metric == pytest.approx((np.mean(three), np.std(three, ddof=1)))
    assert by_name["0"].parameters == 6 and by_name["1"].parameters == 7 and by_name["3"].parameters == 17
    assert serial.best == "3"
    assert "not linearly separable" in serial.perceptron_note


def test_sweep_directory_files(circles_sweep):
    tmp_path, _, serial, _ = circles_sweep
    directory = tmp_path / "serial"
    runs = list(csv.DictReader((directory / "runs.csv").open()))
    candidates = list(csv.DictReader((directory / "candidates.csv").open()))
    assert len(runs) == 6 and [c["candidate"] for c in candidates] == ["0", "1", "3"]
    assert float(candidates[2]["val_metric_mean"]) == pytest.approx(serial.candidates[2].val_metric[0])
    results = json.loads((directory / "results.json").read_text())
    assert results["best"] == serial.best and len(results["runs"]) == 6
    assert results["simplest_within_one_se"] == serial.simplest
    best = load_checkpoint(directory / "best.npz")
    assert best.meta["layer_sizes"] == [2, 3, 2]
    retrained = runner.invoke(app, ["train", str(directory / "config.yaml"), "--set", "optimizer.epochs=2"])
    assert retrained.exit_code == 0, retrained.output
    assert (directory / "best-run" / "best.npz").is_file()


def _candidate(name, params, mean, std, runs=4):
    return sweep.CandidateSummary(name, params, runs, (0.0, 0.0), (1.0 - mean, 0.0), (mean, std), None, 10, 0.1)


def test_best_and_simplest_within_one_standard_error():
    candidates = [_candidate("0", 6, 0.55, 0.01), _candidate("2", 12, 0.95, 0.02),
                  _candidate("8", 42, 0.97, 0.04), _candidate("16", 82, 0.96, 0.01)]
    # best: 8 at 0.97, SE = 0.04 / sqrt(4) = 0.02 -> within: 0.95 and up -> simplest is 2
    assert sweep.choose(candidates, "classification") == ("8", "2")
    candidates[2] = _candidate("8", 42, 0.97, 0.0)
    assert sweep.choose(candidates, "classification") == ("8", "8")
    note = sweep.perceptron_note(candidates, "8", "classification")
    assert note.startswith("the perceptron (no hidden layer) reaches 0.550")
    assert sweep.perceptron_note([_candidate("0", 6, 0.95, 0.0), _candidate("8", 42, 0.97, 0.0)], "8",
                                 "classification") is None


def test_regression_sweep_compares_mse_and_r2(tmp_path):
    config = _config(tmp_path, "regression", ["optimizer.learning_rate=0.05"])
    result = sweep.sweep(config, [(), (16,)], seeds=1, jobs=1, directory=tmp_path / "sweep")
    by_name = {c.candidate: c for c in result.candidates}
    assert by_name["16"].val_mse[0] < by_name["0"].val_mse[0]
    assert result.best == "16" and by_name["16"].val_metric[0] > by_name["0"].val_metric[0]
    assert "val_mse_mean" in next(csv.DictReader((tmp_path / "sweep" / "candidates.csv").open()))


def test_cli_sweep_prints_runs_table_and_verdict(tmp_path):
    result = runner.invoke(app, [
        "sweep-hidden", str(ROOT / "configs" / "circles.yaml"), "--sizes", "0,3", "--jobs", "1",
        "--set", "optimizer.epochs=30", "--set", "optimizer.learning_rate=1.0", "-o", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert sum(line.startswith("run hidden=") for line in lines) == 2
    assert "hidden-layer sizes compared" in result.stdout and "best: hidden 3" in result.stdout
    assert "not linearly separable" in result.stdout
    bad = runner.invoke(app, ["sweep-hidden", str(ROOT / "configs" / "circles.yaml"), "--sizes", "2,x"])
    assert bad.exit_code == 1 and "'x' is not a size" in bad.stderr and "Traceback" not in bad.output


def test_a_relative_output_is_taken_as_is_and_a_second_sweep_goes_beside_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    command = ["sweep-hidden", str(ROOT / "configs" / "circles.yaml"), "--sizes", "2", "--jobs", "1",
               "--set", "optimizer.epochs=2", "-o", "out/sw"]
    first = runner.invoke(app, command)
    assert first.exit_code == 0, first.output
    assert "holds an earlier sweep" not in first.stdout and (tmp_path / "out" / "sw" / "runs.csv").is_file()
    second = runner.invoke(app, command)
    assert second.exit_code == 0, second.output
    assert "note: out/sw holds an earlier sweep (or a run, or a sweep going on), kept; this one goes to out/sw-2" in \
        second.stdout
    assert (tmp_path / "out" / "sw-2" / "runs.csv").is_file()
    third = runner.invoke(app, [*command, "--folds", "2", "--json"])  # --json carries every note the text shows
    assert third.exit_code == 0, third.output
    notes = json.loads(third.stdout)["notes"]
    assert notes[0] == ("out/sw holds an earlier sweep (or a run, or a sweep going on), kept; this one goes to "
                        "out/sw-3 (--overwrite replaces an earlier sweep instead)")
    assert notes[1].startswith("2-fold cross-validation on ")


def test_one_sweep_at_a_time_writes_a_directory(tmp_path):
    import os

    from nnctl.rundir import held

    out = tmp_path / "sw"
    out.mkdir()
    command = ["sweep-hidden", str(ROOT / "configs" / "circles.yaml"), "--sizes", "2", "--jobs", "1",
               "--set", "optimizer.epochs=2", "-o", str(out), "--overwrite"]
    with held(out):  # as a sweep running there holds it
        busy = runner.invoke(app, command)
        assert busy.exit_code == 1 and busy.stderr.strip() == (
            f"error: {out}: another nnctl run or sweep is writing here (PID {os.getpid()}); wait for it to end, "
            "or give this one another output")
        assert not (out / "runs").exists()
    done = runner.invoke(app, command)
    assert done.exit_code == 0, done.output
    assert (out / "runs.csv").is_file() and not (out / ".nnctl.lock").exists()


def test_a_sweep_going_on_is_never_replaced_by_one_without_overwrite(tmp_path):
    from nnctl.rundir import LOCK, held, is_held

    out = tmp_path / "sw"
    out.mkdir()
    command = ["sweep-hidden", str(ROOT / "configs" / "circles.yaml"), "--sizes", "2", "--jobs", "1",
               "--set", "optimizer.epochs=2", "-o", str(out)]
    with held(out):  # a sweep that has written nothing yet but its lock
        assert is_held(out)
        beside = runner.invoke(app, command)
        assert beside.exit_code == 0, beside.output
        assert f"this one goes to {tmp_path / 'sw-2'}" in " ".join(beside.stdout.split())
        assert (tmp_path / "sw-2" / "runs.csv").is_file() and not (out / "runs").exists()
    assert not is_held(out)
    (out / LOCK).write_text("999999999\n")  # the lock file a killed sweep left: nobody holds it
    assert not is_held(out)
    # a sweep that chose its directory as free, and found it taken once it held the lock, stops: never replaces
    earlier = sorted(p.name for p in (tmp_path / "sw-2").rglob("*"))
    config = _config(tmp_path, extra=["optimizer.epochs=2"])
    with pytest.raises(OutputError, match=r"sw-2: another sweep wrote here while this one started; run this one "
                                        r"again to put it beside \(or --overwrite to replace that sweep\)"):
        sweep.sweep(config, [(2,)], 1, 1, tmp_path / "sw-2", fresh=True)
    assert sorted(p.name for p in (tmp_path / "sw-2").rglob("*")) == earlier


def test_a_sweep_that_stops_before_writing_leaves_no_directory(tmp_path):
    bad = runner.invoke(app, ["sweep-hidden", str(ROOT / "configs" / "circles.yaml"), "--sizes", "2",
                              "--set", f"data.train={tmp_path / 'nope.csv'}", "-o", str(tmp_path / "sw")])
    assert bad.exit_code == 1 and "nope.csv: no such file" in bad.stderr
    assert not (tmp_path / "sw").exists()


def test_a_list_of_different_activations_cannot_be_swept(tmp_path):
    config = _config(tmp_path, "moons", ["model.activation=[relu, tanh]"])
    with pytest.raises(ConfigError, match="one activation for all of them"):
        sweep.hidden_candidates(config, [(4,)])
