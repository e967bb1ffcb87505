"""nnctl export: the ONNX model, run in onnxruntime, answers as `nnctl predict` does (labels equal,
probabilities within 1e-5, regression within float32's precision), preprocessing included; the
safetensors file holds every array bit for bit and the config in its header."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nnctl.checkpoint import load_checkpoint
from nnctl.cli import app
from nnctl.config import load_config
from nnctl.predict import predict_file
from nnctl.run import train

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
safetensors_numpy = pytest.importorskip("safetensors.numpy")

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()

# (config, overrides, data to predict): every loss, every hidden activation, a perceptron,
# multi-output regression, categorical columns and missing cells (mixed.csv)
CASES = {
    "softmax-sigmoid": ("circles.yaml", [], "circles.csv"),
    "binary-ce-tanh": ("xor.yaml", ["loss=binary_cross_entropy", "model.activation=tanh"], "xor.csv"),
    "hinge-relu": ("moons.yaml", ["loss=hinge", "model.activation=relu"], "moons.csv"),
    "hinge-3-classes": ("gaussians.yaml", ["loss=hinge", "model.activation=leaky_relu"], "gaussians.csv"),
    "softmax-perceptron": ("circles-perceptron.yaml", [], "circles.csv"),
    "logistic-neuron": ("neuron.yaml", [], "linear.csv"),
    "mse-regression": ("regression.yaml", [], "regression.csv"),
    "mae-identity": ("regression.yaml", ["loss=mae", "model.activation=identity"], "regression.csv"),
    "mixed-categorical": ("mixed.yaml", [], "mixed.csv"),
    "mixed-indicators": ("mixed.yaml", ["data.missing_indicators=true", "data.max_categories=2"], "mixed.csv"),
    "mixed-regression": ("mixed-spend.yaml", [], "mixed.csv"),
    "two-targets": ("mixed-spend.yaml", ["data.target=[spend, age]", "data.exclude=[id, bought]"], "mixed.csv"),
}


def _feed(session, path: Path, checkpoint) -> dict[str, np.ndarray]:
    """The ONNX inputs for a CSV file: numbers (NaN where missing) and category strings, as written."""
    rows = list(csv.DictReader(path.open(newline="")))
    na = set(checkpoint.preprocessor.na_values)
    names = checkpoint.preprocessor.numeric_names
    inputs = {i.name: i for i in session.get_inputs()}
    if list(inputs) == ["X"]:
        return {"X": np.array([[float(r[n]) for n in names] for r in rows], dtype=np.float32)}
    feed = {}
    for name, info in inputs.items():
        cells = [r[name].strip() for r in rows]
        if info.type == "tensor(string)":
            feed[name] = np.array(cells, dtype=object).reshape(-1, 1)
        else:
            feed[name] = np.array([np.nan if c in na else float(c) for c in cells], dtype=np.float32).reshape(-1, 1)
    return feed


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = {}
    base = tmp_path_factory.mktemp("export")
    for name, (config, extra, _) in CASES.items():
        cfg = load_config(ROOT / "configs" / config, [f"output={base / name}", "optimizer.epochs=15", *extra])
        train(cfg, save_seconds=1e9)
        out[name] = base / name / "best.npz"
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_onnx_answers_as_nnctl_predict_does(trained, tmp_path, name):
    path = trained[name]
    checkpoint = load_checkpoint(path)
    model_file = tmp_path / "model.onnx"
    done = runner.invoke(app, ["export", str(path), "-o", str(model_file)])
    assert done.exit_code == 0 and done.stdout.strip() == f"wrote {model_file} (onnx)", done.output
    model = onnx.load(str(model_file))
    onnx.checker.check_model(model)
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["feature_names"]) == checkpoint.meta["feature_names"]
    assert json.loads(props["config"]) == checkpoint.meta["config"] and props["nnctl_version"]
    session = ort.InferenceSession(str(model_file))
    data = ROOT / "datasets" / CASES[name][2]
    outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, _feed(session, data, checkpoint))))
    if checkpoint.meta["task"] == "classification":
        probabilities = LOSSES_WITH_PROBABILITIES.get(checkpoint.meta["loss"], False)
        expected = predict_file(path, data, probabilities, ())
        labels = [row[0] for row in expected.rows]
        assert outputs["label"].tolist() == labels
        if probabilities:
            np.testing.assert_allclose(outputs["probabilities"], np.array([row[1:] for row in expected.rows], float),
                                       atol=1e-5)
            assert outputs["probabilities"].shape[1] == len(checkpoint.meta["classes"])
    else:
        expected = np.array(predict_file(path, data, False, ()).rows, dtype=float)
        np.testing.assert_allclose(outputs["prediction"], expected, rtol=2e-6, atol=1e-5)
        assert outputs["prediction"].shape == expected.shape


LOSSES_WITH_PROBABILITIES = {"softmax_cross_entropy": True, "binary_cross_entropy": True}


def test_inputs_are_one_matrix_for_numbers_and_one_input_per_column_otherwise(trained):
    from nnctl.export import onnx_model

    numeric = onnx_model(load_checkpoint(trained["softmax-sigmoid"]))
    assert [(i.name, i.type.tensor_type.elem_type) for i in numeric.graph.input] == [("X", onnx.TensorProto.FLOAT)]
    mixed = onnx_model(load_checkpoint(trained["mixed-categorical"]))
    kinds = {i.name: i.type.tensor_type.elem_type for i in mixed.graph.input}
    assert kinds == {"age": onnx.TensorProto.FLOAT, "income": onnx.TensorProto.FLOAT,
                     "visits": onnx.TensorProto.FLOAT, "plan": onnx.TensorProto.STRING,
                     "region": onnx.TensorProto.STRING}
    assert {op.domain or "ai.onnx" for op in mixed.opset_import} == {"ai.onnx", "ai.onnx.ml"}
    assert {n.op_type for n in mixed.graph.node} >= {"IsNaN", "Where", "LabelEncoder", "OneHot", "MatMul", "Softmax"}


@pytest.mark.parametrize("name", ["mixed-categorical", "mse-regression", "softmax-sigmoid"])
def test_safetensors_holds_every_array_bit_for_bit_and_the_config(trained, tmp_path, name):
    path = trained[name]
    checkpoint = load_checkpoint(path)
    out = tmp_path / "model.safetensors"
    assert runner.invoke(app, ["export", str(path), "-o", str(out)]).exit_code == 0
    tensors = safetensors_numpy.load_file(str(out))
    for i, layer in enumerate(checkpoint.layers):
        assert tensors[f"layers.{i}.weight"].tobytes() == layer.W.tobytes()
        assert tensors[f"layers.{i}.weight"].dtype == layer.W.dtype and tensors[f"layers.{i}.bias"].shape == layer.b.shape
        assert tensors[f"layers.{i}.bias"].tobytes() == layer.b.tobytes()
    assert tensors["scaler.mean"].tobytes() == checkpoint.scaler.mean.tobytes()
    assert tensors["scaler.scale"].tobytes() == checkpoint.scaler.scale.tobytes()
    from safetensors import safe_open

    with safe_open(str(out), framework="numpy") as opened:
        header = opened.metadata()
    assert json.loads(header["config"]) == checkpoint.meta["config"]
    assert json.loads(header["preprocessing"]) == checkpoint.preprocessor.to_meta()
    assert json.loads(header["feature_names"]) == checkpoint.meta["feature_names"]
    # The README's plain-NumPy forward pass gives the checkpoint's logits.
    if name == "softmax-sigmoid":
        X = np.array([[0.5, -0.25], [1.0, 1.0]])
        A = (X - tensors["scaler.mean"]) / tensors["scaler.scale"]
        A = 1 / (1 + np.exp(-(A @ tensors["layers.0.weight"] + tensors["layers.0.bias"])))
        Z = A @ tensors["layers.1.weight"] + tensors["layers.1.bias"]
        from nnctl.core.model import logits

        expected = logits(checkpoint.layers, checkpoint.scaler.transform(X).astype(np.float32))
        np.testing.assert_allclose(Z, expected, rtol=1e-5, atol=1e-6)


def test_bad_input_is_one_line(trained, tmp_path):
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(trained["softmax-sigmoid"].read_bytes()[:300])
    cases = [
        (["export", str(damaged), "-o", str(tmp_path / "a.onnx")], "damaged.npz: not a readable nnctl checkpoint"),
        (["export", str(trained["softmax-sigmoid"]), "-o", str(tmp_path / "a.tflite")],
         "a.tflite: name the file .onnx or .safetensors, or give --format onnx|safetensors"),
        (["export", str(trained["softmax-sigmoid"]), "-o", str(tmp_path / "a.onnx"), "--format", "tflite"],
         "--format tflite: not a format nnctl exports; choose onnx or safetensors"),
        (["export", str(trained["softmax-sigmoid"]), "-o", str(trained["softmax-sigmoid"]), "--format", "onnx"],
         "best.npz: is an input of this command; write to another file"),
    ]
    for args, part in cases:
        done = runner.invoke(app, args)
        assert done.exit_code == 1 and done.stderr.count("\n") == 1 and part in done.stderr, (args, done.stderr)
    exists = tmp_path / "b.onnx"
    exists.write_bytes(b"mine")
    done = runner.invoke(app, ["export", str(trained["softmax-sigmoid"]), "-o", str(exists)])
    assert done.stderr == f"error: {exists}: exists; give --force to replace it\n" and exists.read_bytes() == b"mine"
    assert runner.invoke(app, ["export", str(trained["softmax-sigmoid"]), "-o", str(exists), "--force"]).exit_code == 0
    assert onnx.load(str(exists)).graph.name == "nnctl"


def test_without_the_extra_the_line_says_how_to_install_it(trained, tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_onnx(name, *args, **kwargs):
        if name.split(".")[0] in ("onnx", "safetensors"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    for suffix, extra in ((".onnx", "onnx"), (".safetensors", "safetensors")):
        done = runner.invoke(app, ["export", str(trained["softmax-sigmoid"]), "-o", str(tmp_path / f"m{suffix}")])
        assert done.stderr == (f"error: exporting to {extra} needs the optional '{extra}' extra: pip install "
                               f"'nnctl[{extra}]' (in a checkout of nnctl: pip install '.[{extra}]')\n")
        assert not (tmp_path / f"m{suffix}").exists()


def test_the_readme_script_predicts_the_labels_nnctl_predict_gives(tmp_path, monkeypatch):
    """README.md's five lines of onnxruntime, run as written on an export of configs/circles.yaml."""
    import contextlib
    import io
    import re

    readme = (ROOT / "README.md").read_text()
    script = re.search(r"Five lines of\s+onnxruntime give the labels `nnctl predict` gives:\n\n```python\n(.*?)```",
                       readme, re.S).group(1)
    assert len(script.strip().splitlines()) == 5
    monkeypatch.chdir(tmp_path)
    (tmp_path / "datasets").symlink_to(ROOT / "datasets")
    train(load_config(ROOT / "configs" / "circles.yaml", [f"output={tmp_path / 'runs' / 'circles'}",
                                                          "optimizer.epochs=20"]))
    assert runner.invoke(app, ["export", "runs/circles", "-o", "runs/circles.onnx"]).exit_code == 0
    shown = io.StringIO()
    namespace: dict = {}
    with contextlib.redirect_stdout(shown):
        exec(compile(script, "README.md", "exec"), namespace)
    expected = [row[0] for row in predict_file(tmp_path / "runs" / "circles", ROOT / "datasets" / "circles.csv").rows]
    assert namespace["label"].tolist() == expected
    assert shown.getvalue().startswith(str(namespace["label"][:5]))


