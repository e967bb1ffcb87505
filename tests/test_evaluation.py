"""nnctl evaluate: figures against values worked out by hand on tiny models and files."""

from __future__ import annotations

import json
from math import sqrt
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from nnctl.views.evaluate import evaluation_view
from nnctl.checkpoint import save_checkpoint
from nnctl.config import load_config
from nnctl.core.model import Layer
from nnctl.prep.transforms import Scaler
from nnctl.errors import NnctlError
from nnctl.core.metrics import precision_recall_f1
from nnctl.evaluation import evaluate_file, evaluation_to_dict
from nnctl.predict import predict_file
from nnctl.run import train

ROOT = Path(__file__).resolve().parent.parent


def _text(renderable, width: int = 160) -> str:
    console = Console(width=width, record=True, file=open("/dev/null", "w"))
    console.print(renderable)
    return console.export_text()


# --- a 3-class model whose every prediction is known ------------------------------------

@pytest.fixture
def three_classes(tmp_path):
    """No hidden layer, softmax over logits [x1, x2, 0.5]: (2, 0) -> a, (0, 2) -> b, (0, 0) -> c."""
    tmp_path = tmp_path / "three"
    tmp_path.mkdir()
    layers = [Layer(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), np.array([0.0, 0.0, 0.5]), "softmax")]
    meta = {"loss": "softmax_cross_entropy", "task": "classification", "feature_names": ["x1", "x2"],
            "target_names": ["label"], "classes": ["a", "b", "c"], "epoch": 9}
    save_checkpoint(tmp_path / "m.npz", layers, Scaler.identity(2), meta)
    predicts = {"a": "2,0", "b": "0,2", "c": "0,0"}
    # (true, predicted): C = [[2, 1, 0], [0, 1, 1], [2, 0, 1]]
    pairs = [("a", "a"), ("a", "a"), ("a", "b"), ("b", "b"), ("b", "c"), ("c", "a"), ("c", "a"), ("c", "c")]
    (tmp_path / "d.csv").write_text("x1,x2,label,note\n" + "".join(f"{predicts[p]},{t},n\n" for t, p in pairs))
    return tmp_path / "m.npz", tmp_path / "d.csv"


def test_classification_figures_by_hand(three_classes):
    ev = evaluate_file(*three_classes)
    assert ev.task == "classification" and ev.rows == 8 and ev.epoch == 9 and ev.classes == ["a", "b", "c"]
    assert ev.confusion.tolist() == [[2, 1, 0], [0, 1, 1], [2, 0, 1]]
    assert ev.metrics["accuracy"] == 4 / 8 and ev.metrics["zero_one_loss"] == 4 / 8
    # precision: column sums 4, 2, 2; recall: row sums 3, 2, 3
    precision, recall = [2 / 4, 1 / 2, 1 / 2], [2 / 3, 1 / 2, 1 / 3]
    f1 = [2 * p * r / (p + r) for p, r in zip(precision, recall)]  # 4/7, 1/2, 2/5
    assert f1 == pytest.approx([4 / 7, 1 / 2, 2 / 5])
    assert [s.label for s in ev.per_class] == ["a", "b", "c"]
    assert [s.precision for s in ev.per_class] == pytest.approx(precision)
    assert [s.recall for s in ev.per_class] == pytest.approx(recall)
    assert [s.f1 for s in ev.per_class] == pytest.approx(f1)
    assert [s.support for s in ev.per_class] == [3, 2, 3]
    assert ev.metrics["macro_precision"] == pytest.approx(0.5)
    assert ev.metrics["macro_recall"] == pytest.approx((2 / 3 + 1 / 2 + 1 / 3) / 3)
    assert ev.metrics["macro_f1"] == pytest.approx((4 / 7 + 1 / 2 + 2 / 5) / 3)
    assert ev.ignored_columns == ("note",) and ev.notes == []


def test_zero_over_zero_counts_as_zero_and_is_said():
    # class 1 is never predicted (precision 0/0); class 2 never occurs (recall 0/0) and never predicted
    C = np.array([[3, 0, 0], [2, 0, 0], [0, 0, 0]])
    precision, recall, f1, support = precision_recall_f1(C)
    assert precision.tolist() == [3 / 5, 0.0, 0.0]
    assert recall.tolist() == [1.0, 0.0, 0.0]
    assert f1.tolist() == pytest.approx([2 * 0.6 / 1.6, 0.0, 0.0])
    assert support.tolist() == [3, 2, 0]
    assert np.isfinite(f1).all()


