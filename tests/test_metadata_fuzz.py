"""Checkpoint metadata is input: every field of a real checkpoint's metadata, mutated in type,
nesting and range, is refused with one clean error naming the file, or leaves the result as it was
(the same predictions; inspect and --resume still work).  Never a traceback (issue: checked metadata).

The checkpoints are real ones (a run of configs/circles.yaml with a hidden layer, best.npz and
last.npz); a mutation rewrites only the metadata entry, keeping every array."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from nnctl.checkpoint import load_checkpoint
from nnctl.config import load_config
from nnctl.errors import NnctlError
from nnctl.inspection import inspect_checkpoint, inspection_to_dict
from nnctl.predict import predict_file
from nnctl.resume import load_resumable
from nnctl.run import train

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "datasets" / "circles.csv"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fuzz") / "run"
    train(load_config(ROOT / "configs" / "circles.yaml", [f"output={out}", "optimizer.epochs=3",
                                                           "optimizer.name=adam", "optimizer.learning_rate=0.05"]))
    return out


def _metas(run_dir: Path) -> dict[str, dict]:
    return {name: json.loads(str(np.load(run_dir / name, allow_pickle=False)["meta"]))
            for name in ("best.npz", "last.npz")}


def _paths(meta: dict) -> list[tuple[str, ...]]:
    """Every field, and every field one level down in the mappings (training_state, config, ...)."""
    paths = []
    for key, value in meta.items():
        paths.append((key,))
        if isinstance(value, dict):
            paths += [(key, inner) for inner in value]
    return sorted(paths)


def _nested(depth: int):
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.sampled_from([-1, 0, 10**9]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12), st.just(""), st.just([]), st.just({}),
    st.lists(st.integers(-3, 3), max_size=4), st.lists(st.text(max_size=3), max_size=4),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=3), st.just(["x1", "x1"]), st.just([0, 0]),
    st.builds(_nested, st.sampled_from([50, 5000])),
)


def _mutate(meta: dict, path: tuple[str, ...], how: str, value: object) -> dict:
    meta = json.loads(json.dumps(meta))
    holder = meta
    for key in path[:-1]:
        holder = holder[key]
    if how == "delete":
        del holder[path[-1]]
    elif how == "add":
        holder[path[-1] + "_extra"] = value
    else:
        holder[path[-1]] = value
    return meta


def _rewrite(source: Path, target: Path, meta: dict) -> None:
    with np.load(source, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    try:
        arrays["meta"] = np.array(json.dumps(meta))
    except RecursionError:  # too deep even to write: as nnctl reads it, that is the refusal
        arrays["meta"] = np.array("[" * 100_000)
    with open(target, "wb") as stream:
        np.savez(stream, **arrays)


@pytest.fixture(scope="module")
def original(run_dir: Path):
    return predict_file(run_dir / "best.npz", DATA, True, ()).rows


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
          deadline=None)
@given(data=st.data())
def test_a_mutated_field_is_refused_or_changes_nothing(run_dir, original, tmp_path, data):
    metas = _metas(run_dir)
    name = data.draw(st.sampled_from(sorted(metas)))
    path = data.draw(st.sampled_from(_paths(metas[name])))
    how = data.draw(st.sampled_from(["replace", "replace", "replace", "delete", "add"]))
    value = data.draw(VALUES)
    case = tmp_path / f"case-{len(list(tmp_path.iterdir()))}"  # each example its own copy of the run
    shutil.copytree(run_dir, case)
    _rewrite(run_dir / name, case / name, _mutate(metas[name], path, how, value))
    try:
        load_checkpoint(case / name)
    except NnctlError as error:  # refused: one line naming the file
        event("refused")
        message = str(error)
        assert message.startswith(str(case / name)) and "\n" not in message, message
        return
    # Accepted: everything that reads a checkpoint works, or refuses cleanly; predictions are unchanged.
    event(f"accepted: {name} {'.'.join(path)} ({how})")
    try:
        shown = inspection_to_dict(inspect_checkpoint(case / name))
        json.dumps(shown)
    except NnctlError:
        pass
    if name == "best.npz":
        try:
            rows = predict_file(case / name, DATA, True, ()).rows
        except NnctlError:
            rows = None
        assert rows is None or rows == original, (path, how)
    else:
        config = load_config(ROOT / "configs" / "circles.yaml", [f"output={case}", "optimizer.epochs=4",
                                                                 "optimizer.name=adam", "optimizer.learning_rate=0.05"])
        try:
            resumed = load_resumable(case, config, force=False)
            train(config, resume_from=resumed)
        except NnctlError:
            pass


@pytest.mark.parametrize("path, value", [(("nnctl_version",), "9.9.9"), (("metrics", "train_loss"), 1.5),
                                         (("config", "output"), "elsewhere")])
def test_fields_that_do_not_change_predictions_may_change(run_dir, original, tmp_path, path, value):
    """The accepted side of the fuzz, held by name: these fields describe the run; predictions stay."""
    meta = _metas(run_dir)["best.npz"]
    shutil.copytree(run_dir, tmp_path / "run")
    _rewrite(run_dir / "best.npz", tmp_path / "run" / "best.npz", _mutate(meta, path, "replace", value))
    assert predict_file(tmp_path / "run" / "best.npz", DATA, True, ()).rows == original


@pytest.mark.parametrize("path, value, message", [
    (("feature_names",), ["x1", "x1"], "metadata feature_names: 'x1' is listed twice"),
    (("classes",), [0, 0], "metadata classes: 0 is listed twice"),
    (("epoch",), -1, "metadata epoch: must be a whole number >= 0, got -1"),
    (("training_state", "learning_rate"), -0.5, "metadata training_state.learning_rate: must be a number >= 0, got -0.5"),
    (("training_state", "epoch"), -3, "metadata training_state.epoch: must be a whole number >= 0, got -3"),
    (("training_state", "rng_state"), {"bit_generator": "PCG64"}, "metadata training_state.rng_state: must be a "
                                                                  "PCG64 generator's state"),
    (("layer_sizes",), _nested(20), "metadata values are nested more than 12 deep"),
])
def test_the_lies_the_issue_names_are_refused_naming_the_field(run_dir, tmp_path, path, value, message):
    name = "last.npz" if path[0] == "training_state" else "best.npz"
    meta = _metas(run_dir)[name]
    _rewrite(run_dir / name, tmp_path / name, _mutate(meta, path, "replace", value))
    with pytest.raises(NnctlError) as refused:
        load_checkpoint(tmp_path / name)
    assert str(refused.value).startswith(f"{tmp_path / name}: {message}")
