"""Ctrl-C with a real process and a real signal: a checkpoint, the command that resumes, exit 130."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from nnctl.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parent.parent
NNCTL = [sys.executable, "-c", "import sys; sys.argv[0] = 'nnctl'; from nnctl.cli import main; main()"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
CONFIG = str(ROOT / "configs" / "spirals.yaml")


def _start(output: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([*NNCTL, "train", CONFIG, "--every", "1", "--set", "optimizer.epochs=100000",
                             "--set", f"output={output}", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)


def _wait_for_epochs(process: subprocess.Popen, count: int) -> None:
    seen = 0
    while seen < count:
        line = process.stdout.readline()
        assert line, "training ended before it was interrupted"
        seen += line.startswith("epoch ")


def test_ctrl_c_saves_a_checkpoint_prints_the_resume_command_and_exits_130(tmp_path):
    output = tmp_path / "run"
    process = _start(output)
    _wait_for_epochs(process, 3)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "stopping after this step to write a checkpoint" in err
    resume_line = next(line for line in err.splitlines() if line.startswith("to go on: "))
    assert resume_line.endswith(f"--resume {output}") and "--set optimizer.epochs=100000" in resume_line
    assert "stopped: interrupted " in out and "Traceback" not in err
    last = load_checkpoint(output / "last.npz")
    state = last.meta["training_state"]
    assert state["epoch"] >= 3 and load_checkpoint(output / "best.npz").meta["epoch"] <= state["epoch"]

    # Going on from there gives exactly the weights of a run that was never interrupted.
    total = state["epoch"] + 2
    resumed = subprocess.run([*NNCTL, "train", CONFIG, "--set", f"optimizer.epochs={total}",
                              "--resume", str(output)], capture_output=True, text=True, env=ENV, cwd=ROOT)
    assert resumed.returncode == 0, resumed.stderr
    straight = subprocess.run([*NNCTL, "train", CONFIG, "--set", f"optimizer.epochs={total}",
                               "--set", f"output={tmp_path / 'straight'}"], capture_output=True, text=True,
                              env=ENV, cwd=ROOT)
    assert straight.returncode == 0, straight.stderr
    a, b = load_checkpoint(output / "last.npz"), load_checkpoint(tmp_path / "straight" / "last.npz")
    assert a.meta["epoch"] == b.meta["epoch"] == total
    assert all(np.array_equal(x.W, y.W) and np.array_equal(x.b, y.b) for x, y in zip(a.layers, b.layers))


def test_a_second_ctrl_c_quits_at_once_and_damages_no_file(tmp_path):
    output = tmp_path / "run"
    # Wide layers make each checkpoint ~8 MB, so the orderly stop after the first Ctrl-C
    # (finish the step, write two checkpoints) lasts long enough for the second to land in it.
    process = _start(output, "--set", "model.hidden=[1024, 1024]")
    _wait_for_epochs(process, 2)
    time.sleep(2.5)  # past the first timed save, so checkpoints exist on disk
    process.send_signal(signal.SIGINT)
    note = process.stderr.readline()
    while note and "stopping after this step" not in note:
        note = process.stderr.readline()
    process.send_signal(signal.SIGINT)  # the first one has been seen: this is the second
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "to go on:" not in err  # it quit at once, without the orderly stop of a single Ctrl-C
    names = sorted(p.name for p in output.iterdir())
    assert not [name for name in names if name.endswith(".tmp")], names
    for name in ("best.npz", "last.npz"):
        assert name in names
        load_checkpoint(output / name)  # complete and valid, whichever write it last finished
