"""The commands, run in-process with Typer's CliRunner."""

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from nnctl.cli import app
from nnctl.config import load_config
from nnctl.core.training import EpochRecord, Evaluation
from nnctl.views.train import TrainingDisplay

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _circles_with_names(tmp_path: Path) -> Path:
    """datasets/circles.csv with string labels and the columns in another order."""
    rows = list(csv.reader((ROOT / "datasets" / "circles.csv").open()))[1:]
    names = {"0": "ring", "1": "inner"}
    lines = ["label,x2,x1"] + [f"{names[label]},{x2},{x1}" for x1, x2, label in rows]
    return _write(tmp_path / "named.csv", "\n".join(lines) + "\n")


def _config(tmp_path: Path, data: Path, extra: str = "", epochs: int = 60) -> Path:
    return _write(tmp_path / "cfg.yaml", f"""
data: {{train: {data}, target: label}}
model: {{hidden: [8], activation: tanh}}
loss: softmax_cross_entropy
regularization: {{l2: 0.001}}
optimizer: {{learning_rate: 0.5, batch_size: 32, epochs: {epochs}}}
output: {tmp_path / 'run'}
{extra}""")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("trained")
    data = _circles_with_names(tmp_path)
    config = _config(tmp_path, data)
    result = runner.invoke(app, ["train", str(config), "--every", "10"])
    return tmp_path, data, config, result


def test_train_prints_plain_epoch_lines_matching_the_history(trained):
    tmp_path, _, _, result = trained
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\r" not in result.stdout
    lines = [line for line in result.stdout.splitlines() if line.startswith("epoch ")]
    assert [int(line.split()[1].split("/")[0]) for line in lines] == [1, 10, 20, 30, 40, 50, 60]
    history = list(csv.DictReader((tmp_path / "run" / "history.csv").open()))
    assert len(history) == 60
    last = history[-1]
    assert f"val loss: {float(last['val_loss']):.4f}" in lines[-1]
    assert f"val accuracy: {float(last['val_accuracy']):.4f}" in lines[-1]
    assert f"train loss (mean of batches, data + penalty): {float(last['train_loss']):.4f}" in lines[-1]
    assert float(last["train_loss"]) == pytest.approx(float(last["train_data_loss"]) + float(last["train_penalty"]))


def test_train_summary_and_run_directory(trained):
    tmp_path, data, config, result = trained
    run_dir = tmp_path / "run"
    assert "2 inputs + bias -> 8 tanh + bias -> 2 outputs (softmax); 42 parameters" in result.stdout
    assert "rows: 320 training, 80 validation" in result.stdout
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "best.npz", "config.yaml", "history.csv", "last.npz", "summary.json"]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["parameters"] == 42 and summary["layer_sizes"] == [2, 8, 2]
    assert summary["epochs_run"] == 60 and summary["stop_reason"] == "all 60 epochs done"
    assert summary["best"]["val_accuracy"] >= 0.95
    with np.load(run_dir / "best.npz", allow_pickle=False) as archive:
        meta = json.loads(str(archive["meta"]))
    assert meta["classes"] == ["inner", "ring"] and meta["epoch"] == summary["best_epoch"]
    assert meta["feature_names"] == ["x2", "x1"]
    resolved = load_config(run_dir / "config.yaml")
    original = load_config(config)
    assert resolved.data == original.data and resolved.model == original.model
    assert resolved.optimizer == original.optimizer and resolved.output == original.output


def test_predict_gives_labels_back_as_they_were(trained):
    tmp_path, data, _, _ = trained
    rows = list(csv.reader(data.open()))
    reordered = _write(tmp_path / "new.csv", "x1,note,x2\n" + "".join(
        f"{x1},hello,{x2}\n" for _, x2, x1 in rows[1:6]))
    result = runner.invoke(app, ["predict", str(tmp_path / "run"), str(reordered), "--proba"])
    assert result.exit_code == 0, result.output
    out = list(csv.reader(io.StringIO(result.stdout)))
    assert out[0] == ["predicted_label", "probability_inner", "probability_ring"]
    assert [row[0] for row in out[1:]] == [label for label, _, _ in rows[1:6]]
    assert all(abs(float(a) + float(b) - 1) < 1e-5 for _, a, b in out[1:])
    assert "ignored columns not used by the model: note" in result.stderr


def test_predict_with_targets_prints_metrics_and_writes_a_file(trained):
    tmp_path, data, _, _ = trained
    out_file = tmp_path / "pred.csv"
    result = runner.invoke(app, ["predict", str(tmp_path / "run" / "last.npz"), str(data), "-o", str(out_file)])
    assert result.exit_code == 0, result.output
    predicted = [row[0] for row in csv.reader(out_file.open())][1:]
    truth = [row[0] for row in csv.reader(data.open())][1:]
    accuracy = np.mean([p == t for p, t in zip(predicted, truth)])
    assert f"accuracy      │ {accuracy:.4f}" in result.stdout
    assert "confusion matrix" in result.stdout and f"wrote {len(truth)} predictions" in result.stdout


