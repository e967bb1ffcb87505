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

from nnctl.checkpoint import LAST, STATE_PREFIX, Checkpoint, load_checkpoint
from nnctl.config import Config, config_to_dict
from nnctl.core.training import TrainingState
from nnctl.errors import CheckpointError, ConfigError

STATE_KEY, HISTORY_KEY = "training_state", "history"
GUARDED = ("data", "model", "loss")  # what --resume refuses to see changed without --force


def encode_state(state: TrainingState) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(JSON-ready numbers, optimizer arrays) of a training state; the arrays are copies."""
    numbers = {key: value for key, value in state.optimizer.items() if not isinstance(value, list)}
    arrays = {f"{STATE_PREFIX}{key}_{i}": array.copy()
              for key, value in state.optimizer.items() if isinstance(value, list)
              for i, array in enumerate(value)}
    meta = {
        "epoch": state.epoch, "step": state.step, "rng_state": state.rng_state,
        "learning_rate": state.learning_rate, "schedule": dict(state.schedule),
        "best_value": state.best_value, "best_epoch": state.best_epoch, "waited": state.waited,
        "optimizer_numbers": numbers, "optimizer_arrays": sorted({k for k, v in state.optimizer.items()
                                                                  if isinstance(v, list)}),
    }
    return meta, arrays


def decode_state(ckpt: Checkpoint, where: Path) -> TrainingState:
    """The training state a ``last`` checkpoint holds."""
    meta = ckpt.meta.get(STATE_KEY)
    if not isinstance(meta, dict):
        raise CheckpointError(f"{where}: holds no training state to go on from")
    optimizer: dict[str, Any] = dict(meta["optimizer_numbers"])
    for key in meta["optimizer_arrays"]:
        names = sorted((n for n in ckpt.state_arrays if n.startswith(f"{STATE_PREFIX}{key}_")),
                       key=lambda n: int(n.rsplit("_", 1)[1]))
        optimizer[key] = [ckpt.state_arrays[n].copy() for n in names]
    return TrainingState(
        epoch=meta["epoch"], step=meta["step"], rng_state=meta["rng_state"], optimizer=optimizer,
        learning_rate=meta["learning_rate"], schedule=dict(meta["schedule"]), best_value=meta["best_value"],
        best_epoch=meta["best_epoch"], waited=meta["waited"],
    )


def load_resumable(run_dir: str | Path, config: Config, force: bool) -> Checkpoint:
    """The ``last`` checkpoint of ``run_dir``, after checking the config still fits it.

    A changed data, model or loss section is refused, naming what changed,
    unless ``force``; the optimizer section (more epochs, another rate) may change.
    """
    run_dir = Path(run_dir)
    path = run_dir / LAST if run_dir.is_dir() else run_dir
    ckpt = load_checkpoint(path)
    changes = changed_keys(ckpt.meta.get("config") or {}, config_to_dict(config))
    if changes and not force:
        raise ConfigError(f"--resume {run_dir}: the config changed since that run ({'; '.join(changes)}); "
                          "resume anyway with --force, or train afresh with another output")
    return ckpt


def changed_keys(saved: dict, now: dict) -> list[str]:
    """'model.hidden: [8] -> [16]' for every guarded key whose value differs."""
    out = []
    for section in GUARDED:
        old, new = saved.get(section), now.get(section)
        if isinstance(new, dict):
            old = old if isinstance(old, dict) else {}
            out += [f"{section}.{key}: {old.get(key)!r} -> {value!r}"
                    for key, value in new.items() if old.get(key) != value]
        elif old != new:
            out.append(f"{section}: {old!r} -> {new!r}")
    return out
