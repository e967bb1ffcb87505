"""nnctl plot: curves read back from history.csv, the character chart, the PNG."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from nnctl import plot
from nnctl.views import plot as plot_view
from nnctl.config import load_config
from nnctl.curves import load_curves
from nnctl.errors import NnctlError
from nnctl.run import train

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("curves")
    train(load_config(ROOT / "configs" / "circles.yaml", ["optimizer.epochs=5", f"output={tmp / 'c'}"]))
    train(load_config(ROOT / "configs" / "regression.yaml", ["optimizer.epochs=5", f"output={tmp / 'r'}"]))
    train(load_config(ROOT / "configs" / "circles.yaml",
                      ["optimizer.epochs=4", "data.validation=0", f"output={tmp / 'noval'}"]))
    return tmp


def _column(path: Path, name: str) -> list[float]:
    with open(path, newline="") as stream:
        return [float(row[name]) for row in csv.DictReader(stream)]


def test_values_read_back_equal_history_csv(runs):
    circles, regression, noval = load_curves([runs / "c", runs / "r", runs / "noval"])
    for curves, run_dir in ((circles, runs / "c"), (regression, runs / "r"), (noval, runs / "noval")):
        history = run_dir / "history.csv"
        assert curves.epochs.tolist() == [int(e) for e in _column(history, "epoch")]
        assert curves.train_loss.tolist() == _column(history, "train_loss")
        assert curves.train_data_loss.tolist() == _column(history, "train_data_loss")
        assert curves.metric.tolist() == _column(history, curves.metric_name)
        assert curves.best_epoch == json.loads((run_dir / "summary.json").read_text())["best_epoch"]
        assert curves.path == run_dir and curves.name == run_dir.name
    assert circles.val_loss.tolist() == _column(runs / "c" / "history.csv", "val_loss")
    assert regression.val_loss.tolist() == _column(runs / "r" / "history.csv", "val_loss")
    assert (circles.task, circles.metric_name) == ("classification", "val_accuracy")
    assert circles.metric_label == "val accuracy"
    assert (regression.task, regression.metric_name, regression.metric_label) == ("regression", "val_r2", "val R^2")
    # without validation rows: no validation loss, and the metric is the training figure
    assert noval.val_loss is None and noval.metric_name == "train_accuracy" and len(noval.epochs) == 4


def test_a_directory_without_history_is_one_error_naming_it(runs, tmp_path):
    with pytest.raises(NnctlError) as caught:
        load_curves([runs / "c", tmp_path])
    assert str(caught.value).startswith(f"{tmp_path}: no history.csv") and "\n" not in str(caught.value)
    with pytest.raises(NnctlError, match="no such directory"):
        load_curves([tmp_path / "nowhere"])
    (tmp_path / "history.csv").write_text("epoch,train_loss\n1,abc\n")
    with pytest.raises(NnctlError, match=r"history.csv: line 2, column 'train_loss': 'abc' is not a number"):
        load_curves([tmp_path])


def test_runs_of_the_same_name_are_told_apart(runs, tmp_path):
    import shutil

    shutil.copytree(runs / "c", tmp_path / "c")
    names = [c.name for c in load_curves([runs / "c", tmp_path / "c"])]
    assert len(set(names)) == 2 and all(name.endswith("c") for name in names)


def _plot_rows(text: str, height: int) -> list[str]:
    """The ``height`` rows of the plotting area: what follows the axis character of each row."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if "┤" in line)
    rows = lines[start:start + height]
    return [line[line.index("┤" if "┤" in line else "│") + 1:] for line in rows], lines[start + height]


def test_the_chart_has_the_requested_size_and_every_marker():
    xs = np.arange(1, 11)
    series = [("falls", xs, 11.0 - xs), ("rises", xs, xs * 1.0), ("flat", xs, np.full(10, 5.5))]
    for width, height in ((40, 10), (23, 7), (80, 20)):
        text = plot_view.line_chart(series, width, height, title="t").plain
        rows, axis = _plot_rows(text, height)
        assert len(rows) == height and all(len(row) == width for row in rows)
        assert axis.strip().startswith("└") and axis.count("─") == width
        grid = "".join(rows)
        for marker in plot_view.MARKERS[:3]:
            assert marker in grid
        assert rows[0][0] == "o" and rows[-1][-1] == "o"  # 'falls' starts at the top left, ends bottom right
        assert rows[0][-1] == "x" and rows[-1][0] == "x"
        assert text.splitlines()[0] == "t" and "10 ┤" in text and " 1 ┤" in text  # the y range 1 .. 10
        assert text.rstrip().endswith("epoch") and " 1 " in text.splitlines()[-1]
    legend = plot_view.chart_legend(["falls", "rises", "flat"]).plain
    assert legend == "o falls   x rises   + flat   • where lines meet"
    assert plot_view.chart_legend(["alone"]).plain == "o alone"


