"""Wide CSV files stay on the fast path (np.loadtxt), whose cost is linear in the file's size: a
header of 200,000 names is longer than csv's field limit, and the fast path once handed such a
file to the careful reader, whose per-column bookkeeping cost the square of the column count
(100,000 columns took 100 s).  A cell longer than the limit still goes to the careful reader,
which refuses it.  The times are measured in benchmarks/wide_csv.py (RESULTS.md), not here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nnctl import data as csvdata
from nnctl.config import config_from_dict
from nnctl.errors import DataError
from nnctl.prep.prepare import prepare_data


def _config(path: Path):
    return config_from_dict({"data": {"train": str(path), "target": "y", "validation": 0},
                             "model": {"hidden": []}, "loss": "mse"})


def _wide(path: Path, columns: int) -> tuple[Path, np.ndarray]:
    values = np.round(np.random.default_rng(0).normal(size=(2, columns)), 3)
    header = ",".join([f"c{i}" for i in range(columns)] + ["y"])
    path.write_text(header + "\n" + "".join(",".join(f"{v:.3f}" for v in row) + ",1\n" for row in values))
    return path, values


def test_a_header_of_200000_names_is_read_on_the_fast_path(tmp_path, monkeypatch):
    path, values = _wide(tmp_path / "wide.csv", 200_000)

    def careful(*args, **kwargs):
        raise AssertionError("the careful reader was asked to read a plain wide file")

    monkeypatch.setattr(csvdata, "read_table", careful)
    data = prepare_data(_config(path), np.random.default_rng(0))
    assert data.dataset.feature_names[:2] == ("c0", "c1") and len(data.dataset.feature_names) == 200_000
    raw = data.X_train * data.scaler.scale.astype(np.float32) + data.scaler.mean.astype(np.float32)
    np.testing.assert_allclose(raw, values, atol=1e-5)


def test_a_cell_longer_than_the_field_limit_is_still_refused(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text(f"a,b,y\n1,{'9' * 140_000},1\n2,3,0\n")
    with pytest.raises(DataError, match=r"line 2: field larger than field limit \(131072\)"):
        prepare_data(_config(path), np.random.default_rng(0))


def test_a_long_line_of_short_cells_gives_what_the_careful_reader_gives(tmp_path):
    path, _ = _wide(tmp_path / "wide.csv", 30_000)  # one line of ~200 KB: past the limit
    fast = csvdata.load_plain_dataset(path, ("y",), None, "regression", "mse", None, None)
    table = csvdata.read_table(path)
    careful = csvdata.numbers_of(table, table.columns[:-1])
    assert np.array_equal(fast.X, careful)
