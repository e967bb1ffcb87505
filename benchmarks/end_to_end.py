"""`nnctl train` end to end against a bare NumPy script doing the same training, as whole processes.

    python benchmarks/end_to_end.py [--repeat 7]

The case: a digits-sized table (1437 training rows and 360 validation rows of 64 integer
features in [0, 16], 10 classes, made here from a seeded generator and written as two CSV
files), a 64-64-10 relu network, softmax cross-entropy, plain SGD at 0.05, batches of 32,
50 epochs, the validation rows evaluated once per epoch.  benchmarks/bare_numpy.py is the
yardstick: the same training with nothing else (no checks, no files, no display).

Timed as a user's shell sees them (interpreter start, imports, work, exit), the median of
``--repeat`` runs each after an untimed one, alternating:

    bare     python benchmarks/bare_numpy.py train.csv validation.csv
    nnctl    nnctl train config.yaml --overwrite     (the checkpoints, history and summary written)

Then nnctl's time is taken apart, in fresh processes and in-process: the start-up (the
interpreter and ``import nnctl.cli`` against ``import numpy``), reading and preparing the CSV
files, the core's ``fit`` alone, ``run.train`` (what the run adds per epoch: checkpoints
kept in memory, the history, the final exact evaluation), the live display, and the writes
of checkpoints and results.  Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # bare_numpy
ROOT = HERE.parent
TARGET = 1.3  # nnctl's wall time at most this times the bare script's
TRAIN_IMPORTS = ("import nnctl.cli, nnctl.config, nnctl.run, nnctl.views.train, nnctl.resume, rich.live, rich.progress, "
                 "rich.table")  # the modules a `nnctl train` loads

CONFIG = """\
data:
  train: train.csv
  validation: validation.csv
  target: label
model:
  hidden: [64]
  activation: relu
loss: softmax_cross_entropy
optimizer:
  name: sgd
  learning_rate: 0.05
  batch_size: 32
  epochs: 50
