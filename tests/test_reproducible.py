"""The same config and seed give bit-identical checkpoints in two fresh processes.

Each run is a new Python process (``nnctl train`` through ``nnctl.cli.main``)
with BLAS pinned to one thread, so nothing is shared between the runs but the
config file and the data.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
DATASET = REPO / "datasets" / "circles.csv"
EPOCHS = 20
RUN_FILES = {"best.npz", "last.npz", "config.yaml", "history.csv", "summary.json"}

# The shape of configs/circles.yaml, shortened to a few epochs.
CONFIG = f"""\
data:
  train: {DATASET}
  target: label
  features: all
  validation: 0.2
  standardize: true
model:
  hidden: [8]
  activation: sigmoid
  init: auto
  dtype: float32
loss: softmax_cross_entropy
regularization: {{l1: 0.0, l2: 0.0001}}
optimizer: {{name: sgd, learning_rate: 0.5, batch_size: 32, epochs: {EPOCHS}}}
seed: 0
output: runs/unused
"""

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _start(config: Path, output: Path, *overrides: str) -> subprocess.Popen:
    command = [sys.executable, "-c", "from nnctl.cli import main; main()", "train", str(config),
               "--set", f"output={output}", *(arg for o in overrides for arg in ("--set", o))]
    return subprocess.Popen(command, env=ENV, cwd=output.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _finish(process: subprocess.Popen) -> None:
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, f"exit {process.returncode}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    assert "Traceback" not in stderr


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """run_a and run_b (same config and seed), run_seed1, and run_c from run_a's resolved config.yaml."""
    root = tmp_path_factory.mktemp("reproducible")
    config = root / "circles.yaml"
    config.write_text(CONFIG)
    dirs = {name: root / name for name in ("run_a", "run_b", "run_seed1", "run_c")}
    # Two cores: the independent runs go side by side.
    started = [_start(config, dirs["run_a"]), _start(config, dirs["run_b"]),
               _start(config, dirs["run_seed1"], "seed=1")]
    for process in started:
        _finish(process)
    _finish(_start(dirs["run_a"] / "config.yaml", dirs["run_c"]))
    return dirs


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def _without_wall_times(meta_text: str) -> np.ndarray:
    """The meta text with the seconds of each epoch in the stored history taken out."""
    meta = json.loads(meta_text)
    for row in meta.get("history", []):
        row.pop("seconds")
    return np.array(json.dumps(meta, sort_keys=True))


def _assert_same_checkpoint(a: Path, b: Path, output_a: Path, output_b: Path) -> None:
    """Every array bit for bit; the meta text too, once run b's output path reads as run a's
    (and the wall time of each epoch, in last.npz's history, is left out)."""
    arrays_a, arrays_b = _arrays(a), _arrays(b)
    assert sorted(arrays_a) == sorted(arrays_b)
    for name, array in arrays_a.items():
        other = arrays_b[name]
        if name == "state_history":  # one row per epoch; its seconds column is wall time
            columns = json.loads(str(arrays_a["meta"]))["training_state"]["history_columns"]
            assert columns == json.loads(str(arrays_b["meta"]))["training_state"]["history_columns"]
            array, other = (np.delete(x, columns.index("seconds"), axis=1) for x in (array, other))
        if name == "meta":
            array = _without_wall_times(str(array))
            other = _without_wall_times(str(other).replace(str(output_b), str(output_a)))
        assert array.dtype == other.dtype, name
        assert array.shape == other.shape, name
        assert np.array_equal(array, other), name
        if array.dtype.kind == "f":
            assert array.tobytes() == other.tobytes(), name  # bit for bit, signed zeros included


@pytest.mark.parametrize("checkpoint", ["best.npz", "last.npz"])
def test_same_config_and_seed_give_bit_identical_checkpoints(runs, checkpoint):
    _assert_same_checkpoint(runs["run_a"] / checkpoint, runs["run_b"] / checkpoint, runs["run_a"], runs["run_b"])
    meta_a = json.loads(str(_arrays(runs["run_a"] / checkpoint)["meta"]))
    meta_b = json.loads(str(_arrays(runs["run_b"] / checkpoint)["meta"]))
    assert meta_a["config"]["output"] == str(runs["run_a"])
    assert meta_b["config"]["output"] == str(runs["run_b"])  # the one field allowed to differ


def test_a_different_seed_gives_different_weights(runs):
    a, other = _arrays(runs["run_a"] / "last.npz"), _arrays(runs["run_seed1"] / "last.npz")
    assert a["W0"].shape == other["W0"].shape == (2, 8)
    for name in ("W0", "W1"):
        assert not np.array_equal(a[name], other[name]), name
    assert json.loads(str(other["meta"]))["seed"] == 1
    # The seed also draws the validation rows, so even the scaler's statistics move.
    assert not np.array_equal(a["scaler_mean"], other["scaler_mean"])


def test_run_directory_holds_every_file(runs):
    out = runs["run_a"]
    assert set(os.listdir(out)) == RUN_FILES  # and no leftover temporary files

    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs_run"] == EPOCHS
    assert summary["layer_sizes"] == [2, 8, 2]
    assert summary["parameters"] == (2 + 1) * 8 + (8 + 1) * 2

    with open(out / "history.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [int(row["epoch"]) for row in rows] == list(range(1, EPOCHS + 1))
    val_losses = [float(row["val_loss"]) for row in rows]
    assert summary["best_epoch"] == 1 + int(np.argmin(val_losses))

    best = json.loads(str(_arrays(out / "best.npz")["meta"]))
    last = json.loads(str(_arrays(out / "last.npz")["meta"]))
    assert best["epoch"] == summary["best_epoch"]
    assert last["epoch"] == EPOCHS
    assert best["metrics"]["val_loss"] == min(val_losses)

    resolved = yaml.safe_load((out / "config.yaml").read_text())
    assert resolved["seed"] == 0
    assert resolved["optimizer"]["epochs"] == EPOCHS
    assert resolved["model"]["hidden"] == [8]


@pytest.mark.parametrize("checkpoint", ["best.npz", "last.npz"])
def test_resolved_config_trains_the_same_network(runs, checkpoint):
    _assert_same_checkpoint(runs["run_a"] / checkpoint, runs["run_c"] / checkpoint, runs["run_a"], runs["run_c"])
    assert set(os.listdir(runs["run_c"])) == RUN_FILES
    # The config written by run c reads the same as run a's, apart from where it sits.
    config_a = yaml.safe_load((runs["run_a"] / "config.yaml").read_text())
    config_c = yaml.safe_load((runs["run_c"] / "config.yaml").read_text())
    assert config_a == config_c


def weight_hash(path: Path) -> str:
    """SHA-256 of every weight and bias array, in layer order."""
    arrays = _arrays(path)
    digest = hashlib.sha256()
    for name in sorted((n for n in arrays if n[0] in "Wb"), key=lambda n: (int(n[1:]), n[0])):
        digest.update(arrays[name].tobytes())
    return digest.hexdigest()


def test_weight_hashes_match_across_processes_and_differ_across_seeds(runs):
    same = {weight_hash(runs[name] / "last.npz") for name in ("run_a", "run_b")}
    assert len(same) == 1
    assert weight_hash(runs["run_seed1"] / "last.npz") not in same
