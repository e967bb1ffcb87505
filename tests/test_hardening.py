"""Inputs that are not files, outputs that are links or too long, and runs that would meet:
each is one line and a non-zero exit, at once (issue: nothing a user or a hostile file does loses a
run or prints a traceback)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nnctl.cli import app

ROOT = Path(__file__).resolve().parent.parent
CIRCLES = str(ROOT / "configs" / "circles.yaml")
runner = CliRunner()


def _error(args: list[str]) -> str:
    done = runner.invoke(app, args)
    assert done.exit_code == 1, done.output
    assert done.exception is None or isinstance(done.exception, SystemExit), done.exception
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("hardening") / "run"
    done = runner.invoke(app, ["train", CIRCLES, "--set", f"output={out}", "--set", "optimizer.epochs=3"])
    assert done.exit_code == 0, done.output
    return out


def test_a_fifo_as_config_csv_or_checkpoint_is_refused_at_once(tmp_path, trained):
    """Opening a FIFO with no writer would wait forever: it is refused before it is opened (a child
    process with a timeout, so a hang fails the test instead of stopping it)."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    code = "import sys; sys.argv[0] = 'nnctl'; from nnctl.cli import main; main()"
    cases = [(["train", str(fifo)], f"error: {fifo}: is a FIFO (named pipe), not a regular file"),
             (["train", CIRCLES, "--set", f"data.train={fifo}"], f"error: {fifo}: is a FIFO (named pipe)"),
             (["predict", str(trained), str(fifo)], f"error: {fifo}: is a FIFO (named pipe)"),
             (["inspect", str(fifo)], f"error: {fifo}: is a FIFO (named pipe)")]
    for args, start in cases:
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60,
                              cwd=tmp_path)
        assert done.returncode == 1 and done.stderr.startswith(start), (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_a_device_as_config_or_csv_is_refused_not_read_forever():
    assert _error(["train", "/dev/zero"]) == ("error: /dev/zero: is a device, not a regular file; nnctl reads "
                                              "inputs from files")
    assert _error(["data", "describe", "/dev/zero"]).startswith("error: /dev/zero: is a device, not a regular file")


def test_a_config_larger_than_any_config_is_refused(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * (2**20) + "\n")
    assert _error(["train", str(big)]) == f"error: {big}: larger than 1 MiB; a config file is never that large"


def test_a_directory_as_checkpoint_or_csv(tmp_path, trained):
    assert _error(["predict", str(trained), str(tmp_path)]) == f"error: {tmp_path}: is a directory, not a CSV file"


def test_results_are_never_written_through_a_symbolic_link(tmp_path, trained):
    precious = tmp_path / "precious.csv"
    precious.write_text("do not touch\n")
    link = tmp_path / "out.csv"
    link.symlink_to(precious)
    line = _error(["predict", str(trained), str(ROOT / "datasets" / "circles.csv"), "-o", str(link)])
    assert line == (f"error: {link}: is a symbolic link; nnctl does not write through links (remove the link, "
                    "or give another name)")
    assert precious.read_text() == "do not touch\n" and link.is_symlink()


def test_a_run_directory_whose_checkpoint_links_elsewhere_is_not_written_through(tmp_path):
    out = tmp_path / "run"
    done = runner.invoke(app, ["train", CIRCLES, "--set", f"output={out}", "--set", "optimizer.epochs=2"])
    assert done.exit_code == 0
    precious = tmp_path / "precious.npz"
    precious.write_bytes(b"mine")
    (out / "last.npz").unlink()
    (out / "last.npz").symlink_to(precious)
    line = _error(["train", CIRCLES, "--set", f"output={out}", "--set", "optimizer.epochs=4", "--resume", str(out)])
    assert "last.npz" in line and precious.read_bytes() == b"mine"


def test_a_path_longer_than_the_system_allows_is_one_line(tmp_path):
    long = tmp_path / ("x" * 300 + ".csv")
    line = _error(["data", "make", "circles", "-o", str(long)])
    assert line.startswith("error: ") and "File name too long" in line


def test_predict_never_writes_over_its_own_input_or_a_checkpoint(tmp_path, trained):
    data = tmp_path / "rows.csv"
    shutil.copy(ROOT / "datasets" / "circles.csv", data)
    before = data.read_bytes()
    line = _error(["predict", str(trained), str(data), "-o", str(data)])
    assert line == f"error: {data}: is an input of this command; write to another file"
    assert data.read_bytes() == before
    best = (trained / "best.npz").read_bytes()
    line = _error(["predict", str(trained), str(data), "-o", str(trained / "best.npz")])
    assert line.startswith(f"error: {trained / 'best.npz'}: is ") and (trained / "best.npz").read_bytes() == best
    line = _error(["predict", str(trained), str(data), "-o", str(trained / "history.csv")])
    assert "a file of the run in" in line


def test_a_sweep_never_replaces_a_run_nor_a_run_a_sweep(tmp_path, trained):
    before = sorted(p.name for p in trained.iterdir())
    line = _error(["sweep-hidden", CIRCLES, "--sizes", "0", "-o", str(trained), "--overwrite"])
    assert line.startswith(f"error: {trained}: holds a run of nnctl train, not a sweep")
    assert sorted(p.name for p in trained.iterdir()) == before
    sweep_dir = tmp_path / "sweep"
    sweep_dir.mkdir()
    (sweep_dir / "results.json").write_text("{}")
    line = _error(["train", CIRCLES, "--set", f"output={sweep_dir}", "--overwrite"])
    assert line.startswith(f"error: {sweep_dir}: holds a sweep; a run does not go there, even with --overwrite")


def test_data_make_never_writes_over_a_runs_files(trained):
    before = (trained / "history.csv").read_bytes()
    line = _error(["data", "make", "circles", "-o", str(trained / "history.csv")])
    assert line.startswith(f"error: {trained / 'history.csv'}: is a file of the run in ")
    assert (trained / "history.csv").read_bytes() == before


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
@pytest.mark.parametrize("args", [["predict", "{run}", str(ROOT / "datasets" / "circles.csv")],
                                  ["inspect", "{run}", "--json"], ["inspect", "{run}"],
                                  ["data", "make", "circles", "-o", "-"]])
def test_a_full_device_on_stdout_is_one_line(trained, args):
    code = "import sys; sys.argv[0] = 'nnctl'; from nnctl.cli import main; main()"
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-c", code, *[a.format(run=trained) for a in args]], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr == "error: cannot write the output (No space left on device)\n"


def test_a_second_run_into_a_directory_being_written_fails_at_once_naming_the_first(tmp_path):
    import signal
    import time

    out = tmp_path / "run"
    code = "import sys; sys.argv[0] = 'nnctl'; from nnctl.cli import main; main()"
    first = subprocess.Popen([sys.executable, "-c", code, "train", CIRCLES, "--set", f"output={out}",
                              "--set", "optimizer.epochs=1000000", "--save-seconds", "0"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (out / "history.csv").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        line = _error(["train", CIRCLES, "--set", f"output={out}", "--set", "optimizer.epochs=2", "--overwrite"])
        assert line == (f"error: {out}: another nnctl run or sweep is writing here (PID {first.pid}); wait for it "
                        f"to end, or give this one another output (output from --set, relative to the working "
                        f"directory {Path.cwd()})")
        line = _error(["train", CIRCLES, "--set", f"output={out}", "--set", "optimizer.epochs=2000000", "--resume",
                       str(out)])
        assert f"another nnctl run or sweep is writing here (PID {first.pid})" in line
        # Without --overwrite a new run goes beside the first, as always.
        beside = runner.invoke(app, ["train", CIRCLES, "--set", f"output={out}", "--set", "optimizer.epochs=2"])
        assert beside.exit_code == 0 and (tmp_path / "run-2" / "summary.json").exists()
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)


def test_a_network_that_cannot_fit_in_memory_is_refused_before_any_array_with_the_figures(monkeypatch):
    from nnctl import run

    monkeypatch.setattr(run, "available_memory", lambda: 2**20)  # 1 MiB available
    line = _error(["train", CIRCLES, "--set", "model.hidden=[256,256]", "--set", "optimizer.name=adam"])
    # 2*256 + 256*256 + 256*2 weights + 514 biases = 67,842 parameters; float32; adam: 4 + 2 scratch + m, v = 8 copies
    parameters = 2 * 256 + 256 + 256 * 256 + 256 + 256 * 2 + 2
    needed = (parameters * 4 * 8 + 8 * 256 * 256) / 2**20
    assert line == (f"error: the network 2 -> 256 -> 256 -> 2 has {parameters:,} parameters: training it needs about "
                    f"{needed:.1f} MiB (weights, gradients, optimizer state and checkpoints), more than the 1.0 MiB "
                    "available; fewer units in model.hidden from --set")
    assert run.available_memory.__name__ == "<lambda>"
    monkeypatch.undo()
    assert run.available_memory() is None or run.available_memory() > 2**20  # this machine's own figure


def test_seeds_trained_stacked_are_counted_in_the_memory_check(monkeypatch, tmp_path):
    from nnctl import run

    from nnctl.core.optimizers import OPTIMIZERS

    # 2 -> 256 -> 256 -> 2 with sgd: 4 + its scratch copies of 67,074 float32 parameters per network, and
    # the largest layer drawn in float64 once: about 1.9 MiB for one network, 4.3 MiB for three
    parameters = 2 * 256 + 256 + 256 * 256 + 256 + 256 * 2 + 2
    needed = (3 * parameters * 4 * (4 + OPTIMIZERS["sgd"].scratch) + 8 * 256 * 256) / 2**20
    monkeypatch.setattr(run, "available_memory", lambda: 3 * 2**20)
    sweep = ["sweep-hidden", CIRCLES, "--sizes", "256x256", "--jobs", "1", "--set", "optimizer.epochs=1",
             "-o", str(tmp_path / "s")]
    assert runner.invoke(app, [*sweep[:-2], "--seeds", "1", "-o", str(tmp_path / "one")]).exit_code == 0
    line = _error([*sweep, "--seeds", "3"])
    assert line == (f"error: the network 2 -> 256 -> 256 -> 2 has {parameters:,} parameters: training 3 seeds of it "
                    f"together needs about {needed:.1f} MiB (weights, gradients, optimizer state and checkpoints), "
                    f"more than the 3.0 MiB available; fewer --seeds, or fewer units in model.hidden in {CIRCLES}")


def test_a_sweeps_processes_together_are_counted_in_the_memory_check(monkeypatch, tmp_path):
    from nnctl import run
    from nnctl.core.optimizers import OPTIMIZERS

    # two local processes, each training one 2 -> 256 -> 256 -> 2 network (about 1.9 MiB): 3.8 MiB at once
    parameters = 2 * 256 + 256 + 256 * 256 + 256 + 256 * 2 + 2
    one = parameters * 4 * (4 + OPTIMIZERS["sgd"].scratch) + 8 * 256 * 256
    monkeypatch.setattr(run, "available_memory", lambda: 3 * 2**20)
    line = _error(["sweep-hidden", CIRCLES, "--sizes", "256x256", "--seeds", "2", "--jobs", "2",
                   "--set", "optimizer.epochs=1", "-o", str(tmp_path / "s")])
    assert line == (f"error: 2 processes training 2 networks at once (the largest candidates' seeds) need about "
                    f"{2 * one / 2**20:.1f} MiB, more than the 3.0 MiB available; fewer --jobs, fewer --seeds, or "
                    "smaller networks")
    assert not (tmp_path / "s").exists()


def test_a_sweep_of_more_runs_than_a_sweep_does_is_refused_before_it_starts(tmp_path):
    line = _error(["sweep", CIRCLES, "--grid", "optimizer.learning_rate=" + ",".join(str(0.01 * k) for k in range(1, 301)),
                   "--seeds", "100", "-o", str(tmp_path / "s")])
    assert line == ("error: 300 candidates x 100 seeds = 30,000 runs; a sweep does at most 20,000 (fewer candidates, "
                    "seeds or folds)")
    assert not (tmp_path / "s").exists()


def test_features_near_the_float64_limit_give_finite_scaling_and_a_usable_checkpoint(tmp_path):
    """Values of both signs near 1e308: the mean and the variance overflow a plain sum; the scaler
    takes them on the column divided by its largest magnitude, so the run writes checkpoints that
    predict, inspect and resume read."""
    import numpy as np

    from nnctl.checkpoint import load_checkpoint
    from nnctl.prep.transforms import Scaler

    X = np.array([[1.7e308, 1.0], [-1.7e308, 2.0], [1.7e308, 3.0], [-1.6e308, 4.0]])
    scaler = Scaler.fit(X)
    assert np.isfinite(scaler.mean).all() and np.isfinite(scaler.scale).all()
    assert scaler.mean[0] == pytest.approx(np.mean(X[:, 0] / 1e300) * 1e300, rel=1e-12)
    assert scaler.scale[0] == pytest.approx(np.std(X[:, 0] / 1e300) * 1e300, rel=1e-12)
    assert scaler.mean[1] == 2.5  # an ordinary column: as before, bit for bit
    standardized = scaler.transform(X)
    assert np.isfinite(standardized).all()
    np.testing.assert_allclose(standardized[:, 0], (X[:, 0] / 1e300 - scaler.mean[0] / 1e300) / (scaler.scale[0] / 1e300))
    data = tmp_path / "huge.csv"
    data.write_text("a,b,y\n" + "".join(f"{a!r},{b},{i % 2}\n" for i, (a, b) in enumerate(X.tolist() * 3)))
    out = tmp_path / "run"
    done = runner.invoke(app, ["train", CIRCLES, "--set", f"data.train={data}", "--set", "data.target=y",
                               "--set", "data.validation=0", "--set", f"output={out}", "--set", "optimizer.epochs=2"])
    assert done.exit_code == 0, done.output
    assert np.isfinite(load_checkpoint(out / "best.npz").scaler.mean).all()
    predicted = runner.invoke(app, ["predict", str(out), str(data)])
    assert predicted.exit_code == 0 and len(predicted.stdout.splitlines()) == 13


def test_a_checkpoint_with_non_finite_arrays_is_never_written_over_the_last(tmp_path):
    import numpy as np

    from nnctl.checkpoint import load_checkpoint, save_checkpoint
    from nnctl.core.model import init_network
    from nnctl.errors import CheckpointError
    from nnctl.prep.transforms import Scaler

    layers = init_network([2, 2], [], "softmax", np.random.default_rng(0))
    meta = {"loss": "softmax_cross_entropy", "task": "classification", "feature_names": ["a", "b"],
            "target_names": ["y"], "classes": [0, 1]}
    path = tmp_path / "best.npz"
    save_checkpoint(path, layers, Scaler.identity(2), meta)
    before = path.read_bytes()
    for bad in (Scaler(np.array([0.0, np.inf]), np.ones(2)), Scaler(np.zeros(2), np.array([1.0, np.nan]))):
        with pytest.raises(CheckpointError, match=r"best.npz: not written: array scaler_(mean|scale) holds "
                                                  r"non-finite values \(the earlier checkpoint, if any, is kept\)"):
            save_checkpoint(path, layers, bad, meta)
    layers[0].W[0, 0] = np.nan
    with pytest.raises(CheckpointError, match="array W0 holds non-finite values"):
        save_checkpoint(path, layers, Scaler.identity(2), meta)
    assert path.read_bytes() == before and load_checkpoint(path).meta["classes"] == [0, 1]


def test_a_class_target_of_hundreds_of_whole_numbers_is_refused_with_a_hint(tmp_path):
    data = tmp_path / "ages.csv"
    data.write_text("x,age\n" + "".join(f"{i % 7},{float(i % 300)}\n" for i in range(6000)))
    line = _error(["train", CIRCLES, "--set", f"data.train={data}", "--set", "data.target=age"])
    assert line == (f"error: {data}: column 'age' holds 300 distinct values in 6000 rows, too many to be classes "
                    "for loss: softmax_cross_entropy; use loss: mse or mae to predict it as a number (if they are "
                    "class codes, write them as text, e.g. c17) (data.train from --set, relative to the working "
                    f"directory {Path.cwd()})")


def test_training_rows_that_all_weigh_zero_are_refused(tmp_path):
    data = tmp_path / "w.csv"
    data.write_text("x1,x2,label,w\n" + "".join(f"{i},{-i},{i % 2},0\n" for i in range(20)))
    line = _error(["train", CIRCLES, "--set", f"data.train={data}", "--set", "data.sample_weight=w"])
    assert line == (f"error: {data}: every training row weighs 0 (data.sample_weight (column 'w')): the loss would be "
                    "0/0 and nothing would be learned")


ESC = "\x1b]0;owned\x07\x1b[31m"  # a terminal title and a colour change, as a hostile file would carry


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A run trained on a file whose class labels and a column name carry terminal escape sequences."""
    folder = tmp_path_factory.mktemp("hostile")
    data = folder / "hostile.csv"
    rows = "".join(f"{i / 10},{-i / 10},{'ok' if i % 2 else 'bad' + ESC}\n" for i in range(40))
    data.write_text(f"x1,x2{ESC},label\n{rows}")
    out = folder / "run"
    done = runner.invoke(app, ["train", CIRCLES, "--set", f"data.train={data}", "--set", f"output={out}",
                               "--set", "optimizer.epochs=2"])
    assert done.exit_code == 0, done.output
    assert "\x1b" not in done.stdout
    return data, out


@pytest.mark.parametrize("command", [["inspect", "{run}"], ["evaluate", "{run}", "{data}"], ["boundary", "{run}"],
                                     ["predict", "{run}", "{data}", "-o", "{out}"], ["runs", "{folder}"]])
def test_text_from_a_file_never_reaches_the_terminal_raw(hostile, tmp_path, command):
    data, run = hostile
    args = [a.format(run=run, data=data, out=tmp_path / "p.csv", folder=run.parent) for a in command]
    done = runner.invoke(app, args, terminal_width=300)
    assert done.exit_code == 0, done.output
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout
    if command[0] in ("inspect", "evaluate", "boundary"):
        assert "bad\\x1b]0;owned\\x07\\x1b[31m" in done.stdout  # shown, escaped
    if command[0] == "predict":  # the file written keeps the labels as they were
        assert ("bad" + ESC) in (tmp_path / "p.csv").read_text()


def test_an_error_quoting_a_cell_escapes_it(tmp_path):
    data = tmp_path / "bad.csv"
    data.write_text(f"x1,x2,label\n1,2{ESC},a\n3,4,b\n")
    done = runner.invoke(app, ["train", CIRCLES, "--set", f"data.train={data}"])
    assert done.exit_code == 1 and "\x1b" not in done.stderr and "\\x1b" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_predictions_to_a_terminal_are_escaped_and_to_a_pipe_as_written(hostile):
    import pty

    data, run = hostile
    code = "import sys; sys.argv[0] = 'nnctl'; from nnctl.cli import main; main()"
    controller, terminal = pty.openpty()
    process = subprocess.Popen([sys.executable, "-c", code, "predict", str(run), str(data), "--keep", "label"],
                               stdout=terminal, stderr=subprocess.DEVNULL)
    os.close(terminal)
    seen = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    process.wait(timeout=60)
    os.close(controller)
    assert b"\x1b" not in seen and b"bad\\x1b]0;owned\\x07\\x1b[31m" in seen
    piped = subprocess.run([sys.executable, "-c", code, "predict", str(run), str(data), "--keep", "label"],
                           capture_output=True, timeout=60)
    assert ("bad" + ESC).encode() in piped.stdout  # a pipe gets the file's own bytes


def test_a_column_named_like_a_slot_is_refused_before_training(tmp_path):
    data = tmp_path / "dup.csv"
    data.write_text("plan,plan=basic,label\n" + "".join(f"{'basic' if i % 2 else 'pro'},{i},{i % 2}\n"
                                                          for i in range(12)))
    line = _error(["train", CIRCLES, "--set", f"data.train={data}", "--set", f"output={tmp_path / 'run'}"])
    assert "two inputs would be named 'plan=basic'" in line and not (tmp_path / "run" / "best.npz").exists()


def test_what_nnctl_writes_it_reads_back_a_rate_decayed_to_zero_and_a_stop_in_epoch_one(tmp_path):
    """Two checkpoints the metadata schema once refused though nnctl wrote them."""
    from nnctl.checkpoint import load_checkpoint
    from nnctl.config import load_config
    from nnctl.run import train

    out = tmp_path / "decayed"
    train(load_config(ROOT / "configs" / "circles.yaml", [f"output={out}", "optimizer.epochs=3",
                                                          "schedule.name=exponential", "schedule.factor=1e-300"]))
    assert load_checkpoint(out / "last.npz").meta["training_state"]["learning_rate"] == 0.0
    stopped = tmp_path / "stopped"
    train(load_config(ROOT / "configs" / "circles.yaml", [f"output={stopped}", "optimizer.batch_size=8"]),
          should_stop=lambda: True)  # Ctrl-C after the first step: no epoch finished
    state = load_checkpoint(stopped / "last.npz").meta["training_state"]
    assert state["epoch"] == 0 and state["step"] == 1 and state["history_columns"] == []


def test_regression_targets_near_the_float64_limit_give_a_readable_checkpoint(tmp_path):
    import numpy as np

    from nnctl.checkpoint import load_checkpoint
    from nnctl.prep.preprocessor import TargetScaling

    y = np.array([[1.5e160], [-1.2e160], [3e159], [9e159]])
    scaling = TargetScaling.fit(y)
    assert np.isfinite(scaling.scale).all() and scaling.scale[0] == pytest.approx(np.std(y / 1e150) * 1e150)
    plain = TargetScaling.fit(np.array([[1.0], [2.0], [4.0]]))
    assert plain.mean == (7 / 3,) and plain.scale == (float(np.std([1.0, 2.0, 4.0])),)  # as before, bit for bit
    data = tmp_path / "big.csv"
    data.write_text("x,y\n" + "".join(f"{i},{v!r}\n" for i, v in enumerate(y[:, 0].tolist() * 5)))
    out = tmp_path / "run"
    done = runner.invoke(app, ["train", CIRCLES, "--set", f"data.train={data}", "--set", "data.target=y",
                               "--set", "loss=mse", "--set", f"output={out}", "--set", "optimizer.epochs=2"])
    assert done.exit_code == 0, done.output
    assert load_checkpoint(out / "best.npz").preprocessor.target is not None


def test_whole_number_class_codes_may_be_many_decimals_may_not(tmp_path):
    """150 classes written as 0..149 over 3,000 rows train; the same values written 0.0..149.0 are a quantity."""
    from nnctl.config import load_config
    from nnctl.errors import DataError
    from nnctl.prep.prepare import prepare_data
    import numpy as np

    for written, ok in (("{}", True), ("{}.0", False)):
        data = tmp_path / f"codes{ok}.csv"
        data.write_text("x1,x2,label\n" + "".join(f"{i},{-i}," + written.format(i % 150) + "\n" for i in range(3000)))
        config = load_config(ROOT / "configs" / "circles.yaml", [f"data.train={data}"])
        if ok:
            assert prepare_data(config, np.random.default_rng(0)).dataset.classes == tuple(range(150))
        else:
            with pytest.raises(DataError, match="holds 150 distinct values in 3000 rows, too many to be classes"):
                prepare_data(config, np.random.default_rng(0))