def _export_and_compare(tmp_path, train_csv: str, predict_csv: str, overrides: list[str], rtol=1e-5):
    """Train on ``train_csv`` with circles.yaml and the overrides, export, and compare onnxruntime with
    nnctl predict on ``predict_csv``; returns (onnx outputs, predict rows)."""
    (tmp_path / "train.csv").write_text(train_csv)
    (tmp_path / "rows.csv").write_text(predict_csv)
    out = tmp_path / "run"
    train(load_config(ROOT / "configs" / "circles.yaml", [f"data.train={tmp_path / 'train.csv'}", f"output={out}",
                                                          "optimizer.epochs=20", *overrides]))
    assert runner.invoke(app, ["export", str(out), "-o", str(tmp_path / "m.onnx")]).exit_code == 0
    checkpoint = load_checkpoint(out / "best.npz")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    outputs = dict(zip([o.name for o in session.get_outputs()],
                       session.run(None, _feed(session, tmp_path / "rows.csv", checkpoint))))
    probabilities = checkpoint.meta["loss"] in LOSSES_WITH_PROBABILITIES
    expected = predict_file(out, tmp_path / "rows.csv", probabilities if checkpoint.meta["task"] == "classification"
                            else False, ())
    return outputs, expected.rows


def test_a_category_called_missing_and_missing_cells_keep_their_own_slots(tmp_path):
    colors = ["(missing)", "red", "blue", "", "green", "NA"]
    rows = "".join(f"{i / 10},{colors[i % 6]},{'yes' if (i * 7) % 3 else 'no'}\n" for i in range(60))
    outputs, expected = _export_and_compare(tmp_path, "x1,color,label\n" + rows, "x1,color,label\n" + rows,
                                            ["data.target=label"])
    assert outputs["label"].tolist() == [r[0] for r in expected]
    np.testing.assert_allclose(outputs["probabilities"], np.array([r[1:] for r in expected], float), atol=1e-5)


