"""Stopping and going on: the training state in a checkpoint, and what may change on --resume.

The state of ``core.training.TrainingState`` goes into the ``last`` checkpoint:
its numbers in the JSON metadata (the generator's state is JSON already), the
optimizer's arrays as ``state_<name>_<i>`` arrays.  Going on from it gives the
same weights, bit for bit, as a run that never stopped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nnctl.checkpoint import HISTORY_ARRAY, LAST, STATE_PREFIX, Checkpoint, load_checkpoint
from nnctl.config import Config, config_from_dict, config_to_dict
from nnctl.core.model import Layer
from nnctl.core.optimizers import OPTIMIZERS
from nnctl.core.training import TrainingState, parameters
from nnctl.errors import CheckpointError, ConfigError

STATE_KEY, HISTORY_KEY = "training_state", "history"  # HISTORY_KEY: where checkpoints before 0.2 kept the history
HISTORY_COLUMNS = "history_columns"  # in the training state: the names of HISTORY_ARRAY's columns
INT_COLUMNS = ("epoch",)
_DEFAULTS = config_from_dict({"data": {"train": "x.csv", "target": "y"}})  # every key at its default
GUARDED = ("data", "model", "loss")  # what --resume refuses to see changed without --force
FREE = frozenset({"data.test"})  # ... but for these: they do not change training


BEST_PREFIX = "best_"  # the best epoch's weights ride along in last.npz as state_best_W0, ...


def encode_state(state: TrainingState, best_layers: list[Layer], best_meta: dict | None
                 ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(JSON-ready numbers, arrays) of a training state and of the best epoch so far; the
    arrays are copies."""
    numbers = {key: value for key, value in state.optimizer.items() if not isinstance(value, list)}
    arrays = {f"{STATE_PREFIX}{key}_{i}": array.copy()
              for key, value in state.optimizer.items() if isinstance(value, list)
              for i, array in enumerate(value)}
    if best_meta is not None:
        for i, layer in enumerate(best_layers):
            arrays[f"{STATE_PREFIX}{BEST_PREFIX}W{i}"] = layer.W.copy()
            arrays[f"{STATE_PREFIX}{BEST_PREFIX}b{i}"] = layer.b.copy()
    meta = {
        "epoch": state.epoch, "step": state.step, "rng_state": state.rng_state,
        "learning_rate": state.learning_rate, "schedule": dict(state.schedule),
        "best_value": state.best_value, "best_epoch": state.best_epoch, "waited": state.waited,
        "optimizer": state.optimizer_name, "optimizer_numbers": numbers,
        "optimizer_arrays": sorted(k for k, v in state.optimizer.items() if isinstance(v, list)),
        "best_meta": best_meta,
    }
    return meta, arrays


def decode_state(ckpt: Checkpoint, layers: list[Layer]) -> tuple[TrainingState, list[Layer], dict | None]:
    """The training state a ``last`` checkpoint holds, and its best epoch's weights and metadata."""
    meta = ckpt.meta[STATE_KEY]
    optimizer: dict[str, Any] = dict(meta["optimizer_numbers"])
    shapes = [p.shape for p in parameters(layers)]
    for key in meta["optimizer_arrays"]:
        names = [f"{STATE_PREFIX}{key}_{i}" for i in range(len(shapes))]
        if any(n not in ckpt.state_arrays or ckpt.state_arrays[n].shape != shape for n, shape in zip(names, shapes)):
            raise CheckpointError(f"the last checkpoint's {key} arrays do not fit the network "
                                  f"({', '.join(map(str, shapes))})")
        optimizer[key] = [ckpt.state_arrays[n].copy() for n in names]
    state = TrainingState(
        epoch=meta["epoch"], step=meta["step"], rng_state=meta["rng_state"], optimizer=optimizer,
        learning_rate=meta["learning_rate"], schedule=dict(meta["schedule"]), best_value=meta["best_value"],
        best_epoch=meta["best_epoch"], waited=meta["waited"], optimizer_name=meta["optimizer"],
    )
    best = [Layer(ckpt.state_arrays.get(f"{STATE_PREFIX}{BEST_PREFIX}W{i}", layer.W),
                  ckpt.state_arrays.get(f"{STATE_PREFIX}{BEST_PREFIX}b{i}", layer.b), layer.activation)
            for i, layer in enumerate(layers)]
    return state, best, meta.get("best_meta")


