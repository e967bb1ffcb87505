"""A checkpoint's metadata, checked as strictly as a config: every field's type and range, and
the cross-checks between them, before anything reads it.

A checkpoint is a file a user may have been sent: its metadata is input.  ``check_meta``
refuses anything ``save_checkpoint`` could not have written with one ``ValueError`` naming
the field (``metadata training_state.learning_rate: must be a number > 0, got -1``); the
caller names the file.  Fields it does not know are refused too: a newer nnctl writes a
newer ``format_version``, which is refused before this.  The arrays are checked against the
layer sizes where they are read (checkpoint.py).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nnctl.core.losses import LOSSES
from nnctl.core.optimizers import OPTIMIZERS

MAX_UNITS = 2**31 - 1  # a layer size: more could not be allocated anyway
TASKS = ("classification", "regression")
CONFIG_SECTIONS = ("data", "model", "regularization", "optimizer", "schedule", "early_stopping", "training")
STATE_FIELDS = ("epoch", "step", "rng_state", "learning_rate", "schedule", "best_value", "best_epoch", "waited",
                "optimizer", "optimizer_numbers", "optimizer_arrays", "best_meta")


def _is_int(value: Any) -> bool:
    return type(value) is int


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


MAX_DEPTH = 12  # mappings and lists within each other: nnctl writes at most 5


def depth(value: Any) -> int:
    """How deeply lists and mappings nest in ``value`` (without recursion: any depth is safe)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, level)
            if level <= MAX_DEPTH:
                stack += [(inner, level + 1) for inner in (item.values() if isinstance(item, dict) else item)]
    return deepest


def _fail(field: str, rule: str, value: Any) -> ValueError:
    shown = repr(value)
    return ValueError(f"metadata {field}: must be {rule}, got {shown[:60] + '...' if len(shown) > 60 else shown}")


def _int(meta: dict, field: str, low: int = 0, where: str = "") -> int:
    value = meta.get(field)
    if not (_is_int(value) and value >= low):
        raise _fail(where + field, f"a whole number >= {low}", value)
    return value


def _names(meta: dict, field: str, kinds: tuple[type, ...] = (str,), where: str = "") -> list:
    value = meta.get(field)
    if not (isinstance(value, list) and value and all(type(v) in kinds for v in value)):
        raise _fail(where + field, "a non-empty list of " + ("names" if kinds == (str,) else "labels"), value)
    if len(set(value)) != len(value):
        twice = next(v for v in value if value.count(v) > 1)
        raise ValueError(f"metadata {where}{field}: {twice!r} is listed twice")
    return value


def _figures(meta: dict, field: str, where: str = "") -> None:
    value = meta.get(field)
    # Figures may be inf or nan (an MSE in the target's units can overflow): they are only shown.
    if not (isinstance(value, dict) and all(isinstance(k, str) and (v is None or type(v) in (int, float))
                                            for k, v in value.items())):
        raise _fail(where + field, "a mapping of names to numbers", value)


KNOWN = {"format_version", "nnctl_version", "layer_sizes", "activations", "loss", "task", "feature_names",
         "target_names", "classes", "preprocessing", "config", "seed", "epoch", "step", "metrics",
         "training_state", "history"}


