"""Units of work in a sweep: 1 candidate x 8 seeds on 1 worker and on 2 (issue 13, point 7).

    python benchmarks/sweep_units.py [--repeats 3]

Before, a sweep's unit of work was all the seeds of one candidate, so 1 candidate x 8 seeds kept
one worker busy however many there were.  Now the seeds of a candidate are split into as many
units as keep the workers busy (each unit trains its seeds stacked).  This times, end to end as a
user waits for it, `nnctl sweep-hidden` of one candidate with 8 seeds with --jobs 1 (one worker:
one unit of 8, as every worker count gave before) and --jobs 2 (two workers: two units of 4),
checks both wrote the same figures, and prints the medians.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SWEEP = ["nnctl", "sweep-hidden", "configs/spirals.yaml", "--sizes", "64x64", "--seeds", "8",
         "--set", "optimizer.epochs=1500", "--set", "early_stopping.patience=null"]
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def timed(command: list[str]) -> float:
    """Wall time of a command; NumPy's BLAS on one thread, so that a worker is one core (--jobs 2
    gives each of its processes one thread anyway), and --jobs 1 is one worker."""
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, env={**os.environ, **ONE_THREAD})
    return time.perf_counter() - started


def figures(directory: Path) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in {"seconds", "output"}}
            for row in csv.DictReader((directory / "runs.csv").open())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"1": [], "2": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for jobs in ("1", "2"):  # alternating, so that drifts of the machine hit both
                out = Path(tmp) / f"jobs{jobs}"
                shutil.rmtree(out, ignore_errors=True)
                times[jobs].append(timed([*SWEEP, "--jobs", jobs, "-o", str(out)]))
        same = figures(Path(tmp) / "jobs1") == figures(Path(tmp) / "jobs2")
    one, two = statistics.median(times["1"]), statistics.median(times["2"])
    print(f"{' '.join(SWEEP)}: median of {args.repeats}")
    print("| workers | units of work | seconds | speed-up |\n|---|---|---|---|")
    print(f"| 1 (--jobs 1) | 1 of 8 seeds | {one:.2f} | 1.00x |")
    print(f"| 2 (--jobs 2) | 2 of 4 seeds | {two:.2f} | {one / two:.2f}x |")
    print(f"same figures: {same}; all times: {times}")


if __name__ == "__main__":
    main()
