"""A checkpoint as a file other tools read: ONNX (the whole model, preprocessing included) and
safetensors (the weights and statistics, the config in its header).

ONNX: one graph from the raw columns to the answer, as ``nnctl predict`` computes it.  Inputs:
one float32 matrix ``X`` (the feature columns in the checkpoint's order) when every feature is
numeric, else one input per column, ``[N, 1]``, float32 for numbers (NaN where missing) and
string for categories.  Inside: missing numbers filled (``Where(IsNaN(x), fill, x)``), the
missing-value indicators, each category's one-hot slots (``ai.onnx.ml.LabelEncoder`` then
``OneHot``; an unknown value fills no slot, or the ``(other)`` slot), standardisation
``(x - mean) / scale``, the layers ``A = f(A W + b)``, and the output: for classifiers
``label`` (as the training file wrote it) and ``probabilities`` (softmax or sigmoid; for a
hinge model the scores), for regression ``prediction`` in the target's own units.  Standard
ONNX (opset 13) and ai.onnx.ml (opset 2) operators only: the widest runtime support.

Only this module imports onnx and safetensors, and only when an export is asked for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from nnctl import __version__
from nnctl.checkpoint import Checkpoint
from nnctl.core.losses import LOSSES
from nnctl.core.activations import LEAKY_RELU_SLOPE
from nnctl.errors import NnctlError, OutputError
from nnctl.files import atomic_write

FORMATS = {".onnx": "onnx", ".safetensors": "safetensors"}
OUTPUT_NAMES = ("label", "probabilities", "prediction")
INT64 = np.iinfo(np.int64)
OPSET, ML_OPSET = 13, 2
INSTALL = {"onnx": "pip install 'nnctl[onnx]' (in a checkout of nnctl: pip install '.[onnx]')",
           "safetensors": "pip install 'nnctl[safetensors]' (in a checkout of nnctl: pip install '.[safetensors]')"}


def export_format(path: Path, given: str | None) -> str:
    """The format asked for, or the one the file's suffix names."""
    if given is not None:
        if given not in FORMATS.values():
            raise NnctlError(f"--format {given}: not a format nnctl exports; choose onnx or safetensors")
        return given
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        raise NnctlError(f"{path}: name the file .onnx or .safetensors, or give --format onnx|safetensors")
    return found


def export(ckpt: Checkpoint, path: Path, fmt: str, force: bool) -> None:
    """Write ``ckpt`` to ``path`` as ``fmt``, atomically; an existing file only with ``force``."""
    if path.exists() and not force:
        raise OutputError(f"{path}: exists; give --force to replace it")
    data = onnx_bytes(ckpt) if fmt == "onnx" else safetensors_bytes(ckpt)
    atomic_write(path, lambda stream: stream.write(data))


def _module(name: str):
    try:
        return __import__(name)
    except ImportError:
        raise NnctlError(f"exporting to {name} needs the optional '{name}' extra: {INSTALL[name]}") from None


# --------------------------------------------------------------------------- safetensors


def tensors_of(ckpt: Checkpoint) -> dict[str, np.ndarray]:
    """Every array under a stable name: ``layers.{i}.weight`` (fan_in, fan_out), ``layers.{i}.bias``,
    ``scaler.mean``/``scaler.scale``, the fill values (NaN: none) and the target scaling."""
    tensors = {}
    for i, layer in enumerate(ckpt.layers):
        tensors[f"layers.{i}.weight"] = np.ascontiguousarray(layer.W)
        tensors[f"layers.{i}.bias"] = np.ascontiguousarray(layer.b)
    tensors["scaler.mean"], tensors["scaler.scale"] = ckpt.scaler.mean, ckpt.scaler.scale
    numeric = ckpt.preprocessor.numeric
    if numeric:
        tensors["preprocessing.fill"] = np.array([np.nan if c.fill is None else c.fill for c in numeric])
    target = ckpt.preprocessor.target
    if target is not None:
        tensors["target.mean"], tensors["target.scale"] = np.array(target.mean), np.array(target.scale)
    return tensors


def header_of(ckpt: Checkpoint) -> dict[str, str]:
    """The safetensors header's metadata (strings only): what the tensors are and where they came from."""
    meta = ckpt.meta
    return {"format": "nnctl", "nnctl_version": __version__, "loss": meta["loss"], "task": meta["task"],
            "activations": json.dumps(meta["activations"]), "layer_sizes": json.dumps(meta["layer_sizes"]),
            "feature_names": json.dumps(meta["feature_names"]), "target_names": json.dumps(meta["target_names"]),
            "classes": json.dumps(meta.get("classes")), "preprocessing": json.dumps(ckpt.preprocessor.to_meta()),
            "config": json.dumps(meta.get("config"))}