def check_meta(meta: dict[str, Any]) -> None:
    """Every field ``save_checkpoint`` writes, as it writes them (see the module docstring)."""
    if depth(meta) > MAX_DEPTH:
        raise ValueError(f"metadata values are nested more than {MAX_DEPTH} deep; nnctl never writes that")
    unknown = sorted(set(meta) - KNOWN)
    if unknown:
        raise ValueError(f"metadata holds a field nnctl does not write: {unknown[0]!r}")
    for key in ("layer_sizes", "activations", "loss", "task", "feature_names", "target_names"):
        if key not in meta:
            raise ValueError(f"metadata lacks '{key}'")
    if not isinstance(meta.get("nnctl_version", ""), str):
        raise _fail("nnctl_version", "text", meta["nnctl_version"])
    sizes = meta["layer_sizes"]
    if not (isinstance(sizes, list) and len(sizes) >= 2 and all(_is_int(s) and 0 < s <= MAX_UNITS for s in sizes)):
        raise _fail("layer_sizes", "a list of at least 2 positive whole numbers", sizes)
    activations = meta["activations"]
    if not (isinstance(activations, list) and all(isinstance(name, str) for name in activations)):
        raise _fail("activations", "a list of names", activations)
    if len(activations) != len(sizes) - 1:
        raise ValueError(f"metadata gives {len(sizes)} layer sizes but {len(activations)} activations")
    if not (isinstance(meta["loss"], str) and meta["loss"] in LOSSES):
        raise ValueError(f"metadata names an unknown loss {meta['loss']!r}; upgrade nnctl")
    if meta["task"] not in TASKS:
        raise _fail("task", "classification or regression", meta["task"])
    _names(meta, "feature_names")
    _names(meta, "target_names")
    if meta.get("classes") is not None:
        _names(meta, "classes", (str, int))
    if meta.get("seed") is not None:
        _int(meta, "seed")
    for field in ("epoch", "step"):
        if field in meta:
            _int(meta, field)
    if "metrics" in meta:
        _figures(meta, "metrics")
    # preprocessing: Preprocessor.from_meta checks it, field by field.  The config is shown and
    # compared (--resume), never trained from: its sections must be mappings; their keys may be an
    # older nnctl's.
    config = meta.get("config")
    if config is not None:
        if not isinstance(config, dict):
            raise _fail("config", "a mapping", config)
        for section in CONFIG_SECTIONS:
            if config.get(section) is not None and not isinstance(config[section], dict):
                raise _fail(f"config.{section}", "a mapping", config[section])
    if "training_state" in meta:
        check_state(meta["training_state"], meta)
    if "history" in meta and not (isinstance(meta["history"], list)
                                  and all(isinstance(row, dict) for row in meta["history"])):
        raise _fail("history", "a list of rows", meta["history"])


def check_state(state: Any, meta: dict[str, Any]) -> None:
    """A last checkpoint's training state: what --resume goes on from."""
    where = "training_state."
    if not isinstance(state, dict):
        raise _fail("training_state", "a mapping", state)
    missing = [key for key in STATE_FIELDS if key not in state]
    if missing:
        raise ValueError(f"metadata training_state lacks '{missing[0]}'")
    epoch = _int(state, "epoch", where=where)
    _int(state, "step", where=where)
    _int(state, "waited", where=where)
    best_epoch = _int(state, "best_epoch", where=where)
    if best_epoch > epoch:
        raise ValueError(f"metadata training_state.best_epoch: {best_epoch} is after the epoch reached, {epoch}")
    rate = state.get("learning_rate")
    if not (_is_number(rate) and rate >= 0):  # a schedule may decay it to 0.0
        raise _fail(where + "learning_rate", "a number >= 0", rate)
    best = state.get("best_value")
    if not (best is None or _is_number(best) or (type(best) is float and not math.isnan(best))):
        raise _fail(where + "best_value", "a number", best)
    name = state.get("optimizer")
    if not (isinstance(name, str) and name in OPTIMIZERS):
        raise _fail(where + "optimizer", f"one of {', '.join(OPTIMIZERS)}", name)
    _figures(state, "schedule", where)
    _figures(state, "optimizer_numbers", where)
    kept = OPTIMIZERS[name].init([np.zeros(1)])  # what this optimizer keeps: arrays (lists) and numbers
    arrays = sorted(key for key, value in kept.items() if isinstance(value, list))
    if state.get("optimizer_arrays") != arrays:
        raise _fail(where + "optimizer_arrays", f"{arrays} for {name}", state.get("optimizer_arrays"))
    numbers = sorted(key for key, value in kept.items() if not isinstance(value, list))
    if sorted(state["optimizer_numbers"]) != numbers:
        raise _fail(where + "optimizer_numbers", f"the numbers {numbers} for {name}", state["optimizer_numbers"])
    if state.get("history_columns") != []:  # [] before the first epoch ends (Ctrl-C in epoch 1)
        if "history_columns" in state:
            _names(state, "history_columns", where=where)
    best_meta = state.get("best_meta")
    if best_meta is not None:
        if not isinstance(best_meta, dict):
            raise _fail(where + "best_meta", "a mapping", best_meta)
        _int(best_meta, "epoch", where=where + "best_meta.")
        _figures(best_meta, "metrics", where + "best_meta.")
    _check_generator(state.get("rng_state"))


def _check_generator(rng_state: Any) -> None:
    """The shuffling generator's state must be one NumPy's PCG64 takes."""
    ok = isinstance(rng_state, dict) and rng_state.get("bit_generator") == "PCG64"
    if ok:
        try:
            np.random.default_rng(0).bit_generator.state = rng_state
        except (TypeError, ValueError, KeyError, OverflowError):
            ok = False
    if not ok:
        raise _fail("training_state.rng_state", "a PCG64 generator's state", rng_state)
