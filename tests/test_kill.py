"""SIGKILL at random moments, during epochs and during checkpoint writes: every checkpoint
file left behind loads and is complete, and no temporary file is taken for a checkpoint."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from nnctl.checkpoint import checkpoint_path, load_checkpoint

ROOT = Path(__file__).resolve().parent.parent
NNCTL = [sys.executable, "-c", "import sys; sys.argv[0] = 'nnctl'; from nnctl.cli import main; main()"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
KILLS = 24


def _command(output: Path, resume: bool) -> list[str]:
    # Wide layers make each checkpoint a few MB, and --save-seconds 0 writes both after
    # every epoch, so many kills land in the middle of a write.
    command = [*NNCTL, "train", str(ROOT / "configs" / "moons.yaml"), "--save-seconds", "0",
               "--set", "model.hidden=[256, 256]", "--set", "optimizer.epochs=100000", "--set", f"output={output}"]
    return command + ["--resume", str(output)] if resume else command


def _check(output: Path) -> int:
    """Every .npz loads whole; returns the epoch last.npz holds (0 when there is none)."""
    names = [p.name for p in output.iterdir()] if output.exists() else []
    for name in names:
        assert (name.endswith((".npz", ".yaml", ".csv", ".json")) or (name.startswith(".") and name.endswith(".tmp"))
                or name == ".nnctl.lock"), name  # a killed run's lock file: its lock went with the process
    for name in (n for n in names if n.endswith(".npz")):
        ckpt = load_checkpoint(output / name)
        assert all(np.isfinite(layer.W).all() for layer in ckpt.layers)
        if name == "last.npz":
            assert "training_state" in ckpt.meta  # sgd keeps no optimizer arrays; the best epoch rides along
            assert all(name.startswith("state_best_") or name == "state_history" for name in ckpt.state_arrays)
            state = ckpt.meta["training_state"]  # the history rides along too, one row per epoch done
            assert len(ckpt.state_arrays["state_history"]) == state["epoch"]
    if output.exists():
        assert checkpoint_path(output).name == "best.npz"  # a run directory means best.npz, never a .tmp
    if "history.csv" in names:  # whole: epochs 1, 2, ..., n (for plot; --resume reads last.npz's own history)
        epochs = [int(line.split(",")[0]) for line in (output / "history.csv").read_text().splitlines()[1:]]
        assert epochs == list(range(1, len(epochs) + 1))
    return load_checkpoint(output / "last.npz").meta["training_state"]["epoch"] if "last.npz" in names else 0


def test_sigkill_at_random_moments_never_leaves_a_damaged_checkpoint(tmp_path):
    output = tmp_path / "run"
    rng = np.random.default_rng(2026)
    epochs_seen, temporaries_seen = [], 0
    for kill in range(KILLS):
        process = subprocess.Popen(_command(output, resume=(output / "last.npz").exists()),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV, cwd=ROOT)
        time.sleep(float(rng.uniform(0.8, 2.2)))  # start-up takes ~0.6 s; then epochs and writes
        process.send_signal(signal.SIGKILL)
        _, err = process.communicate(timeout=30)
        assert process.returncode == -signal.SIGKILL, err.decode()
        temporaries_seen += sum(1 for p in output.glob(".*.tmp")) if output.exists() else 0
        epoch = _check(output)
        assert not epochs_seen or epoch >= epochs_seen[-1]  # the previous checkpoint or a newer one
        epochs_seen.append(epoch)
    assert epochs_seen[-1] > epochs_seen[0] and epochs_seen[-1] > 0
    assert temporaries_seen > 0  # some kills landed in the middle of a write, and the checks above held
    # A clean finish removes what the killed writes left, and the run still goes on exactly.
    finish = subprocess.run([*NNCTL, "train", str(ROOT / "configs" / "moons.yaml"), "--set", "model.hidden=[256, 256]",
                             "--set", f"optimizer.epochs={epochs_seen[-1] + 1}", "--resume", str(output)],
                            capture_output=True, text=True, env=ENV, cwd=ROOT)
    assert finish.returncode == 0, finish.stderr
    assert not list(output.glob(".*.tmp"))
    summary = json.loads((output / "summary.json").read_text())
    assert summary["epochs_run"] == epochs_seen[-1] + 1
    print(f"{KILLS} kills survived; last epochs {epochs_seen}; temporary files seen {temporaries_seen}")