def test_predict_missing_feature_column_is_one_clear_error(trained):
    tmp_path, _, _, _ = trained
    bad = _write(tmp_path / "bad.csv", "x1,label\n0.1,inner\n")
    result = runner.invoke(app, ["predict", str(tmp_path / "run"), str(bad)])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and "x2" in result.stderr and str(bad) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_regression_train_and_predict(tmp_path):
    config = _write(tmp_path / "reg.yaml", f"""
data: {{train: {ROOT / 'datasets' / 'regression.csv'}, target: y}}
model: {{hidden: [16], activation: tanh}}
loss: mse
optimizer: {{learning_rate: 0.05, epochs: 40}}
output: {tmp_path / 'run'}
""")
    result = runner.invoke(app, ["train", str(config)])
    assert result.exit_code == 0, result.output
    assert "val MAE:" in result.stdout and "val R^2:" in result.stdout
    predicted = runner.invoke(app, ["predict", str(tmp_path / "run"), str(ROOT / "datasets" / "regression.csv")])
    assert predicted.exit_code == 0
    assert predicted.stdout.splitlines()[0] == "predicted_y"
    for name in ("mse", "rmse", "mae", "r2"):
        assert name in predicted.stderr
    proba = runner.invoke(app, ["predict", str(tmp_path / "run"), str(ROOT / "datasets" / "regression.csv"), "--proba"])
    assert proba.exit_code == 1 and "--proba needs" in proba.stderr


def test_config_show_prints_every_default(tmp_path):
    config = _write(tmp_path / "c.yaml", "data: {train: d.csv, target: label}\n")
    result = runner.invoke(app, ["config", "show", str(config), "--set", "optimizer.learning_rate=1e-3"])
    assert result.exit_code == 0, result.output
    for line in ("train: d.csv", "hidden:", "activation: sigmoid", "dtype: float32",
                 "learning_rate: 0.001", "batch_size: 32", "seed: 0", "l2: 0.0"):
        assert line in result.stdout


@pytest.mark.parametrize(
    "args,needle",
    [
        (["train", "missing.yaml"], "missing.yaml: no such file"),
        (["train", "{cfg}", "--set", "model.hiden=[3]"], "did you mean 'hidden'"),
        (["train", "{cfg}", "--set", "nonsense"], "expected key.path=value"),
        (["train", "{cfg}", "--set", "data.train=nowhere.csv"], "nowhere.csv"),
        (["train", "{cfg}", "--set", "loss=binary_cross_entropy", "--set", "data.target=x1"], "continuous"),
        (["predict", "nowhere.npz", "x.csv"], "nowhere.npz: no such checkpoint file"),
    ],
)
def test_user_errors_are_one_line_and_exit_1(tmp_path, args, needle):
    config = _config(tmp_path, ROOT / "datasets" / "circles.csv", epochs=2)
    args = [a.replace("{cfg}", str(config)) for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert needle in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_usage_errors_exit_2(tmp_path):
    assert runner.invoke(app, ["train"]).exit_code == 2
    made = runner.invoke(app, ["data", "make", "squares", "-o", str(tmp_path / "x.csv")])
    assert made.exit_code == 2 and "unknown kind 'squares'" in made.output
    assert not (tmp_path / "x.csv").exists()


def test_divergence_is_one_error_line_with_a_remedy(tmp_path):
    data = _write(tmp_path / "big.csv", "a,b,y\n" + "".join(f"{i * 1000},{-i * 300},{i * 5000}\n" for i in range(40)))
    config = _write(tmp_path / "div.yaml", f"""
data: {{train: {data}, target: y, standardize: false}}
model: {{hidden: [4], activation: relu}}
loss: mse
optimizer: {{learning_rate: 1.0, epochs: 50}}
output: {tmp_path / 'run'}
""")
    result = runner.invoke(app, ["train", str(config)])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: the loss is no longer finite at epoch ")
    assert "lower optimizer.learning_rate (now 1) or set data.standardize: true" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_unwritable_output_is_one_error_line(tmp_path):
    blocker = _write(tmp_path / "file.txt", "x")
    config = _config(tmp_path, ROOT / "datasets" / "circles.csv", epochs=2)
    result = runner.invoke(app, ["train", str(config), "--set", f"output={blocker}"])
    assert result.exit_code == 1 and f"{blocker}: exists and is not a directory" in result.stderr
    result = runner.invoke(app, ["sweep-hidden", str(config), "--sizes", "0", "--output", str(blocker / "sub")])
    assert result.exit_code == 1 and "sub: cannot create the directory (Not a directory)" in result.stderr
    assert "Traceback" not in result.output


def test_sweep_uses_every_core_by_default(tmp_path, monkeypatch):
    import os
    from nnctl import sweep

    seen = {}

    def fake_search(config, candidates, seeds, jobs, directory, on_run=None, executor=None, folds=None, kind="",
                    fresh=False):
        seen["jobs"] = jobs
        raise sweep.TrainingError("stop here")

    monkeypatch.setattr(sweep, "search", fake_search)
    config = _config(tmp_path, ROOT / "datasets" / "circles.csv", epochs=2)
    result = runner.invoke(app, ["sweep-hidden", str(config)])
    assert result.exit_code == 1 and seen["jobs"] == (os.cpu_count() or 1)


def test_live_display_in_a_terminal_shows_progress_and_table():
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=120)
    evaluation = Evaluation(0.5, 0.01, {"accuracy": 0.75, "zero_one_loss": 0.25})
    with TrainingDisplay(console, epochs=2, task="classification", has_validation=True) as display:
        for epoch in (1, 2):
            display.on_epoch(EpochRecord(epoch, evaluation, evaluation, 0.1, 0.01))
    text = stream.getvalue()
    assert "2/2" in text and "0.5100 (0.5000 + 0.0100)" in text and "0.7500" in text


