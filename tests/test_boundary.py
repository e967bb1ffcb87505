"""Decision boundaries: straight for a perceptron and one hidden unit, closed with three or more."""

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nnctl import boundary, sweep
from nnctl.checkpoint import load_checkpoint
from nnctl.cli import app
from nnctl.config import load_config

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def _transitions(regions: np.ndarray) -> np.ndarray:
    """Midpoints (row, column) between neighbouring cells of different classes, along rows and columns."""
    rows, cols = np.nonzero(regions[:, 1:] != regions[:, :-1])
    across = np.column_stack([rows, cols + 0.5])
    rows, cols = np.nonzero(regions[1:, :] != regions[:-1, :])
    down = np.column_stack([rows + 0.5, cols])
    return np.vstack([across, down])


def is_straight(regions: np.ndarray) -> bool:
    """True when the class changes at most once along every row and column and the
    change points lie on one straight line (within one cell)."""
    if (np.count_nonzero(np.diff(regions, axis=1), axis=1) > 1).any():
        return False
    if (np.count_nonzero(np.diff(regions, axis=0), axis=0) > 1).any():
        return False
    points = _transitions(regions)
    if len(points) < 2:
        return True
    centred = points - points.mean(axis=0)
    normal = np.linalg.svd(centred)[2][-1]  # direction of least spread: the line's normal
    return float(np.abs(centred @ normal).max()) <= 1.0


