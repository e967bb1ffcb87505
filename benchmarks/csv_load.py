"""CSV loading: nnctl's load_dataset against np.loadtxt on the same numeric file (issue 6, point 7).

    python benchmarks/csv_load.py                      # 100,000 rows x 50 features + a label
    python benchmarks/csv_load.py --rows 2000 --repeat 1   # a smoke run

Writes a file with the csv module (50 float columns with 6 significant digits,
an integer class label; ``--labels text`` for string labels), then loads it
``--repeat`` times with each reader, alternating, every load in a fresh Python
process so that its peak memory is its own:

- ``loadtxt``: ``np.loadtxt(path, delimiter=",", skiprows=1)``, the reference
  (with ``usecols`` for the feature columns when the labels are text);
- ``nnctl``: ``load_dataset(path, ("label",), None, "classification")``, the
  arrays, names and classes a training run uses;
- ``nnctl careful`` (with ``--careful``): the same call with the fast path
  switched off, i.e. the csv-module reader every file went through before;
- ``nnctl prepare``: all that ``nnctl train`` does with the file before the first
  epoch (``prepare_data``: read, split, fit the preprocessor's fill values, and
  standardise the training rows into float32).  The same script also runs on a
  checkout from before nnctl/prep existed (it then calls ``run.prepare_data``),
  so that the two can be compared.

Per reader: the best wall time of the load itself (imports excluded), the peak
RSS of the process (``ru_maxrss``) and how much of it the load added to the
resident memory of the interpreter with NumPy and nnctl imported, and the peak
of the memory the load allocated as tracemalloc counts it (NumPy reports its
arrays to it), in a separate, untimed run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

READERS = ("loadtxt", "nnctl", "nnctl careful", "nnctl prepare")


def write_file(path: Path, rows: int, features: int, labels: str, seed: int = 0) -> None:
    """Numbers of several magnitudes (1e-2 .. 1e2 scales), written as csv.writer writes floats."""
    rng = np.random.default_rng(seed)
    scales = 10.0 ** rng.integers(-2, 3, size=features)
    names = ("cat", "dog", "bird")
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow([f"x{i}" for i in range(features)] + ["label"])
        for start in range(0, rows, 10_000):
            block = rng.standard_normal((min(10_000, rows - start), features)) * scales
            classes = rng.integers(0, 3, size=len(block))
            for row, label in zip(block, classes):
                cells = [float(f"{value:.6g}") for value in row]
                writer.writerow(cells + [names[label] if labels == "text" else int(label)])


def resident_mb() -> float:
    """This process's resident memory now (Linux), else its peak so far."""
    try:
        with open("/proc/self/statm") as stream:
            return int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_once(reader: str, path: str, traced: bool) -> dict:
    """One load in this process: seconds, peak RSS and what the load added (run in a child)."""
    from nnctl import data  # imported before the clock starts, for both readers

    if reader == "loadtxt":
        features = None if labels_are_numbers(path) else range(n_columns(path) - 1)
        def load():
            return np.loadtxt(path, delimiter=",", skiprows=1, usecols=features)
    elif reader == "nnctl prepare":
        load = _prepare(path)
    else:
        if reader == "nnctl careful":
            data.load_plain_dataset = lambda *args: None  # the fast path declines every file
        def load():
            return data.load_dataset(path, ("label",), None, "classification")

    before = resident_mb()
    if traced:
        tracemalloc.start()
    start = time.perf_counter()
    result = load()
    seconds = time.perf_counter() - start
    traced_peak = tracemalloc.get_traced_memory()[1] if traced else None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    X = result if reader == "loadtxt" else result.X_train if reader == "nnctl prepare" else result.X
    return {"seconds": seconds, "peak_rss_mb": peak, "added_rss_mb": peak - before,
            "traced_peak_mb": None if traced_peak is None else traced_peak / 2**20,
            "array_mb": X.nbytes / 2**20, "shape": list(X.shape)}