def test_notes_name_the_classes_with_zero_over_zero(three_classes, tmp_path):
    model, _ = three_classes
    (tmp_path / "only_a.csv").write_text("x1,x2,label\n2,0,a\n0,0,a\n")  # predicted a and c; b never
    ev = evaluate_file(model, tmp_path / "only_a.csv")
    assert ev.confusion.tolist() == [[1, 0, 1], [0, 0, 0], [0, 0, 0]]
    assert [s.precision for s in ev.per_class] == [1.0, 0.0, 0.0]
    assert [s.recall for s in ev.per_class] == [0.5, 0.0, 0.0]
    assert ev.notes == ["never predicted: class b; its precision (0/0) counts as 0",
                        "no rows of class b, c in the file; its recall (0/0) counts as 0"]


# --- a 2-target linear regression model ------------------------------------------------

@pytest.fixture
def two_targets(tmp_path):
    """y1_hat = 2 x + 1, y2_hat = -x."""
    tmp_path = tmp_path / "two"
    tmp_path.mkdir()
    layers = [Layer(np.array([[2.0, -1.0]]), np.array([1.0, 0.0]), "identity")]
    meta = {"loss": "mse", "task": "regression", "feature_names": ["x"], "target_names": ["y1", "y2"],
            "classes": None, "epoch": 1}
    save_checkpoint(tmp_path / "m.npz", layers, Scaler.identity(1), meta)
    # predictions y1: 1, 3, 5 and y2: 0, -1, -2
    (tmp_path / "d.csv").write_text("y2,x,y1\n0,0,1\n-1,1,4\n-3,2,4\n")
    return tmp_path / "m.npz", tmp_path / "d.csv"


def test_regression_figures_by_hand(two_targets):
    ev = evaluate_file(*two_targets)
    assert ev.task == "regression" and ev.rows == 3 and ev.confusion is None
    y1, y2 = ev.per_target
    # y1: errors 0, -1, 1; mean of y1 = 3, SS_tot = 4 + 1 + 1 = 6, SS_res = 2
    assert y1.name == "y1"
    assert (y1.mse, y1.mae) == pytest.approx((2 / 3, 2 / 3))
    assert y1.rmse == pytest.approx(sqrt(2 / 3)) and y1.r2 == pytest.approx(1 - 2 / 6)
    # y2: errors 0, 0, 1; mean of y2 = -4/3, SS_tot = 16/9 + 1/9 + 25/9 = 42/9, SS_res = 1
    assert y2.name == "y2"
    assert (y2.mse, y2.mae) == pytest.approx((1 / 3, 1 / 3))
    assert y2.rmse == pytest.approx(sqrt(1 / 3)) and y2.r2 == pytest.approx(1 - 9 / 42)
    # over both targets: MSE and MAE over all 6 values, RMSE = sqrt(MSE), R^2 the mean of the two
    assert ev.metrics["mse"] == pytest.approx(3 / 6) and ev.metrics["mae"] == pytest.approx(3 / 6)
    assert ev.metrics["rmse"] == pytest.approx(sqrt(0.5))
    assert ev.metrics["r2"] == pytest.approx((2 / 3 + 33 / 42) / 2)


def test_missing_target_column_is_one_clear_error(three_classes, two_targets, tmp_path):
    model, _ = three_classes
    (tmp_path / "no_label.csv").write_text("x1,x2\n1,2\n")
    with pytest.raises(NnctlError) as caught:
        evaluate_file(model, tmp_path / "no_label.csv")
    message = str(caught.value)
    assert "\n" not in message and "no_label.csv" in message
    assert "no target column 'label'" in message and "columns are: x1, x2" in message
    reg_model, _ = two_targets
    (tmp_path / "half.csv").write_text("x,y1\n1,2\n")
    with pytest.raises(NnctlError, match=r"half.csv: no target column 'y2' to score"):
        evaluate_file(reg_model, tmp_path / "half.csv")


def test_an_unusable_target_column_is_an_error_too(three_classes, tmp_path):
    model, _ = three_classes
    (tmp_path / "unseen.csv").write_text("x1,x2,label\n1,2,a\n1,2,zebra\n")
    pattern = r"unseen.csv: line 3, column 'label': class 'zebra' was not seen.*cannot be scored"
    with pytest.raises(NnctlError, match=pattern):
        evaluate_file(model, tmp_path / "unseen.csv")