def safetensors_bytes(ckpt: Checkpoint) -> bytes:
    _module("safetensors")
    from safetensors.numpy import save

    return save(tensors_of(ckpt), metadata=header_of(ckpt))


# --------------------------------------------------------------------------- ONNX


class _Graph:
    """Nodes and constants, named as they are added."""

    def __init__(self, onnx) -> None:
        self.onnx, self.helper = onnx, onnx.helper
        self.nodes, self.constants, self.count = [], [], 0

    def name(self, stem: str) -> str:
        self.count += 1
        return f"nnctl/{stem}_{self.count}"  # "/" keeps them apart from the column names a user gives

    def const(self, stem: str, value: np.ndarray) -> str:
        name = self.name(stem)
        self.constants.append(self.onnx.numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, kind: str, inputs: list[str], stem: str | None = None, domain: str = "", outputs: int = 1,
           name: str | None = None, **attributes: Any) -> str:
        out = name or self.name(stem or kind.lower())
        self.nodes.append(self.helper.make_node(kind, inputs, [out], domain=domain or None, **attributes))
        return out


def onnx_model(ckpt: Checkpoint):
    """The ONNX model of ``ckpt`` (see the module docstring); ``onnx.checker`` passes on it."""
    onnx = _module("onnx")
    from onnx import TensorProto, helper

    meta, pre = ckpt.meta, ckpt.preprocessor
    clash = sorted(set(pre.raw_names) & set(OUTPUT_NAMES))
    if clash:
        raise NnctlError(f"column {clash[0]!r} has the name of an output of the ONNX model ({', '.join(OUTPUT_NAMES)}); "
                         "rename the column and train again")
    dtype = ckpt.layers[0].W.dtype
    model_type = TensorProto.DOUBLE if dtype == np.float64 else TensorProto.FLOAT
    g = _Graph(onnx)
    inputs = []
    if not pre.categorical:
        inputs.append(helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", len(pre.numeric)]))
        numbers = g.op("Cast", ["X"], "numbers", to=TensorProto.DOUBLE)
    else:
        columns = []
        for column in pre.numeric:
            inputs.append(helper.make_tensor_value_info(column.name, TensorProto.FLOAT, ["N", 1]))
            columns.append(column.name)
        joined = g.op("Concat", columns, "columns", axis=1) if len(columns) > 1 else (columns[0] if columns else None)
        numbers = None if joined is None else g.op("Cast", [joined], "numbers", to=TensorProto.DOUBLE)
    # Filling, one-hot slots and standardisation in float64, as nnctl predict computes them; then
    # the model's dtype.
    blocks = []
    if numbers is not None and pre.numeric:
        fills = np.array([np.nan if c.fill is None else c.fill for c in pre.numeric], dtype=np.float64)
        missing = g.op("IsNaN", [numbers], "missing")
        blocks.append(g.op("Where", [missing, g.const("fill", fills), numbers], "filled"))
        flagged = [j for j, c in enumerate(pre.numeric) if c.indicator]
        if flagged:
            picked = g.op("Gather", [missing, g.const("flagged", np.array(flagged, dtype=np.int64))], axis=1)
            blocks.append(g.op("Cast", [picked], "indicators", to=TensorProto.DOUBLE))
    for column in pre.categorical:
        inputs.append(helper.make_tensor_value_info(column.name, TensorProto.STRING, ["N", 1]))
        blocks.append(_one_hot(g, column, pre.na_values, TensorProto))
    x = g.op("Concat", blocks, "inputs", axis=1) if len(blocks) > 1 else blocks[0]
    x = g.op("Div", [g.op("Sub", [x, g.const("mean", ckpt.scaler.mean.astype(np.float64))]),
                     g.const("scale", ckpt.scaler.scale.astype(np.float64))], "standardized")
    x = g.op("Cast", [x], "standardized", to=model_type)
    for i, layer in enumerate(ckpt.layers):
        z = g.op("Add", [g.op("MatMul", [x, g.const(f"W{i + 1}", layer.W)]), g.const(f"b{i + 1}", layer.b)],
                 f"Z{i + 1}")
        x = z if i == len(ckpt.layers) - 1 else _activation(g, layer.activation, z)
    outputs = _outputs(g, ckpt, x, TensorProto, model_type)
    graph = helper.make_graph(g.nodes, "nnctl", inputs, outputs, initializer=g.constants)
    model = helper.make_model(graph, producer_name="nnctl", producer_version=__version__,
                              opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", ML_OPSET)])
    model.ir_version = 8  # readable by onnxruntime 1.10 and later
    helper.set_model_props(model, {"nnctl_version": __version__, "config": json.dumps(meta.get("config")),
                                   "feature_names": json.dumps(meta["feature_names"]),
                                   "columns": json.dumps(list(pre.raw_names)), "loss": meta["loss"]})
    onnx.checker.check_model(model)
    return model


def onnx_bytes(ckpt: Checkpoint) -> bytes:
    return onnx_model(ckpt).SerializeToString()


def _one_hot(g: _Graph, column, na_values, TensorProto) -> str:
    """A categorical column's slots: each category its index; a missing value (an NA spelling) the
    '(missing)' slot; anything else the '(other)' slot, or no slot (an index past the last)."""
    slots = list(column.slots)
    keys = list(column.categories)
    values = list(range(len(keys)))
    nowhere = len(slots)  # OneHot leaves an index >= depth all zeros
    # A missing cell: the '(missing)' slot (right after the categories: a category may itself be
    # called "(missing)"), or no slot when training saw none (never '(other)': nnctl predict does so).
    missing = len(column.categories) if column.missing else nowhere
    for spelling in na_values:
        if spelling not in keys:
            keys.append(spelling)
            values.append(missing)
    elsewhere = len(slots) - 1 if column.other else nowhere
    flat = g.op("Reshape", [column.name, g.const("flat", np.array([-1], dtype=np.int64))])
    codes = g.op("LabelEncoder", [flat], "codes", domain="ai.onnx.ml", keys_strings=keys, values_int64s=values,
                 default_int64=elsewhere)
    hot = g.op("OneHot", [codes, g.const("depth", np.array(len(slots), dtype=np.int64)),
                          g.const("off_on", np.array([0.0, 1.0], dtype=np.float32))], "one_hot", axis=-1)
    return g.op("Cast", [hot], "slots", to=TensorProto.DOUBLE)  # 0 and 1 exactly (runtimes one-hot in float32)


def _activation(g: _Graph, name: str, z: str) -> str:
    if name == "sigmoid":
        return g.op("Sigmoid", [z])
    if name == "tanh":
        return g.op("Tanh", [z])
    if name == "relu":
        return g.op("Relu", [z])
    if name == "leaky_relu":
        return g.op("LeakyRelu", [z], alpha=LEAKY_RELU_SLOPE)
    if name == "identity":
        return z
    raise NnctlError(f"activation {name!r}: nnctl cannot write it to ONNX yet")


def _outputs(g: _Graph, ckpt: Checkpoint, z: str, TensorProto, model_type: int) -> list:
    helper = g.helper
    meta = ckpt.meta
    loss = LOSSES[meta["loss"]]
    dtype = ckpt.layers[0].W.dtype
    n_out = ckpt.layers[-1].W.shape[1]
    if meta["task"] == "regression":  # in float64, as nnctl predict takes the outputs back to the target's units
        prediction = g.op("Cast", [z], "outputs", to=TensorProto.DOUBLE)
        target = ckpt.preprocessor.target
        if target is not None:
            prediction = g.op("Add", [g.op("Mul", [prediction, g.const("target_scale", np.array(target.scale))]),
                                      g.const("target_mean", np.array(target.mean))])
        g.op("Identity", [prediction], name="prediction")
        return [helper.make_tensor_value_info("prediction", TensorProto.DOUBLE, ["N", n_out])]
    classes = meta["classes"]
    if n_out == 1:  # the sign of one unit: class 1 when z >= 0
        index = g.op("Cast", [g.op("Squeeze", [g.op("GreaterOrEqual", [z, g.const("zero", np.zeros(1, dtype))]),
                                               g.const("axis", np.array([1], dtype=np.int64))])],
                     "index", to=TensorProto.INT64)
    else:
        index = g.op("ArgMax", [z], "index", axis=1, keepdims=0)
    numbers = all(isinstance(c, int) and INT64.min <= c <= INT64.max for c in classes)  # else: labels as text
    label_type = TensorProto.INT64 if numbers else TensorProto.STRING
    labels = {"values_int64s": [int(c) for c in classes]} if numbers else {"values_strings": [str(c) for c in classes]}
    defaults = {"default_int64": -1} if numbers else {"default_string": ""}
    g.op("LabelEncoder", [index], domain="ai.onnx.ml", name="label", keys_int64s=list(range(len(classes))),
         **labels, **defaults)
    if loss.output_activation == "softmax":
        g.op("Softmax", [z], name="probabilities", axis=1)
    elif loss.output_activation == "sigmoid":
        p = g.op("Sigmoid", [z], "p")
        g.op("Concat", [g.op("Sub", [g.const("one", np.ones(1, dtype)), p]), p], name="probabilities", axis=1)
    else:  # hinge: scores, not probabilities
        g.op("Identity", [z], name="probabilities")
    width = len(classes) if loss.output_activation in ("softmax", "sigmoid") else n_out
    return [helper.make_tensor_value_info("label", label_type, ["N"]),
            helper.make_tensor_value_info("probabilities", model_type, ["N", width])]
