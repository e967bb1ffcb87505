"""Runs are never silently replaced (issue 13, point 4): the next free name, or --overwrite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from nnctl.checkpoint import load_checkpoint
from nnctl.cli import app
from nnctl.files import free_directory

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def _train(out: Path, *extra: str):
    return runner.invoke(app, ["train", str(ROOT / "configs" / "circles.yaml"), "--set", f"output={out}", *extra])


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def test_the_same_config_twice_leaves_two_intact_runs(tmp_path):
    out = tmp_path / "runs" / "circles"
    first = _train(out, "--set", "optimizer.epochs=12")
    assert first.exit_code == 0, first.output
    before = _snapshot(out)
    second = _train(out, "--set", "optimizer.epochs=3")
    assert second.exit_code == 0, second.output
    assert second.stdout.splitlines()[0] == (f"note: {out} holds an earlier run, kept; this one goes to {out}-2 "
                                             "(--overwrite replaces it instead)")
    assert _snapshot(out) == before  # the 12-epoch run, byte for byte
    assert json.loads((out / "summary.json").read_text())["epochs_run"] == 12
    assert json.loads((Path(f"{out}-2") / "summary.json").read_text())["epochs_run"] == 3
    assert load_checkpoint(Path(f"{out}-2")).meta["config"]["output"] == f"{out}-2"
    third = _train(out, "--set", "optimizer.epochs=2")
    assert f"this one goes to {out}-3" in third.stdout


def test_overwrite_replaces_and_resume_goes_on_in_place(tmp_path):
    out = tmp_path / "run"
    assert _train(out, "--set", "optimizer.epochs=3").exit_code == 0
    replaced = _train(out, "--set", "optimizer.epochs=2", "--overwrite")
    assert replaced.exit_code == 0 and "holds an earlier run" not in replaced.stdout
    assert json.loads((out / "summary.json").read_text())["epochs_run"] == 2
    resumed = _train(out, "--set", "optimizer.epochs=4", "--resume", str(out))
    assert resumed.exit_code == 0, resumed.output
    assert json.loads((out / "summary.json").read_text())["epochs_run"] == 4
    assert not Path(f"{out}-2").exists()


def test_free_directory_skips_runs_not_other_things(tmp_path):
    holds = lambda d: (d / "best.npz").exists()  # noqa: E731
    assert free_directory(tmp_path / "new", holds) == tmp_path / "new"
    (tmp_path / "empty").mkdir()
    assert free_directory(tmp_path / "empty", holds) == tmp_path / "empty"
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "best.npz").write_bytes(b"")
    (tmp_path / "r-2").mkdir()
    (tmp_path / "r-2" / "best.npz").write_bytes(b"")
    assert free_directory(tmp_path / "r", holds) == tmp_path / "r-3"
    (tmp_path / "f").write_text("a file")
    assert free_directory(tmp_path / "f", holds) == tmp_path / "f"  # ensure_directory refuses it, in one line


def test_a_sweep_twice_keeps_both_and_overwrite_keeps_only_its_own_runs(tmp_path):
    args = ["sweep-hidden", str(ROOT / "configs" / "circles.yaml"), "--jobs", "1", "--set", "optimizer.epochs=3",
            "-o", str(tmp_path / "s")]
    assert runner.invoke(app, [*args, "--sizes", "0,2"]).exit_code == 0
    again = runner.invoke(app, [*args, "--sizes", "4"])
    assert again.exit_code == 0 and f"{tmp_path / 's'} holds an earlier sweep (or a run, or a sweep going on), " \
                                      f"kept; this one goes to {tmp_path / 's-2'}" in " ".join(again.stdout.split())
    assert {p.name[:2] for p in (tmp_path / "s" / "runs").iterdir()} == {"h0", "h2"}
    keep = tmp_path / "s" / "runs" / "notes"  # a directory of the user's own: never removed
    keep.mkdir()
    (keep / "mine.txt").write_text("x")
    replaced = runner.invoke(app, [*args, "--sizes", "4", "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    assert sorted(p.name[:2] for p in (tmp_path / "s" / "runs").iterdir()) == ["h4", "no"]
    assert json.loads((tmp_path / "s" / "results.json").read_text())["best"] == "4"


def test_a_sweep_never_touches_runs_it_did_not_write(tmp_path, monkeypatch):
    """-o . in a project with runs/: --overwrite replaces an earlier sweep's runs only; a run
    directory is never a sweep's."""
    monkeypatch.chdir(tmp_path)
    assert _train(tmp_path / "runs" / "mine", "--set", "optimizer.epochs=2").exit_code == 0
    args = ["sweep-hidden", str(ROOT / "configs" / "circles.yaml"), "--sizes", "2", "--jobs", "1",
            "--set", "optimizer.epochs=2"]
    for extra in ([], ["--overwrite"]):
        result = runner.invoke(app, [*args, "-o", ".", *extra])
        assert result.exit_code == 0, result.output
        assert (tmp_path / "runs" / "mine" / "best.npz").is_file()
    victim = tmp_path / "runs" / "mine"
    before = _snapshot(victim)
    into_run = runner.invoke(app, [*args, "-o", str(victim), "--overwrite"])
    assert into_run.exit_code == 1 and "holds a run of nnctl train, not a sweep" in into_run.stderr
    moved = runner.invoke(app, [*args, "-o", str(victim)])
    assert moved.exit_code == 0 and "this one goes to runs/mine-2" in moved.stdout
    assert _snapshot(victim) == before