seed: 0
output: run
"""


def digits_like(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` x 64 integer features in [0, 16] and 10 class labels from a random teacher
    network (one tanh layer; logits centred per class so that every class occurs)."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 17, size=(rows, 64)).astype(np.float64)
    W1, W2 = rng.standard_normal((64, 32)) / 8, rng.standard_normal((32, 10))
    logits = np.tanh((X - X.mean(axis=0)) @ W1 * 3 / 16) @ W2
    return X, (logits - np.median(logits, axis=0)).argmax(axis=1)


def write_case(folder: Path) -> None:
    X, y = digits_like(1797)
    header = ",".join([f"p{j}" for j in range(64)] + ["label"])
    for name, rows in (("train.csv", slice(0, 1437)), ("validation.csv", slice(1437, None))):
        table = np.column_stack([X[rows], y[rows]]).astype(np.int64)
        np.savetxt(folder / name, table, fmt="%d", delimiter=",", header=header, comments="")
    (folder / "config.yaml").write_text(CONFIG)


def nnctl_command() -> list[str]:
    found = shutil.which("nnctl")
    return [found] if found else [sys.executable, "-c", "from nnctl.cli import main; main()"]


def wall(command: list[str], cwd: Path) -> float:
    # As on a user's machine, Python may cache the compiled modules (the untimed first run writes
    # them): with PYTHONDONTWRITEBYTECODE set, every start compiles nnctl's modules again (~0.1 s).
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd, env=env)
    return time.perf_counter() - started


def in_process_parts(folder: Path, repeat: int) -> dict[str, float]:
    """Seconds of each part of a run, the median of ``repeat`` (run here, after imports)."""
    from rich.console import Console

    import bare_numpy

    from nnctl import run
    from nnctl.config import load_config
    from nnctl.core.model import init_network
    from nnctl.core.training import fit
    from nnctl.prep.prepare import prepare_data
    from nnctl.views.train import TrainingDisplay

    config = load_config(folder / "config.yaml", [f"output={folder / 'parts'}"])
    found: dict[str, list[float]] = {}

    def timed(name: str, action):
        started = time.perf_counter()
        result = action()
        found.setdefault(name, []).append(time.perf_counter() - started)
        return result

    for _ in range(repeat):
        split_rng, init_rng, shuffle_rng = run.generators(config)
        data = timed("read and prepare the CSV files", lambda: prepare_data(config, split_rng))
        layers = init_network([data.X_train.shape[1], 64, 10], ["relu"], "softmax", init_rng)
        settings = run.settings_for(config, data)
        timed("core fit (50 epochs, validation each epoch)",
              lambda: fit(layers, data.X_train, data.y_train, settings, shuffle_rng, (data.X_val, data.y_val)))
        timed("run.train in memory (no files, no display)",
              lambda: run.train(config, data=data, write_files=False))
        console = Console(file=io.StringIO(), force_terminal=False, width=120)  # as in the timed runs: no terminal
        display = TrainingDisplay(console, config.optimizer.epochs, "classification", True, batches=True)

        def with_display():
            with display:
                return run.train(config, data=data, write_files=False, on_epoch=display.on_epoch)
        timed("run.train with the display (epoch lines)", with_display)
        timed("run.train writing its files", lambda: run.train(config, data=data))
        shutil.rmtree(folder / "parts", ignore_errors=True)
        with contextlib.redirect_stdout(io.StringIO()):
            timed("bare script", lambda: bare_numpy.main([str(folder / "train.csv"), str(folder / "validation.csv")]))
    return {name: statistics.median(times) for name, times in found.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_case(folder)
        commands = {
            "bare NumPy script": [sys.executable, str(HERE / "bare_numpy.py"), "train.csv", "validation.csv"],
            "nnctl train": [*nnctl_command(), "train", "config.yaml", "--overwrite"],
            "python -c 'import numpy'": [sys.executable, "-c", "import numpy"],
            "python -c 'import <what nnctl train imports>'": [sys.executable, "-c", TRAIN_IMPORTS],
            "nnctl --help": [*nnctl_command(), "--help"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for command in commands.values():
            wall(command, folder)  # warm the file cache
        for _ in range(args.repeat):
            for name, command in commands.items():
                times[name].append(wall(command, folder))
        median = {name: statistics.median(values) for name, values in times.items()}
        parts = in_process_parts(folder, max(3, args.repeat // 2))

    ratio = median["nnctl train"] / median["bare NumPy script"]
    print(f"## End to end: median of {args.repeat} runs each, whole processes\n")
    print("| command | median s | best s |")
    print("|---|---|---|")
    for name, values in times.items():
        print(f"| `{name}` | {median[name]:.3f} | {min(values):.3f} |")
    verdict = "met" if ratio <= TARGET else "missed"
    print(f"\nnnctl train / bare script: **{ratio:.2f}x** (target <= {TARGET}x: {verdict})\n")
    print("## nnctl's parts (in-process, median)\n")
    print("| part | s |")
    print("|---|---|")
    start_up = median["python -c 'import <what nnctl train imports>'"] - median["python -c 'import numpy'"]
    print(f"| start-up: the modules `nnctl train` imports beyond numpy (nnctl, typer, rich, yaml; whole "
          f"processes) | {start_up:.3f} |")
    for name, seconds in parts.items():
        print(f"| {name} | {seconds:.3f} |")
    core, memory = parts["core fit (50 epochs, validation each epoch)"], parts["run.train in memory (no files, no display)"]
    print(f"| = the run's bookkeeping (run.train in memory - core fit) | {memory - core:.3f} |")
    print(f"| = the display (with it - without) | {parts['run.train with the display (epoch lines)'] - memory:.3f} |")
    print(f"| = the files (writing them - in memory) | {parts['run.train writing its files'] - memory:.3f} |")
    print(f"| for comparison: the bare script's work (in-process: load and train) | {parts['bare script']:.3f} |")
    return 0 if math.isfinite(ratio) else 1


if __name__ == "__main__":
    sys.exit(main())