def test_where_two_curves_meet_neither_hides_the_other():
    """Train and validation loss that coincide (a well-fit run) are both seen: the cells they share are
    marked as shared, and each keeps its own marker where they part."""
    xs = np.arange(1, 11)
    same = 11.0 - xs
    parted = same.copy()
    parted[:3] += 5  # the second series differs in its first three epochs only
    rows, _ = _plot_rows(plot_view.line_chart([("train", xs, same), ("val", xs, parted)], 10, 8).plain, 8)
    grid = "".join(rows)
    assert "o" in grid and "x" in grid and plot_view.MEET in grid
    assert rows[-1][-1] == plot_view.MEET  # the last epoch, where both end
    alone, _ = _plot_rows(plot_view.line_chart([("train", xs, same)], 10, 8).plain, 8)
    assert plot_view.MEET not in "".join(alone)


def test_the_chart_copes_with_one_point_gaps_and_flat_lines():
    one = plot_view.line_chart([("one", np.array([3]), np.array([0.25]))], 10, 4).plain
    rows, _ = _plot_rows(one, 4)
    assert "".join(rows).count("o") == 1
    gaps = plot_view.line_chart([("gap", np.arange(4), np.array([1.0, np.nan, 3.0, 4.0]))], 12, 5).plain
    rows, _ = _plot_rows(gaps, 5)
    assert all(len(row) == 12 for row in rows) and "o" in "".join(rows)
    with pytest.raises(ValueError):
        plot_view.line_chart([], 1, 5)


def test_more_epochs_than_columns_keep_the_extremes():
    xs, ys = np.arange(1, 201), np.ones(200)
    ys[36], ys[123] = 5.0, -3.0  # one spike up, one down, between the columns' centres
    rows, _ = _plot_rows(plot_view.line_chart([("s", xs, ys)], 10, 9).plain, 9)
    assert "o" in rows[0] and "o" in rows[-1]


def test_curves_view_overlays_runs_in_a_loss_and_a_metric_chart(runs):
    curves = load_curves([runs / "c", runs / "r", runs / "noval"])
    console = Console(width=120, record=True, file=open("/dev/null", "w"))
    console.print(plot_view.curves_view(curves, width=50, height=8))
    out = console.export_text()
    assert "loss per epoch" in out and "accuracy per epoch" in out and "R^2 per epoch" in out
    for label in ("o c train data loss", "x c val loss", "+ r train data loss", "* r val loss",
                  "# noval train data loss", "o c val accuracy", "x noval train accuracy", "o r val R^2"):
        assert label in out, label
    assert "best epoch" in out and "runs" in out


def test_png_is_written_with_matplotlib(runs, tmp_path):
    pytest.importorskip("matplotlib")
    plot.curves_png(tmp_path / "curves.png", load_curves([runs / "c", runs / "r"]))
    data = (tmp_path / "curves.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert 900 <= width <= 1000 and 350 <= height <= 400  # 10 x 4 inches at 100 dpi, trimmed to the drawing
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]  # no temporary left behind


def test_png_without_matplotlib_says_how_to_install_it(runs, tmp_path, no_matplotlib):
    curves = load_curves([runs / "c"])
    with pytest.raises(NnctlError, match=r"needs matplotlib.*pip install 'nnctl\[plot\]'"):
        plot.curves_png(tmp_path / "curves.png", curves)
    assert not (tmp_path / "curves.png").exists()


def _curve(name: str):
    from nnctl.curves import Curves

    epochs = np.arange(1, 6)
    loss = 1.0 / epochs
    return Curves(name, Path(name), "classification", epochs, loss, loss, loss * 1.1, 1 - loss / 2, "val_accuracy", 4)


def test_the_curves_picture_says_what_the_dot_is_and_keeps_legends_off_many_curves(tmp_path):
    pytest.importorskip("matplotlib")
    from nnctl.plot import CROWDED, curves_figure

    one = [_curve("a")]
    figure = curves_figure(one)
    labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert labels[-1] == "best epoch (the checkpoint kept; on the val loss curve)"
    assert figure.axes[0].get_legend().get_bbox_to_anchor().bounds[0] == figure.axes[0].bbox.bounds[0]  # inside
    many = curves_figure([_curve(f"r{i}") for i in range(CROWDED + 1)])
    legend = many.axes[0].get_legend()
    assert legend.get_bbox_to_anchor().bounds[0] > many.axes[0].bbox.bounds[0] + many.axes[0].bbox.bounds[2] - 1