def encloses(regions: np.ndarray, inner: int) -> bool:
    """True when the centre cell is the inner class and every border cell another class."""
    h, w = regions.shape
    border = np.concatenate([regions[0], regions[-1], regions[:, 0], regions[:, -1]])
    return regions[h // 2, w // 2] == inner and (border != inner).all()


def test_the_shape_checks_tell_lines_from_curves():
    yy, xx = np.mgrid[0:40, 0:40]
    assert is_straight((xx + 0.5 * yy > 25).astype(int))
    assert not is_straight(((xx - 20) ** 2 + (yy - 20) ** 2 < 100).astype(int))
    assert encloses(((xx - 20) ** 2 + (yy - 20) ** 2 < 100).astype(int), 1)
    assert not encloses((xx > 20).astype(int), 1)


@pytest.fixture(scope="module")
def circles_sweep(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("boundary")
    config = load_config(ROOT / "configs" / "circles.yaml", [f"output={tmp_path / 'run'}"])
    result = sweep.sweep(config, [(), (1,), (3,), (8,)], seeds=1, jobs=2, directory=tmp_path / "sweep")
    grids = {}
    for c in result.candidates:
        ckpt = load_checkpoint(sweep.best_run(result.runs, c.candidate, result.task).output)
        points, labels = boundary.load_points(ckpt, None)
        grids[c.candidate] = boundary.predict_grid(ckpt, points, labels, width=60, height=60)
    return tmp_path, result, grids


def test_no_or_one_hidden_unit_draws_a_straight_line_and_three_enclose_the_inner_circle(circles_sweep):
    _, _, grids = circles_sweep
    inner = grids["0"].classes.index(1)  # label 1 is the inner circle in datasets/circles.csv
    for name in ("0", "1"):
        assert set(np.unique(grids[name].regions)) == {0, 1}, name  # a boundary crosses the picture
        assert is_straight(grids[name].regions), name
        assert not encloses(grids[name].regions, inner)
    for name in ("3", "8"):
        assert encloses(grids[name].regions, inner), name
        assert not is_straight(grids[name].regions)


def test_boundary_command_draws_regions_points_and_legend(circles_sweep):
    tmp_path, result, _ = circles_sweep
    run_dir = sweep.best_run(result.runs, "8", result.task).output
    out = runner.invoke(app, ["boundary", run_dir, str(ROOT / "datasets" / "circles.csv"),
                              "--width", "40", "--height", "16"])
    assert out.exit_code == 0, out.output
    rows = [line.split("│")[1] for line in out.stdout.splitlines() if line.startswith("│")]
    assert len(rows) == 16 and all(len(row) == 40 for row in rows)
    drawn = "".join(rows)
    assert set(drawn) <= set(".:ox") and {"o", "x", ".", ":"} <= set(drawn)
    assert rows[0].strip(".o") == ""  # the top edge is outside the ring: class 0 only
    assert "class 0: region '.' points 'o'; class 1: region ':' points 'x'" in out.stdout


def test_boundary_refuses_regression_and_other_feature_counts(tmp_path):
    reg = load_config(ROOT / "configs" / "regression.yaml", ["optimizer.epochs=2", f"output={tmp_path / 'reg'}"])
    from nnctl import run

    run.train(reg)
    out = runner.invoke(app, ["boundary", str(tmp_path / "reg")])
    assert out.exit_code == 1 and "needs a classifier; this model does regression" in out.stderr
    data = tmp_path / "three.csv"
    data.write_text("a,b,c,label\n" + "".join(f"{i},{i % 3},{i % 5},{i % 2}\n" for i in range(30)))
    cfg = tmp_path / "three.yaml"
    cfg.write_text(f"data: {{train: {data}, target: label}}\noptimizer: {{epochs: 2}}\noutput: {tmp_path / 'three'}\n")
    assert runner.invoke(app, ["train", str(cfg)]).exit_code == 0
    out = runner.invoke(app, ["boundary", str(tmp_path / "three")])
    assert out.exit_code == 1 and "drawn for 2 features; this model has 3 (a, b, c)" in out.stderr
    assert "Traceback" not in out.output


def test_png_without_matplotlib_says_how_to_install_it(circles_sweep, tmp_path, no_matplotlib):
    _, result, _ = circles_sweep
    out = runner.invoke(app, ["boundary", sweep.best_run(result.runs, "3", result.task).output,
                              "--png", str(tmp_path / "b.png")])
    assert out.exit_code == 1
    assert "pip install 'nnctl[plot]'" in out.stderr and not (tmp_path / "b.png").exists()


def test_png_with_matplotlib_writes_an_image(circles_sweep, tmp_path):
    pytest.importorskip("matplotlib")
    _, result, _ = circles_sweep
    out = runner.invoke(app, ["boundary", sweep.best_run(result.runs, "3", result.task).output,
                              "--png", str(tmp_path / "b.png")])
    assert out.exit_code == 0, out.output
    data = (tmp_path / "b.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert 320 <= width <= 700 and 320 <= height <= 450  # one 3.2-inch panel at 100 dpi, trimmed, with its legend


def test_sweep_boundary_panels_side_by_side_and_a_note_for_regression(tmp_path):
    out = runner.invoke(app, ["sweep-hidden", str(ROOT / "configs" / "circles.yaml"), "--sizes", "0,3",
                              "--jobs", "1", "--boundary", "--set", "optimizer.epochs=20", "-o", str(tmp_path / "s")])
    assert out.exit_code == 0, out.output
    titled = [line for line in out.stdout.splitlines() if "hidden 0" in line and "hidden 3" in line]
    assert titled, out.stdout  # the two panels' titles share one line: side by side
    reg = runner.invoke(app, ["sweep-hidden", str(ROOT / "configs" / "regression.yaml"), "--sizes", "0",
                              "--jobs", "1", "--boundary", "--set", "optimizer.epochs=2", "-o", str(tmp_path / "r")])
    assert reg.exit_code == 0 and "no picture drawn" in reg.stdout


def test_the_boundary_picture_explains_itself():
    pytest.importorskip("matplotlib")
    from nnctl.boundary import BoundaryGrid
    from nnctl.plot import boundary_figure

    grid = BoundaryGrid(np.linspace(-1, 1, 5), np.linspace(1, -1, 4), np.zeros((4, 5), dtype=int), ["no", "yes"],
                        ("x1", "x2"), np.array([[0.0, 0.0], [0.5, 0.5]]), np.array([0, 1]), np.array([0, 0]),
                        "datasets/test.csv")
    figure = boundary_figure([("hidden 3: val accuracy 0.950", grid)])
    assert figure.axes[0].get_title() == "hidden 3: val accuracy 0.950\naccuracy 0.500 on these points"
    assert [text.get_text() for text in figure.legends[0].get_texts()] == [
        "predicted no", "predicted yes", "point of class no", "point of class yes"]
    assert figure._suptitle.get_text() == "regions: the class the model predicts there; points: datasets/test.csv"


def test_points_without_their_classes_are_one_line_not_a_traceback(tmp_path):
    from typer.testing import CliRunner

    from nnctl.cli import app

    runner = CliRunner()
    trained = runner.invoke(app, ["train", str(ROOT / "configs" / "circles.yaml"), "--set",
                                  f"output={tmp_path / 'run'}", "--set", "optimizer.epochs=2"])
    assert trained.exit_code == 0, trained.output
    rows = (ROOT / "datasets" / "circles.csv").read_text().splitlines()
    (tmp_path / "points.csv").write_text("\n".join(",".join(row.split(",")[:2]) for row in rows) + "\n")
    for extra in ([], ["--json"]):
        done = runner.invoke(app, ["boundary", str(tmp_path / "run"), str(tmp_path / "points.csv"), *extra])
        assert done.exit_code == 1
        assert done.stderr.strip() == (f"error: {tmp_path / 'points.csv'}: no column 'label' with the points' "
                                       "classes; boundary draws labelled rows (leave DATA out to draw the training "
                                       "rows)")
