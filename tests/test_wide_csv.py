"""A CSV file's cost is linear in its size, however its cells are laid out: 200,000 columns of
two rows parse in about the time of 200,000 rows of two columns, the same 400,000 numbers (each
on the fast path, np.loadtxt),
where the column count once cost its square (100,000 columns took 100 s).

The bounds are ratios measured on the same machine in the same process (the best of three runs),
so they hold on a slow machine as on a fast one; measured here: 200k columns ~8x 200k rows
(the per-column bookkeeping: a name, a fill value), ~4x 50k columns."""

from __future__ import annotations

import gc
import time
from pathlib import Path

import numpy as np

from nnctl.config import config_from_dict
from nnctl.prep.prepare import prepare_data


def _write_wide(path: Path, columns: int, rows: int = 2) -> Path:
    rng = np.random.default_rng(0)
    header = ",".join([f"c{i}" for i in range(columns)] + ["y"])
    body = "\n".join(",".join(f"{v:.3f}" for v in rng.normal(size=columns)) + ",1" for _ in range(rows))
    path.write_text(f"{header}\n{body}\n")
    return path


def _write_tall(path: Path, rows: int) -> Path:
    values = np.random.default_rng(0).normal(size=(rows, 2))
    path.write_text("a,b,y\n" + "\n".join(f"{a:.3f},{b:.3f},1" for a, b in values) + "\n")
    return path


def _seconds(path: Path) -> tuple[float, int]:
    config = config_from_dict({"data": {"train": str(path), "target": "y", "validation": 0},
                               "model": {"hidden": []}, "loss": "mse"})
    best = float("inf")
    gc.collect()
    gc.disable()  # the cyclic collector's passes grow with what the test session holds, not with the file
    try:
        for _ in range(3):
            started = time.perf_counter()
            data = prepare_data(config, np.random.default_rng(0))
            best = min(best, time.perf_counter() - started)
    finally:
        gc.enable()
    return best, data.X_train.shape[1]


def test_columns_cost_about_what_rows_cost_and_grow_linearly(tmp_path):
    wide, n_wide = _seconds(_write_wide(tmp_path / "wide.csv", 200_000))
    quarter, n_quarter = _seconds(_write_wide(tmp_path / "quarter.csv", 50_000))
    tall, n_tall = _seconds(_write_tall(tmp_path / "tall.csv", 200_000))
    assert (n_wide, n_quarter, n_tall) == (200_000, 50_000, 2)  # every column read as a feature
    assert wide < 15 * tall, (wide, tall)  # was ~60x (the careful reader: a line longer than csv's field limit)
    assert wide < 6 * quarter, (wide, quarter)  # linear: 4x; the square of the columns would be 16x