def test_a_run_stopped_before_its_end_is_plotted_and_listed_from_the_history_it_saved(tmp_path):
    """A run killed (here: a crash after epoch 3) has checkpoints, its config and the history of every
    saved epoch, but no summary.json: `plot` draws it, `runs` lists it as not finished."""
    from typer.testing import CliRunner

    from nnctl.cli import app

    out = tmp_path / "killed"

    def crash(record):
        if record.epoch == 3:
            raise RuntimeError("killed")

    config = load_config(ROOT / "configs" / "circles.yaml", [f"output={out}", "optimizer.epochs=50"])
    with pytest.raises(RuntimeError, match="killed"):
        train(config, on_epoch=crash, save_seconds=0)
    assert sorted(p.name for p in out.iterdir()) == ["best.npz", "config.yaml", "history.csv", "last.npz"]
    runner = CliRunner()
    drawn = runner.invoke(app, ["plot", str(out), "--json"])
    assert drawn.exit_code == 0, drawn.output
    document = json.loads(drawn.stdout)
    from nnctl.checkpoint import load_checkpoint

    best = load_checkpoint(out / "best.npz").meta["epoch"]
    assert document["runs"][0]["epochs"] == [1, 2, 3] and document["runs"][0]["best_epoch"] == best  # best.npz's
    listed = runner.invoke(app, ["runs", str(tmp_path), "--json"])
    assert listed.exit_code == 0, listed.output
    (record,) = json.loads(listed.stdout)["runs"]
    assert record["name"] == "killed" and record["epochs_run"] == 3 and record["loss"] == "softmax_cross_entropy"
    assert record["stop_reason"].startswith("not finished") and not record["problem"]
    # what the run kept so far, from its best checkpoint: the epoch, the network, that epoch's figures
    meta = load_checkpoint(out / "best.npz").meta
    assert record["best_epoch"] == best and record["network"] == "2-8-2"
    assert record["figures"]["val_accuracy"] == meta["metrics"]["val_accuracy"]
    table = runner.invoke(app, ["runs", str(tmp_path)], terminal_width=200)
    assert "not finished" in table.output and f"{best}/3" in table.output


def test_sweep_hidden_png_without_matplotlib_is_refused_before_any_run(tmp_path, no_matplotlib):
    from typer.testing import CliRunner

    from nnctl.cli import app

    done = CliRunner().invoke(app, ["sweep-hidden", str(ROOT / "configs" / "circles.yaml"), "--sizes", "0,2",
                                    "-o", str(tmp_path / "sweep"), "--png", str(tmp_path / "b.png")])
    assert done.exit_code == 1
    assert done.stderr.strip() == ("error: --png needs matplotlib, which comes with the optional 'plot' extra: "
                                   "pip install 'nnctl[plot]' (in a checkout of nnctl: pip install '.[plot]')")
    assert list(tmp_path.iterdir()) == []  # no sweep ran


def test_a_damaged_history_is_listed_as_unreadable_not_as_a_run_going_on(tmp_path):
    from typer.testing import CliRunner

    from nnctl.cli import app

    for name, text in (("empty", ""), ("words", "hello\nworld\n"), ("header", "epoch,train_loss\n")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "history.csv").write_text(text)
    listed = CliRunner().invoke(app, ["runs", str(tmp_path), "--json"])
    assert listed.exit_code == 0, listed.output
    records = {r["name"]: r for r in json.loads(listed.stdout)["runs"]}
    assert records["empty"]["problem"].startswith("unreadable: history.csv does not start with nnctl's header")
    assert records["words"]["problem"].startswith("unreadable: history.csv does not start with nnctl's header")
    assert records["header"]["epochs_run"] == 0 and records["header"]["stop_reason"].startswith("not finished")


def test_a_resumed_run_killed_midway_is_not_listed_as_the_run_it_went_on_from(tmp_path):
    from nnctl.resume import load_resumable

    out = tmp_path / "run"
    train(load_config(ROOT / "configs" / "circles.yaml", [f"output={out}", "optimizer.epochs=3"]), save_seconds=0)
    assert json.loads((out / "summary.json").read_text())["epochs_run"] == 3

    def crash(record):
        if record.epoch == 5:
            raise RuntimeError("killed")

    more = load_config(ROOT / "configs" / "circles.yaml", [f"output={out}", "optimizer.epochs=9"])
    with pytest.raises(RuntimeError):
        train(more, on_epoch=crash, save_seconds=0, resume_from=load_resumable(out, more, force=False))
    assert not (out / "summary.json").exists()  # gone at the resumed run's first save
    assert [c.epochs.tolist() for c in load_curves([out])] == [[1, 2, 3, 4, 5]]