def encode_history(rows: list[dict[str, Any]]) -> tuple[list[str], np.ndarray]:
    """The history rows as column names and one float64 array, a row per epoch (NaN: no value):
    8 bytes a figure, where JSON in the metadata took about 80."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    values = [[np.nan if row.get(c) is None else row[c] for c in columns] for row in rows]
    return columns, np.array(values, dtype=np.float64).reshape(len(rows), len(columns))


def decode_history(ckpt: Checkpoint, where: str = "the last checkpoint") -> list[dict[str, Any]]:
    """The history rows a ``last`` checkpoint holds (as ``encode_history`` wrote them, or, in a
    checkpoint from before it, as JSON in the metadata)."""
    if HISTORY_ARRAY not in ckpt.state_arrays:
        rows = ckpt.meta.get(HISTORY_KEY) or []
        if not (isinstance(rows, list) and all(isinstance(row, dict) for row in rows)):
            raise CheckpointError(f"{where}: metadata history is not a list of rows")
        return list(rows)
    columns, values = (ckpt.meta.get(STATE_KEY) or {}).get(HISTORY_COLUMNS), ckpt.state_arrays[HISTORY_ARRAY]
    if not (isinstance(columns, list) and all(isinstance(c, str) for c in columns) and len(set(columns)) == len(columns)
            and values.ndim == 2 and values.shape[1] == len(columns)):
        raise CheckpointError(f"{where}: array {HISTORY_ARRAY} does not fit the metadata's {HISTORY_COLUMNS}")
    return [{c: int(v) if c in INT_COLUMNS else v for c, v in zip(columns, row) if v == v} for row in values.tolist()]


def load_resumable(run_dir: str | Path, config: Config, force: bool) -> Checkpoint:
    """The ``last`` checkpoint of ``run_dir``, after checking the config still fits it.

    Refused, naming what changed, unless ``force``: a changed data, model or loss
    section, another split seed, another optimizer (``force`` starts its state
    afresh), and, in the middle of an epoch, another batch size or shuffling
    (``force`` starts that epoch again).  More epochs, another learning rate or
    schedule may change freely.
    """
    run_dir = Path(run_dir)
    path = run_dir / LAST if run_dir.is_dir() else run_dir
    ckpt = load_checkpoint(path)
    state = ckpt.meta.get(STATE_KEY)
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: holds no training state to go on from")
    saved, now = with_earlier_defaults(ckpt.meta.get("config") or {}, ckpt.meta), config_to_dict(config)
    changes = changed_keys(saved, now)
    saved_split = (saved.get("data") or {}).get("split_seed")
    saved_split = saved.get("seed") if saved_split is None else saved_split
    if saved_split != config.split_seed:
        changes.append(f"split seed (seed / data.split_seed): {saved_split!r} -> {config.split_seed!r}")
    if state["optimizer"] != config.optimizer.name:
        changes.append(f"optimizer.name: {state['optimizer']!r} -> {config.optimizer.name!r}")
    mid_epoch = state["step"] > 0
    for key in ("batch_size", "shuffle"):
        if mid_epoch and (saved.get("optimizer") or {}).get(key) != now["optimizer"][key]:
            changes.append(f"optimizer.{key} in the middle of epoch {state['epoch'] + 1}: "
                           f"{saved['optimizer'].get(key)!r} -> {now['optimizer'][key]!r}")
    if changes and not force:
        raise ConfigError(f"--resume {run_dir}: the config changed since that run ({'; '.join(changes)}); "
                          "resume anyway with --force, or train afresh with another output")
    if state["epoch"] >= config.optimizer.epochs:
        raise ConfigError(f"--resume {run_dir}: that run already did {state['epoch']} epochs and "
                          f"optimizer.epochs is {config.optimizer.epochs}; raise it "
                          f"(--set optimizer.epochs={2 * state['epoch']}) to train on")
    return ckpt


def with_earlier_defaults(saved: dict, meta: dict) -> dict:
    """A saved config with the keys that came after it, as its run behaved: the model keys
    (model.dropout) and the data preparation keys at their defaults (which change nothing: no
    dropout; on the all-numeric files it could read, no preparation), and a regression run's
    targets trained as they were, not z-scored."""
    model = saved.get("model")
    if isinstance(model, dict):
        saved = {**saved, "model": {**config_to_dict(_DEFAULTS)["model"], **model}}
    data = saved.get("data")
    if not isinstance(data, dict) or "standardize_target" in data:
        return saved
    earlier = {key: value for key, value in config_to_dict(_DEFAULTS)["data"].items() if key not in data}
    earlier["standardize_target"] = False if meta.get("task") == "regression" else "auto"
    return {**saved, "data": {**data, **earlier}}


def changed_keys(saved: dict, now: dict) -> list[str]:
    """'model.hidden: [8] -> [16]' for every guarded key whose value differs."""
    out = []
    for section in GUARDED:
        old, new = saved.get(section), now.get(section)
        if isinstance(new, dict):
            old = old if isinstance(old, dict) else {}
            out += [f"{section}.{key}: {old.get(key)!r} -> {value!r}"
                    for key, value in new.items() if old.get(key) != value and f"{section}.{key}" not in FREE]
        elif old != new:
            out.append(f"{section}: {old!r} -> {new!r}")
    return out


def adapt_state(state: TrainingState, ckpt: Checkpoint, config: Config, layers: list[Layer]) -> TrainingState:
    """After a forced resume: another optimizer starts with fresh state, and another batch
    size or shuffling starts the interrupted epoch again (same order of epochs after it)."""
    if state.optimizer_name != config.optimizer.name:
        state.optimizer = OPTIMIZERS[config.optimizer.name].init(parameters(layers))
        state.optimizer_name = config.optimizer.name
    saved = (ckpt.meta.get("config") or {}).get("optimizer") or {}
    if state.step and (saved.get("batch_size") != config.optimizer.batch_size
                       or saved.get("shuffle") != config.optimizer.shuffle):
        state.step = 0
    return state
