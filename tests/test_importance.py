"""nnctl importance: a column that decides the label ranks first by a wide margin; a column of
noise reads ~0; a categorical column's slots move as one; the figures repeat with the seed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nnctl.checkpoint import load_checkpoint
from nnctl.cli import app
from nnctl.config import load_config
from nnctl.importance import column_groups, permutation_importance
from nnctl.run import train

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


@pytest.fixture(scope="module")
def decided(tmp_path_factory):
    """label = [decides > 0]; noise is independent of it; color decides nothing either."""
    folder = tmp_path_factory.mktemp("importance")
    rng = np.random.default_rng(3)
    decides, noise = rng.uniform(-1, 1, 600), rng.normal(size=600)
    colors = rng.choice(["red", "green", "blue"], 600)
    data = folder / "decided.csv"
    data.write_text("decides,noise,color,label\n" + "".join(
        f"{d:.4f},{n:.4f},{c},{int(d > 0)}\n" for d, n, c in zip(decides, noise, colors)))
    out = folder / "run"
    train(load_config(ROOT / "configs" / "circles.yaml", [f"data.train={data}", f"output={out}", "model.hidden=[]",
                                                          "optimizer.epochs=60"]))
    return out, data


def test_the_deciding_column_ranks_first_and_noise_reads_about_zero(decided):
    out, data = decided
    found = permutation_importance(out, data, repeats=5, seed=0)
    ranked = [c.column for c in found.columns]
    assert ranked[0] == "decides" and found.metric == "accuracy" and found.baseline > 0.95
    by_name = {c.column: c for c in found.columns}
    assert by_name["decides"].mean > 0.3  # shuffled, the labels are a coin toss: accuracy near 0.5
    assert abs(by_name["noise"].mean) < 0.03 and abs(by_name["color"].mean) < 0.03
    for c in found.columns:
        assert len(c.drops) == 5 and c.mean == pytest.approx(np.mean(c.drops)) and c.std == pytest.approx(np.std(c.drops))
    again = permutation_importance(out, data, repeats=5, seed=0)
    assert again.columns == found.columns  # seeded
    assert permutation_importance(out, data, repeats=5, seed=1).columns != found.columns


def test_a_categorical_columns_slots_and_an_indicator_move_with_their_column(decided):
    out, _ = decided
    groups = column_groups(load_checkpoint(out / "best.npz").preprocessor)
    assert groups == {"decides": [0], "noise": [1], "color": [2, 3, 4]}


def test_the_command_draws_ranked_bars_and_json_and_a_png(decided, tmp_path):
    out, data = decided
    done = runner.invoke(app, ["importance", str(out), str(data), "--repeats", "3"], terminal_width=200)
    assert done.exit_code == 0, done.output
    lines = [line for line in done.stdout.splitlines() if line.startswith("│")]
    names = [line.split("│")[2].strip() for line in lines]
    assert names[0] == "decides" and sorted(names) == ["color", "decides", "noise"]
    assert "█" in lines[0] and "drop of accuracy" in done.stdout
    document = json.loads(runner.invoke(app, ["importance", str(out), str(data), "--repeats", "3", "--json"]).stdout)
    assert document["columns"][0]["column"] == "decides" and document["repeats"] == 3
    assert len(document["columns"][0]["drops"]) == 3
    pytest.importorskip("matplotlib")
    png = tmp_path / "importance.png"
    done = runner.invoke(app, ["importance", str(out), str(data), "--png", str(png)])
    assert done.exit_code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rows_without_targets_are_one_line(decided, tmp_path):
    out, _ = decided
    rows = tmp_path / "rows.csv"
    rows.write_text("decides,noise,color\n0.5,0.1,red\n-0.5,0.2,blue\n")
    done = runner.invoke(app, ["importance", str(out), str(rows)])
    assert done.exit_code == 1 and done.stderr.startswith(f"error: {rows}: ") and "needs the targets (label)" in done.stderr
    assert done.stderr.count("\n") == 1
