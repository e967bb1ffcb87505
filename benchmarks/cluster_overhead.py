"""The overhead of sweep-hidden --cluster: the same sweep with --jobs 2 and on a 2-worker Dask cluster.

    python benchmarks/cluster_overhead.py [--repeats 3] [--port 8786]

Starts `dask scheduler` and `dask worker --nworkers 2 --nthreads 1` on 127.0.0.1,
times each command end to end (process start to exit, as a user waits for it),
prints the median of the repeats, checks that both sweeps wrote the same figures,
and stops the scheduler and workers.  Results: benchmarks/CLUSTER.md.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SWEEP = ["nnctl", "sweep-hidden", "configs/circles.yaml", "--sizes", "0,1,2,3,4,8,16,32", "--seeds", "4"]


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def figures(directory: Path) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in {"seconds", "output"}}
            for row in csv.DictReader((directory / "runs.csv").open())]


def start(command: list[str]) -> subprocess.Popen:
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for_workers(address: str, count: int) -> None:
    from distributed import Client

    with Client(address, timeout=30, set_as_default=False) as client:
        client.wait_for_workers(count, timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--port", type=int, default=8786)
    args = parser.parse_args()
    address = f"tcp://127.0.0.1:{args.port}"
    work = Path(tempfile.mkdtemp(prefix="nnctl-cluster-bench-"))
    scheduler = start(["dask", "scheduler", "--host", "127.0.0.1", "--port", str(args.port), "--no-dashboard"])
    workers = start(["dask", "worker", address, "--nworkers", "2", "--nthreads", "1", "--no-dashboard"])
    try:
        wait_for_workers(address, 2)
        commands = {"--jobs 2": [*SWEEP, "--jobs", "2", "-o", str(work / "local")],
                    "--cluster, 2 workers": [*SWEEP, "--cluster", address, "-o", str(work / "cluster")]}
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeats):  # interleaved, so that a slow moment of the machine hits both
            for name, command in commands.items():
                times[name].append(timed(command))
        assert figures(work / "local") == figures(work / "cluster"), "the two sweeps differ"
        local, remote = (statistics.median(t) for t in times.values())
        for name, measured in times.items():
            print(f"{name:22s} median {statistics.median(measured):6.2f} s   runs: "
                  + ", ".join(f"{t:.2f}" for t in measured))
        print(f"overhead: {remote - local:+.2f} s ({(remote / local - 1) * 100:+.0f}%) for 32 runs; figures identical")
    finally:
        workers.terminate()
        scheduler.terminate()
        workers.wait()
        scheduler.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