# --- trained runs ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("evaluate")
    train(load_config(ROOT / "configs" / "circles.yaml", ["optimizer.epochs=5", f"output={tmp / 'c'}"]))
    train(load_config(ROOT / "configs" / "regression.yaml", ["optimizer.epochs=5", f"output={tmp / 'r'}"]))
    return tmp / "c", tmp / "r"


def test_trained_runs_agree_with_predict(runs):
    for run_dir, data in ((runs[0], "circles.csv"), (runs[1], "regression.csv")):
        csv = ROOT / "datasets" / data
        ev, predicted = evaluate_file(run_dir, csv), predict_file(run_dir, csv)
        assert ev.checkpoint == run_dir / "best.npz"
        for name, value in predicted.metrics.items():
            assert ev.metrics[name] == value
        if ev.task == "classification":
            assert (ev.confusion == predicted.confusion).all() and ev.classes == predicted.classes
            assert sum(s.support for s in ev.per_class) == ev.rows == 400
        else:
            assert len(ev.per_target) == 1 and ev.per_target[0].r2 == pytest.approx(ev.metrics["r2"])


def test_rendered_tables_and_json(three_classes, two_targets):
    ev = evaluate_file(*three_classes)
    out = _text(evaluation_view(ev))
    for expected in ("8 rows of", "accuracy", "0.5000", "confusion matrix", "true \\ predicted", "per class",
                     "precision", "recall", "F1", "support", "macro average", "0.5714", "0.4000",
                     "ignored columns not used by the model: note"):
        assert expected in out, expected
    document = json.loads(json.dumps(evaluation_to_dict(ev), allow_nan=False))
    assert document["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [2, 0, 1]]
    assert document["per_class"][0] == {"label": "a", "precision": 0.5, "recall": pytest.approx(2 / 3),
                                        "f1": pytest.approx(4 / 7), "support": 3}
    assert document["metrics"]["accuracy"] == 0.5 and document["classes"] == ["a", "b", "c"]
    reg = evaluate_file(*two_targets)
    out = _text(evaluation_view(reg))
    assert "per target" in out and "y1" in out and "y2" in out and "all targets" in out and "0.6667" in out
    document = json.loads(json.dumps(evaluation_to_dict(reg), allow_nan=False))
    assert [t["name"] for t in document["per_target"]] == ["y1", "y2"] and "confusion_matrix" not in document


def test_scoring_the_runs_own_training_or_validation_file_says_the_figures_flatter_it(tmp_path):
    import shutil

    data, validation = tmp_path / "train.csv", tmp_path / "val.csv"
    shutil.copy(ROOT / "datasets" / "circles.csv", data)
    rows = (ROOT / "datasets" / "circles.csv").read_text().splitlines()
    validation.write_text("\n".join(rows[:101]) + "\n")
    copy = tmp_path / "fresh.csv"
    shutil.copy(data, copy)  # the same rows under another name: nnctl cannot know, and says nothing
    config = load_config(ROOT / "configs" / "circles.yaml", [f"data.train={data}", f"data.validation={validation}",
                                                             "optimizer.epochs=2", f"output={tmp_path / 'run'}"])
    train(config)
    notes = lambda file: [n for n in evaluate_file(tmp_path / "run", file).notes if "flatter" in n]  # noqa: E731
    assert notes(data) == ["these are the rows of the run's own training file: it trained on them, so these "
                           "figures flatter it; a file it never saw (data.test) judges it"]
    assert notes(validation) == ["these are the run's validation rows: it chose its epoch on them, so these figures "
                                 "flatter it; a file it never saw (data.test) judges it"]
    assert notes(copy) == []
    config = load_config(ROOT / "configs" / "circles.yaml", [f"data.train={data}", "optimizer.epochs=2",
                                                             f"output={tmp_path / 'split'}"])  # validation: 0.2
    train(config)
    assert [n for n in evaluate_file(tmp_path / "split", data).notes if "flatter" in n] == [
        "these are the rows of the run's own training file: it trained on most of them and chose its epoch on the "
        "rest, so these figures flatter it; a file it never saw (data.test) judges it"]