def test_a_missing_cell_fills_no_slot_when_training_saw_none(tmp_path):
    colors = ["red", "blue", "green", "pink", "teal"]
    train_rows = "".join(f"{i / 10},{colors[i % 5]},{'yes' if i % 3 else 'no'}\n" for i in range(60))
    predict_rows = "".join(f"{i / 10},{c},yes\n" for i, c in enumerate(["", "NA", "?", "red", "mauve"]))
    outputs, expected = _export_and_compare(tmp_path, "x1,color,label\n" + train_rows, "x1,color,label\n" + predict_rows,
                                            ["data.max_categories=3"])
    assert outputs["label"].tolist() == [r[0] for r in expected]
    np.testing.assert_allclose(outputs["probabilities"], np.array([r[1:] for r in expected], float), atol=1e-5)


def test_a_float64_model_is_a_float64_graph(tmp_path):
    rows = "".join(f"{i / 7},{(i % 5) / 3},{9998790.72 + i * 13.5}\n" for i in range(80))
    outputs, expected = _export_and_compare(tmp_path, "x1,x2,y\n" + rows, "x1,x2,y\n" + rows,
                                            ["data.target=y", "loss=mse", "model.dtype=float64"])
    assert outputs["prediction"].dtype == np.float64
    # the inputs are float32 (x1 = i / 7 keeps 7 digits), the rest float64: ~1e-12 apart, not 1e-7 (float32)
    np.testing.assert_allclose(outputs["prediction"], np.array(expected, float), rtol=1e-10)


def test_labels_beyond_int64_come_out_as_text_and_an_output_name_as_column_is_refused(tmp_path):
    rows = "".join(f"{i / 10},{-i / 10},{10000000000000000000 if i % 2 else -3}\n" for i in range(40))
    outputs, expected = _export_and_compare(tmp_path, "x1,x2,label\n" + rows, "x1,x2,label\n" + rows, [])
    assert outputs["label"].tolist() == [str(r[0]) for r in expected]
    clash = tmp_path / "clash"
    clash.mkdir()
    (clash / "t.csv").write_text("x1,probabilities,label\n" + "".join(f"{i},{i % 3 and 'a' or 'b'},{i % 2}\n"
                                                                      for i in range(30)))
    train(load_config(ROOT / "configs" / "circles.yaml", [f"data.train={clash / 't.csv'}", f"output={clash / 'run'}",
                                                          "optimizer.epochs=2"]))
    done = runner.invoke(app, ["export", str(clash / "run"), "-o", str(clash / "m.onnx")])
    assert done.stderr == ("error: column 'probabilities' has the name of an output of the ONNX model (label, "
                           "probabilities, prediction); rename the column and train again\n")