def test_data_make_writes_the_requested_rows(tmp_path):
    out = tmp_path / "xor.csv"
    result = runner.invoke(app, ["data", "make", "xor", "-o", str(out), "--n", "50", "--seed", "3"])
    assert result.exit_code == 0
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["x1", "x2", "label"] and len(rows) == 51
    assert {row[2] for row in rows[1:]} == {"0", "1"}


def test_data_make_to_stdout_and_row_limit(tmp_path):
    result = runner.invoke(app, ["data", "make", "circles", "-o", "-", "--n", "4"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "x1,x2,label" and len(result.stdout.splitlines()) == 5
    too_many = runner.invoke(app, ["data", "make", "circles", "-o", str(tmp_path / "big.csv"), "--n", "100000000"])
    assert too_many.exit_code == 2 and "1000000" in too_many.output and not (tmp_path / "big.csv").exists()


def test_json_output_of_train_predict_and_sweep(tmp_path):
    config = _config(tmp_path, ROOT / "datasets" / "circles.csv", epochs=3)
    trained = runner.invoke(app, ["train", str(config), "--json"])
    assert trained.exit_code == 0, trained.output
    document = json.loads(trained.stdout)  # the whole of stdout is one JSON document
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert document["best"] == summary["best"] and document["epochs_run"] == 3
    assert document["stop_reason"] == "all 3 epochs done" and document["interrupted"] is False
    assert document["files"]["best"] == str(tmp_path / "run" / "best.npz")

    predicted = runner.invoke(app, ["predict", str(tmp_path / "run"), str(ROOT / "datasets" / "circles.csv"), "--json"])
    document = json.loads(predicted.stdout)
    assert len(document["predictions"]) == 400 and set(document["predictions"][0]) == {"predicted_label"}
    assert 0 <= document["metrics"]["accuracy"] <= 1 and len(document["confusion_matrix"]) == 2
    assert sum(map(sum, document["confusion_matrix"])) == 400

    swept = runner.invoke(app, ["sweep-hidden", str(config), "--sizes", "0,2", "--jobs", "1", "--json",
                                "-o", str(tmp_path / "s")])
    document = json.loads(swept.stdout)
    assert [c["candidate"] for c in document["candidates"]] == ["0", "2"] and len(document["runs"]) == 2
    assert document == {**json.loads((tmp_path / "s" / "results.json").read_text()), "files": document["files"],
                        "notes": []}


def test_help_needs_no_numpy_and_the_help_constants_match():
    import subprocess
    import sys

    from nnctl import cli, run, toydata

    assert cli.TOY_KINDS == (*toydata.KINDS, *toydata.TABLE_KINDS) and cli.SAVE_SECONDS == run.SAVE_SECONDS
    probe = "import sys; from nnctl.cli import app; print('numpy' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False"


def test_an_error_quoting_a_cell_with_line_breaks_stays_on_one_line(tmp_path):
    data = _write(tmp_path / "multiline.csv", 'x1,x2,label\n0,",0\n0,0,0\n0,"4",0\n1,2,1\n')
    config = _config(tmp_path, data, epochs=1)
    result = runner.invoke(app, ["train", str(config)])
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "line 2, column 'x2'" in result.stderr and "\\n" in result.stderr
