"""nnctl runs: the runs under a directory, and the same selections for nnctl plot (issue 13, point 5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nnctl.cli import app
from nnctl.errors import NnctlError
from nnctl.runs import list_runs, select_runs

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory) -> Path:
    top = tmp_path_factory.mktemp("runs")
    for name, epochs, extra in (("a", 3, []), ("b", 20, []), ("c", 5, ["--set", "optimizer.learning_rate=2.0"])):
        result = runner.invoke(app, ["train", str(ROOT / "configs" / "circles.yaml"), "--set", f"output={top / name}",
                                     "--set", f"optimizer.epochs={epochs}", *extra])
        assert result.exit_code == 0, result.output
    sweep = runner.invoke(app, ["sweep-hidden", str(ROOT / "configs" / "circles.yaml"), "--sizes", "0,2", "--jobs", "1",
                                "--set", "optimizer.epochs=3", "-o", str(top / "sweep")])
    assert sweep.exit_code == 0, sweep.output
    (top / "notes").mkdir()  # a directory that holds no run is not listed
    return top


def test_a_directory_stands_for_every_run_below_it(runs_dir):
    names = [name for _, name in select_runs([runs_dir])]
    assert names == ["a", "b", "c", "sweep/runs/h0-s3757552657", "sweep/runs/h2-s3757552657"]
    assert [name for _, name in select_runs([runs_dir / "b"])] == ["b"]  # a run directory is itself
    with pytest.raises(NnctlError, match="notes: no run directories in it"):
        select_runs([runs_dir / "notes"])
    with pytest.raises(NnctlError, match="nope: no such directory"):
        select_runs([runs_dir / "nope"])


def test_runs_sorted_by_a_figure_best_first(runs_dir):
    records = list_runs([runs_dir], "val_accuracy")
    accuracies = [r.figures["val_accuracy"] for r in records]
    assert accuracies == sorted(accuracies, reverse=True)
    by_loss = [r.figures["val_loss"] for r in list_runs([runs_dir], "val_loss")]
    assert by_loss == sorted(by_loss)
    b = next(r for r in records if r.name == "b")
    summary = json.loads((runs_dir / "b" / "summary.json").read_text())
    assert (b.network, b.loss, b.epochs_run, b.best_epoch) == ("2-8-2", "softmax_cross_entropy", 20,
                                                               summary["best_epoch"])
    assert b.figures["val_accuracy"] == summary["best"]["val_accuracy"]
    with pytest.raises(NnctlError, match="--sort speed: not a column or figure of these runs; choose from"):
        list_runs([runs_dir], "speed")


def test_runs_command_table_and_json(runs_dir):
    table = runner.invoke(app, ["runs", str(runs_dir), "--sort", "epochs_run"])
    assert table.exit_code == 0, table.output
    rows = [line.split() for line in table.stdout.splitlines() if line.strip().startswith(("a ", "b ", "c ", "sweep"))]
    assert [row[0] for row in rows] == ["a", "sweep/runs/h0-s3757552657", "sweep/runs/h2-s3757552657", "c", "b"]
    document = json.loads(runner.invoke(app, ["runs", str(runs_dir), "--json"]).stdout)
    assert len(document["runs"]) == 5
    assert {r["name"]: r["epochs_run"] for r in document["runs"]}["b"] == 20
    damaged = runs_dir / "sweep" / "runs" / "h0-s3757552657" / "summary.json"
    kept = damaged.read_text()
    damaged.write_text("{not json")
    try:
        result = runner.invoke(app, ["runs", str(runs_dir / "sweep"), "--json"])
        assert result.exit_code == 0
        problems = {r["name"]: r["problem"] for r in json.loads(result.stdout)["runs"]}
        assert problems["runs/h0-s3757552657"].startswith("unreadable: ")
        assert problems["runs/h2-s3757552657"] is None
    finally:
        damaged.write_text(kept)


def test_plot_takes_the_same_selections(runs_dir):
    result = runner.invoke(app, ["plot", str(runs_dir / "sweep")])
    assert result.exit_code == 0, result.output
    assert "h0-s3757552657" in result.stdout and "h2-s3757552657" in result.stdout
    assert runner.invoke(app, ["plot", str(runs_dir / "notes")]).exit_code == 1


@pytest.mark.parametrize("text", ['{"best": [1, 2]}', '{"test": "x"}', "[1]", "{not json"])
def test_a_damaged_summary_is_a_row_not_a_traceback(tmp_path, text):
    run = tmp_path / "r"
    run.mkdir()
    (run / "summary.json").write_text(text)
    result = runner.invoke(app, ["runs", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)["runs"]
    assert row["name"] == "r" and row["problem"].startswith("unreadable: ")
    (run / "summary.json").write_text('{"layer_sizes": 5, "converged": "x"}')  # odd entries: left blank
    [row] = json.loads(runner.invoke(app, ["runs", str(tmp_path), "--json"]).stdout)["runs"]
    assert row["problem"] is None and row["network"] == "" and row["converged"] is None


def test_a_run_named_twice_is_listed_once_and_names_stay_apart(runs_dir, tmp_path):
    assert [name for _, name in select_runs([runs_dir / "a", runs_dir / "a"])] == ["a"]
    other = tmp_path / "sweep" / "runs" / "h0-s3757552657"
    other.mkdir(parents=True)
    (other / "summary.json").write_text((runs_dir / "sweep" / "runs" / "h0-s3757552657" / "summary.json").read_text())
    listed = [name for _, name in select_runs([runs_dir / "sweep", tmp_path / "sweep"])]
    assert len(set(listed)) == len(listed) == 3


def test_the_metadata_of_a_checkpoint_is_read_without_its_weights(tmp_path, monkeypatch):
    import numpy as np

    from nnctl import checkpoint
    from nnctl.config import load_config
    from nnctl.run import train

    train(load_config(ROOT / "configs" / "circles.yaml", ["optimizer.epochs=2", f"output={tmp_path / 'run'}"]))
    read, real_load = [], np.load

    class Counting:
        def __init__(self, archive):
            self.archive, self.files = archive, archive.files

        def __getitem__(self, name):
            read.append(name)
            return self.archive[name]

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.archive.close()

    monkeypatch.setattr(checkpoint.np, "load", lambda *a, **k: Counting(real_load(*a, **k)))
    meta = checkpoint.read_metadata(tmp_path / "run" / "best.npz")
    assert read == ["meta"] and meta["layer_sizes"] == [2, 8, 2]