def _prepare(path: str):
    """``prepare_data`` on the file, as ``nnctl train`` calls it (from run.py before nnctl/prep existed)."""
    from nnctl import run
    from nnctl.config import config_from_dict

    if hasattr(run, "PreparedData"):  # a checkout from before nnctl/prep
        prepare_data = run.prepare_data
    else:
        from nnctl.prep.prepare import prepare_data
    config = config_from_dict({"data": {"train": path, "target": "label"}})
    return lambda: prepare_data(config, run.generators(config)[0])


def n_columns(path: str) -> int:
    with open(path, encoding="utf-8") as stream:
        return len(stream.readline().split(","))


def labels_are_numbers(path: str) -> bool:
    """Whether the first row's label (the last cell) is a number, so np.loadtxt can read every column."""
    with open(path, encoding="utf-8") as stream:
        stream.readline()
        label = stream.readline().rstrip("\n").rsplit(",", 1)[-1]
    try:
        float(label)
    except ValueError:
        return False
    return True


def run_child(reader: str, path: Path, traced: bool = False) -> dict:
    command = [sys.executable, __file__, "--child", reader, str(path)] + (["--traced"] if traced else [])
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3, help="timed loads per reader (best is shown)")
    parser.add_argument("--labels", choices=("int", "text"), default="int")
    parser.add_argument("--careful", action="store_true", help="also time the careful reader (slow)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--child", nargs=2, metavar=("READER", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(load_once(*args.child, traced=args.traced)))
        return {}

    readers = [r for r in READERS if r != "nnctl careful" or args.careful]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "numeric.csv"
        write_file(path, args.rows, args.features, args.labels)
        size_mb = path.stat().st_size / 2**20
        runs = {reader: [] for reader in readers}
        for _ in range(args.repeat):  # alternate the readers, so that drifts in the machine hit both
            for reader in readers:
                runs[reader].append(run_child(reader, path))
        traced = {reader: run_child(reader, path, traced=True) for reader in readers}

    figures = {"rows": args.rows, "features": args.features, "labels": args.labels, "file_mb": round(size_mb, 1),
               "repeat": args.repeat, "readers": {}}
    for reader in readers:
        best = min(runs[reader], key=lambda run: run["seconds"])
        figures["readers"][reader] = {
            "seconds": round(best["seconds"], 6),
            "all_seconds": [round(run["seconds"], 6) for run in runs[reader]],
            "peak_rss_mb": round(max(run["peak_rss_mb"] for run in runs[reader]), 1),
            "added_rss_mb": round(max(run["added_rss_mb"] for run in runs[reader]), 1),
            "traced_peak_mb": round(traced[reader]["traced_peak_mb"], 1),
            "array_mb": round(best["array_mb"], 1),
            "shape": best["shape"],
        }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print_table(figures)
    return figures


def print_table(figures: dict) -> None:
    reference = figures["readers"]["loadtxt"]["seconds"]
    print(f"{figures['rows']:,} rows x {figures['features']} features + a {figures['labels']} label: "
          f"{figures['file_mb']} MB of CSV; best of {figures['repeat']}, each load in a fresh process")
    header = ("reader", "seconds", "vs loadtxt", "peak RSS MB", "added by load MB", "tracemalloc peak MB",
              "array MB", "all seconds")
    print("| " + " | ".join(header) + " |")  # a Markdown table
    print("|" + "---|" * len(header))
    for reader, f in figures["readers"].items():
        cells = [reader, f"{f['seconds']:.3f}", f"{f['seconds'] / reference:.2f}x", f"{f['peak_rss_mb']:.0f}",
                 f"{f['added_rss_mb']:.0f}", f"{f['traced_peak_mb']:.0f}", f"{f['array_mb']:.0f}",
                 " ".join(f"{s:.3f}" for s in f["all_seconds"])]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
