"""What a checkpoint holds: the architecture, its parameters, weight statistics and metadata.

No printing: ``inspect_checkpoint`` returns plain data that ``views.inspect``
draws and ``inspection_to_dict`` turns into JSON.

A layer l maps ``inputs`` units plus one bias unit (a constant 1) to
``outputs`` units, so it holds ``(inputs + 1) x outputs`` parameters: the
weights ``W: (inputs, outputs)`` and the bias unit's weights ``b: (outputs,)``.
Statistics are over the float64 values of each array; ``std`` is the
population standard deviation (ddof=0).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnctl.checkpoint import HISTORY_ARRAY, checkpoint_path, load_checkpoint
from nnctl.core.losses import LOSSES
from nnctl.resume import HISTORY_KEY, STATE_KEY

SMALL = 1e-3  # |w| below this counts as "near zero"

# The training-state numbers of a last.npz worth showing (the generator state and the
# best epoch's metadata are for --resume, not for reading).
STATE_SHOWN = ("epoch", "step", "learning_rate", "optimizer", "best_epoch", "best_value", "waited")


@dataclass(frozen=True)
class ArrayStats:
    """Summary of one weight matrix or bias vector."""

    count: int
    mean: float
    std: float  # population standard deviation (ddof=0)
    min: float
    max: float
    zeros: float  # share of entries exactly 0
    small: float  # share of entries with |w| < SMALL (exact zeros included)


@dataclass(frozen=True)
class LayerInfo:
    """Layer ``index`` (1-based): ``inputs`` units + a bias unit -> ``outputs`` units."""

    index: int
    inputs: int
    outputs: int
    activation: str
    weights: ArrayStats  # W: (inputs, outputs)
    biases: ArrayStats  # b: (outputs,), the bias unit's weights
    dtype: str
    dropout: float = 0.0  # share of this hidden layer's outputs dropped in each training step (never at prediction)

    @property
    def parameters(self) -> int:
        """(inputs + 1) x outputs: the weights and the bias unit's weights."""
        return (self.inputs + 1) * self.outputs


@dataclass(frozen=True)
class Inspection:
    path: Path  # the checkpoint file read (a run directory's best.npz)
    layer_sizes: list[int]  # [inputs, *hidden, outputs]
    activations: list[str]  # one per layer, the output activation last
    layers: list[LayerInfo]
    loss: str
    task: str
    feature_names: list[str]
    target_names: list[str]
    classes: list | None
    output_units: list[str]  # what each output unit stands for
    scaler_mean: list[float]  # per feature, as standardised at training time
    scaler_scale: list[float]
    epoch: int | None
    metrics: dict[str, float]
    seed: int | None
    nnctl_version: str | None
    format_version: int
    config: dict[str, Any]
    training_state: dict[str, Any] | None  # last.npz only: epoch, step, learning rate, ...
    inputs: str = ""  # what the inputs are made of: '3 numeric + plan (3) = 6 inputs'
    preprocessing: dict[str, Any] | None = None  # fill values, categories, target scaling (Preprocessor.to_meta)

    @property
    def parameters(self) -> int:
        return sum(layer.parameters for layer in self.layers)


def array_stats(values: np.ndarray) -> ArrayStats:
    """Mean, std (ddof=0), min, max and the shares of exact zeros and of |v| < SMALL."""
    v = np.asarray(values, dtype=np.float64).ravel()
    return ArrayStats(
        count=int(v.size),
        mean=float(np.mean(v)),
        std=float(np.std(v)),
        min=float(np.min(v)),
        max=float(np.max(v)),
        zeros=float(np.mean(v == 0.0)),
        small=float(np.mean(np.abs(v) < SMALL)),
    )


def output_units(loss_name: str, classes: list | None, target_names: list[str], n_outputs: int) -> list[str]:
    """Names of the output units: the class of each unit, the class a single unit scores, or the targets."""
    if classes is None:
        return list(target_names)
    if n_outputs == 1:  # binary cross-entropy or two-class hinge: one unit for the second class
        score = "P" if LOSSES[loss_name].probabilities is not None else "score"
        return [f"{score}({classes[1]})"]
    return [str(label) for label in classes]


def dropout_rates(config: Any, hidden_layers: int) -> list[float]:
    """p per hidden layer from a checkpoint's stored config (``model.dropout``: one rate or one per
    layer; none in a config from before dropout)."""
    model = config.get("model") if isinstance(config, dict) else None
    rate = model.get("dropout", 0.0) if isinstance(model, dict) else 0.0
    if isinstance(rate, list) and len(rate) == hidden_layers and all(isinstance(p, (int, float)) for p in rate):
        return [float(p) for p in rate]
    return [float(rate) if isinstance(rate, (int, float)) and not isinstance(rate, bool) else 0.0] * hidden_layers


def inspect_checkpoint(path: str | Path) -> Inspection:
    """Read a checkpoint file (or a run directory's best checkpoint) and describe it."""
    ckpt = load_checkpoint(path)
    meta = ckpt.meta
    rates = dropout_rates(meta.get("config"), len(ckpt.layers) - 1) + [0.0]
    layers = [
        LayerInfo(index=i + 1, inputs=layer.W.shape[0], outputs=layer.W.shape[1], activation=layer.activation,
                  weights=array_stats(layer.W), biases=array_stats(layer.b), dtype=layer.W.dtype.name,
                  dropout=rates[i])
        for i, layer in enumerate(ckpt.layers)
    ]
    state = meta.get(STATE_KEY)
    training_state = None
    if isinstance(state, dict):
        training_state = {key: state.get(key) for key in STATE_SHOWN if key in state}
        if HISTORY_ARRAY in ckpt.state_arrays:
            training_state["history_rows"] = len(ckpt.state_arrays[HISTORY_ARRAY])
        elif isinstance(meta.get(HISTORY_KEY), list):  # a checkpoint from before the history array
            training_state["history_rows"] = len(meta[HISTORY_KEY])
    sizes = list(meta["layer_sizes"])
    return Inspection(
        path=checkpoint_path(path),
        layer_sizes=sizes,
        activations=list(meta["activations"]),
        layers=layers,
        loss=meta["loss"],
        task=meta["task"],
        feature_names=list(meta["feature_names"]),
        target_names=list(meta["target_names"]),
        classes=meta.get("classes"),
        output_units=output_units(meta["loss"], meta.get("classes"), meta["target_names"], sizes[-1]),
        scaler_mean=[float(v) for v in ckpt.scaler.mean],
        scaler_scale=[float(v) for v in ckpt.scaler.scale],
        epoch=meta.get("epoch"),
        metrics=dict(meta.get("metrics") or {}),
        seed=meta.get("seed"),
        nnctl_version=meta.get("nnctl_version"),
        format_version=meta["format_version"],
        config=dict(meta.get("config") or {}),
        training_state=training_state,
        inputs=ckpt.preprocessor.summary(),
        preprocessing=ckpt.preprocessor.to_meta(),
    )


def inspection_to_dict(inspection: Inspection) -> dict[str, Any]:
    """The inspection as plain JSON-ready data (for ``inspect --json``)."""
    document = asdict(inspection)
    document["path"] = str(inspection.path)
    document["parameters"] = inspection.parameters
    document["layers"] = [{**asdict(layer), "parameters": layer.parameters} for layer in inspection.layers]
    return document
