"""Wide CSV files: the time to prepare 200,000 columns of 2 rows against the same 400,000 numbers as
200,000 rows of 2 columns, and 50,000 columns (for the growth), best of --repeat runs, in this
process with the cyclic collector off.  The cost was once the square of the column count.

    python benchmarks/wide_csv.py --repeat 3
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from pathlib import Path

import numpy as np

from nnctl.config import config_from_dict
from nnctl.prep.prepare import prepare_data


def write_wide(path: Path, columns: int, rows: int = 2) -> Path:
    rng = np.random.default_rng(0)
    header = ",".join([f"c{i}" for i in range(columns)] + ["y"])
    body = "\n".join(",".join(f"{v:.3f}" for v in rng.normal(size=columns)) + ",1" for _ in range(rows))
    path.write_text(f"{header}\n{body}\n")
    return path


def write_tall(path: Path, rows: int) -> Path:
    values = np.random.default_rng(0).normal(size=(rows, 2))
    path.write_text("a,b,y\n" + "\n".join(f"{a:.3f},{b:.3f},1" for a, b in values) + "\n")
    return path


def seconds(path: Path, repeat: int) -> float:
    config = config_from_dict({"data": {"train": str(path), "target": "y", "validation": 0},
                               "model": {"hidden": []}, "loss": "mse"})
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeat):
            started = time.perf_counter()
            prepare_data(config, np.random.default_rng(0))
            best = min(best, time.perf_counter() - started)
    finally:
        gc.enable()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        wide = seconds(write_wide(folder / "wide.csv", 200_000), args.repeat)
        quarter = seconds(write_wide(folder / "quarter.csv", 50_000), args.repeat)
        tall = seconds(write_tall(folder / "tall.csv", 200_000), args.repeat)
    print("| file | seconds | vs 200k rows |\n|---|---|---|")
    for name, value in (("200,000 columns x 2 rows", wide), ("50,000 columns x 2 rows", quarter),
                        ("200,000 rows x 2 columns", tall)):
        print(f"| {name} | {value:.3f} | {value / tall:.1f}x |")


if __name__ == "__main__":
    main()