def test_a_sweeps_config_trains_its_chosen_run_again(tmp_path):
    out = tmp_path / "s"
    result = runner.invoke(app, ["sweep-hidden", str(ROOT / "configs" / "circles.yaml"), "--sizes", "2,8",
                                 "--seeds", "2", "--jobs", "1", "--set", "optimizer.epochs=30", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["train", str(out / "config.yaml")]).exit_code == 0
    again, chosen = load_checkpoint(out / "best-run"), load_checkpoint(out / "best.npz")
    for a, b in zip(again.layers, chosen.layers, strict=True):  # the same split, seed and weights
        assert (a.W == b.W).all() and (a.b == b.b).all()


def test_overwrite_trains_beside_the_earlier_run_and_swaps_it_in_at_the_end(tmp_path):
    """A run killed midway never leaves new checkpoints beside an earlier run's config and summary:
    the new run writes into a hidden staging directory, swapped in when it ends."""
    import os

    from nnctl import run
    from nnctl.config import load_config

    out = tmp_path / "run"
    assert _train(out, "--set", "optimizer.epochs=2", "--set", "model.hidden=[2]").exit_code == 0
    earlier = {name: (out / name).read_bytes() for name in ("best.npz", "config.yaml", "summary.json")}
    seen = []

    def look(record):
        if record.epoch == 2:  # after a save (save_seconds=0)
            staging = out / f".nnctl-new-{os.getpid()}"
            seen.append({name: (out / name).read_bytes() for name in earlier} == earlier)  # untouched
            seen.append(sorted(p.name for p in staging.iterdir()))
            seen.append(yaml.safe_load((staging / "config.yaml").read_text())["model"]["hidden"])

    config = load_config(ROOT / "configs" / "circles.yaml", [f"output={out}", "optimizer.epochs=3"])
    result = run.train(config, on_epoch=look, save_seconds=0)
    assert seen == [True, ["best.npz", "config.yaml", "history.csv", "last.npz"], [8]]
    assert json.loads((out / "summary.json").read_text())["layer_sizes"] == [2, 8, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no staging or earlier run left
    assert result.files["best"] == out / "best.npz"


def test_a_run_that_fails_midway_leaves_the_earlier_run_whole(tmp_path):
    from nnctl import run
    from nnctl.config import load_config

    out = tmp_path / "run"
    assert _train(out, "--set", "optimizer.epochs=2", "--set", "model.hidden=[2]").exit_code == 0
    earlier = {p.name: p.read_bytes() for p in out.iterdir() if p.name != ".nnctl.lock"}

    def crash(record):
        if record.epoch == 2:
            raise RuntimeError("killed")

    config = load_config(ROOT / "configs" / "circles.yaml", [f"output={out}", "optimizer.epochs=3"])
    with pytest.raises(RuntimeError):
        run.train(config, on_epoch=crash, save_seconds=0)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != ".nnctl.lock"} == earlier
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert not [p for p in out.iterdir() if p.name.startswith(".nnctl-")]


def test_a_staging_directory_left_by_a_killed_run_is_removed_by_the_next(tmp_path):
    out = tmp_path / "run"
    assert _train(out, "--set", "optimizer.epochs=2").exit_code == 0
    left = out / ".nnctl-new-999999"  # a killed run's: nobody holds the directory's lock
    left.mkdir()
    (left / "best.npz").write_bytes(b"partial")
    assert _train(out, "--set", "optimizer.epochs=2", "--overwrite").exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert not [p for p in out.iterdir() if p.name.startswith(".nnctl-")]


def test_a_second_writer_into_a_run_directory_fails_at_once_naming_the_first(tmp_path):
    import os

    from nnctl.errors import OutputError
    from nnctl.rundir import RunDirectory

    out = tmp_path / "run"
    first = RunDirectory.claim(out, fresh=True, names=())
    try:
        with pytest.raises(OutputError, match=rf"{out}: another nnctl run or sweep is writing here \(PID {os.getpid()}\)"):
            RunDirectory.claim(out, fresh=True, names=())
    finally:
        first.release()
    RunDirectory.claim(out, fresh=True, names=()).release()  # free again


def test_overwrite_moves_only_a_runs_files_and_keeps_everything_else(tmp_path, monkeypatch):
    """A run directory that is also the project's folder (output: .): --overwrite replaces the run's
    five files and leaves the data, the config and the user's files where they were."""
    import shutil

    monkeypatch.chdir(tmp_path)
    shutil.copy(ROOT / "datasets" / "circles.csv", tmp_path / "circles.csv")
    (tmp_path / "config.yaml").write_text("data: {train: circles.csv, target: label}\noptimizer: {epochs: 2}\n"
                                          "output: .\n")
    (tmp_path / "notes.txt").write_text("mine\n")
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "a.png").write_bytes(b"png")
    assert runner.invoke(app, ["train", "config.yaml", "--overwrite"]).exit_code == 0
    done = runner.invoke(app, ["train", "config.yaml", "--overwrite", "--set", "optimizer.epochs=3"])
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.npz", "circles.csv", "config.yaml", "history.csv",
                                                          "last.npz", "notes.txt", "plots", "summary.json"]
    assert (tmp_path / "notes.txt").read_text() == "mine\n" and (tmp_path / "plots" / "a.png").read_bytes() == b"png"
    assert json.loads((tmp_path / "summary.json").read_text())["epochs_run"] == 3
