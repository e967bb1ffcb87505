"""Checkpoints: read back bit for bit, written atomically, and every damaged or
foreign file refused with one ``CheckpointError`` that names the file."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nnctl import __version__
from nnctl.checkpoint import BEST, FORMAT_VERSION, checkpoint_path, load_checkpoint, save_checkpoint
from nnctl.cli import app
from nnctl.core.model import init_network
from nnctl.prep.transforms import Scaler
from nnctl.errors import CheckpointError

FEATURES = ["x1", "x2", "x3"]
WEIGHT_NAMES = ["W0", "b0", "W1", "b1", "W2", "b2"]
ALL_NAMES = {*WEIGHT_NAMES, "scaler_mean", "scaler_scale", "meta"}


def _meta() -> dict:
    """Shaped like ``nnctl.run.checkpoint_meta`` for a 3-feature, 2-class model."""
    return {
        "loss": "softmax_cross_entropy",
        "task": "classification",
        "feature_names": list(FEATURES),
        "target_names": ["label"],
        "classes": ["no", "yes"],
        "config": {
            "data": {"train": "/data/train.csv", "target": "label", "features": "all",
                     "validation": 0.2, "standardize": True},
            "model": {"hidden": [4, 3], "activation": "tanh", "init": "auto", "dtype": "float32"},
            "loss": "softmax_cross_entropy",
            "regularization": {"l1": 0.0, "l2": 0.0001},
            "optimizer": {"name": "sgd", "learning_rate": 0.1, "batch_size": 32, "epochs": 5, "shuffle": True},
            "seed": 7,
            "output": "/runs/x",
        },
        "epoch": 5,
        "metrics": {"train_loss": 0.123456789012345, "train_accuracy": 0.96875, "val_loss": 1 / 3},
        "seed": 7,
    }


def _network(dtype=np.float32):
    """3 inputs -> 4 tanh -> 3 tanh -> 2 softmax outputs, biases made non-zero."""
    rng = np.random.default_rng(42)
    layers = init_network([3, 4, 3, 2], ["tanh", "tanh"], "softmax", rng, dtype=np.dtype(dtype))
    for layer in layers:
        layer.b[...] = rng.normal(size=layer.b.shape)
    scaler = Scaler.fit(rng.normal(3.0, 2.0, size=(50, 3)))
    return layers, scaler


@pytest.fixture
def saved(tmp_path) -> Path:
    """A valid float32 checkpoint on disk."""
    path = tmp_path / "model.npz"
    layers, scaler = _network()
    save_checkpoint(path, layers, scaler, _meta())
    return path


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def _rewrite(src: Path, dst: Path, change) -> Path:
    """Copy a checkpoint's arrays, let ``change(arrays, meta)`` edit them, save with plain np.savez."""
    arrays = _arrays(src)
    meta = json.loads(str(arrays["meta"]))
    change(arrays, meta)
    if "meta" in arrays:
        arrays["meta"] = np.array(json.dumps(meta))
    np.savez(dst, **arrays)
    return dst


def _refused(path: Path, *fragments: str) -> str:
    """Load must fail with a CheckpointError naming the file and holding each fragment."""
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    message = str(caught.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_is_bit_identical(tmp_path, dtype):
    layers, scaler = _network(dtype)
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, layers, scaler, _meta())
    loaded = load_checkpoint(path)

    assert len(loaded.layers) == 3
    for original, back in zip(layers, loaded.layers):
        assert back.W.dtype == original.W.dtype == np.dtype(dtype)
        assert back.b.dtype == original.b.dtype == np.dtype(dtype)
        assert np.array_equal(back.W, original.W) and np.array_equal(back.b, original.b)
        assert back.activation == original.activation
    assert loaded.scaler.mean.dtype == loaded.scaler.scale.dtype == np.float64
    assert np.array_equal(loaded.scaler.mean, scaler.mean)
    assert np.array_equal(loaded.scaler.scale, scaler.scale)

    for key, value in _meta().items():
        assert loaded.meta[key] == value, key
    assert loaded.meta["metrics"]["val_loss"] == 1 / 3  # floats survive JSON exactly
    assert loaded.meta["layer_sizes"] == [3, 4, 3, 2]
    assert loaded.meta["activations"] == ["tanh", "tanh", "softmax"]
    assert loaded.meta["format_version"] == FORMAT_VERSION
    assert loaded.meta["nnctl_version"] == __version__


def test_file_is_plain_npz_with_named_arrays_and_json_meta(saved):
    layers, scaler = _network()
    with np.load(saved, allow_pickle=False) as archive:
        assert set(archive.files) == ALL_NAMES
        for index, layer in enumerate(layers):
            assert np.array_equal(archive[f"W{index}"], layer.W)
            assert np.array_equal(archive[f"b{index}"], layer.b)
        assert np.array_equal(archive["scaler_mean"], scaler.mean)
        assert np.array_equal(archive["scaler_scale"], scaler.scale)
        meta_entry = archive["meta"]
        assert meta_entry.dtype.kind == "U" and meta_entry.ndim == 0
    meta = json.loads(str(meta_entry))
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["nnctl_version"] == __version__
    assert meta["feature_names"] == FEATURES
    # Every member is a .npy file: nothing else hides in the zip.
    with zipfile.ZipFile(saved) as archive:
        assert sorted(archive.namelist()) == sorted(f"{name}.npy" for name in ALL_NAMES)


def test_run_directory_resolves_to_its_best_checkpoint(tmp_path):
    run = tmp_path / "run"
    layers, scaler = _network()
    save_checkpoint(run / BEST, layers, scaler, _meta())  # creates the directory
    other_layers, _ = _network(np.float64)
    save_checkpoint(run / "last.npz", other_layers, scaler, {**_meta(), "epoch": 9})

    assert checkpoint_path(run) == run / "best.npz"
    assert checkpoint_path(run / "last.npz") == run / "last.npz"
    assert checkpoint_path(tmp_path / "missing.npz") == tmp_path / "missing.npz"
    loaded = load_checkpoint(run)
    assert loaded.meta["epoch"] == 5
    assert loaded.layers[0].W.dtype == np.float32
    assert np.array_equal(loaded.layers[0].W, layers[0].W)


def test_run_directory_without_best_checkpoint_is_refused(tmp_path):
    (tmp_path / "empty_run").mkdir()
    _refused(tmp_path / "empty_run" / "best.npz", "no such checkpoint file")


# --------------------------------------------------------------------------- atomic writes


@pytest.mark.parametrize("failure", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_failed_write_keeps_previous_checkpoint_and_leaves_no_temporary(tmp_path, monkeypatch, failure):
    path = tmp_path / BEST
    layers, scaler = _network()
    save_checkpoint(path, layers, scaler, _meta())
    before = path.read_bytes()

    temporaries: list[str] = []

    def half_written(stream, **arrays):
        assert set(arrays) == ALL_NAMES
        temporaries.extend(str(tmp_path / n) for n in os.listdir(tmp_path) if n != BEST)
        stream.write(b"PK\x03\x04" + b"\x00" * 500)  # the start of a zip, then the writer dies
        stream.flush()
        assert path.read_bytes() == before  # the final name is untouched while writing
        raise failure

    monkeypatch.setattr(np, "savez", half_written)
    new_layers, _ = _network(np.float64)
    with pytest.raises(type(failure)):
        save_checkpoint(path, new_layers, scaler, {**_meta(), "epoch": 99})

    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == [BEST]
    assert len(temporaries) == 1
    name = Path(temporaries[0]).name
    assert name.startswith(".best.npz.") and name.endswith(".tmp")
    assert not name.endswith(".npz")
    assert Path(temporaries[0]).parent == tmp_path
    monkeypatch.undo()
    assert load_checkpoint(path).meta["epoch"] == 5


def test_successful_overwrite_replaces_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / BEST
    layers, scaler = _network()
    save_checkpoint(path, layers, scaler, _meta())
    save_checkpoint(path, layers, scaler, {**_meta(), "epoch": 6})
    assert sorted(os.listdir(tmp_path)) == [BEST]
    assert load_checkpoint(path).meta["epoch"] == 6


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640)])
def test_file_mode_follows_umask_not_mkstemp(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        layers, scaler = _network()
        save_checkpoint(tmp_path / BEST, layers, scaler, _meta())
    finally:
        os.umask(previous)
    assert (tmp_path / BEST).stat().st_mode & 0o777 == mode


# --------------------------------------------------------------------------- refusals: the file


def test_missing_file_is_refused(tmp_path):
    _refused(tmp_path / "nowhere.npz", "no such checkpoint file")


def test_random_bytes_are_refused(tmp_path):
    path = tmp_path / "noise.npz"
    path.write_bytes(np.random.default_rng(3).bytes(2000))
    _refused(path, "not a readable nnctl checkpoint")


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    _refused(path, "not a readable nnctl checkpoint")


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_truncated_file_is_refused(saved, tmp_path, fraction):
    data = saved.read_bytes()
    path = tmp_path / f"cut{int(fraction * 100)}.npz"
    path.write_bytes(data[: int(len(data) * fraction)])
    _refused(path, "not a readable nnctl checkpoint")


def test_single_npy_file_is_refused(tmp_path):
    path = tmp_path / "weights.npz"
    with open(path, "wb") as stream:
        np.save(stream, np.zeros((3, 4)))
    _refused(path, "not a readable nnctl checkpoint", ".npy")


def test_zip_member_that_is_not_an_array_is_refused(saved, tmp_path):
    path = tmp_path / "foreign.npz"
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(path, "w") as dst:
        for name in src.namelist():
            if name != "meta.npy":
                dst.writestr(name, src.read(name))
        dst.writestr("meta", b'{"format_version": 1}')  # raw bytes, not a .npy member
    _refused(path, "not an nnctl checkpoint", "meta")


class _Payload:
    """Unpickling this object opens (creates) the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _pickled_checkpoint(saved: Path, path: Path, marker: Path) -> Path:
    """A copy of ``saved`` whose W0 member is an object array holding the payload."""
    payload = np.empty((3, 4), dtype=object)
    payload[0, 0] = _Payload(marker)
    member = io.BytesIO()
    np.save(member, payload, allow_pickle=True)
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(path, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, member.getvalue() if name == "W0.npy" else src.read(name))
    return path


def test_pickled_object_array_is_refused_without_unpickling(saved, tmp_path):
    marker = tmp_path / "pwned"
    path = _pickled_checkpoint(saved, tmp_path / "evil.npz", marker)
    message = _refused(path, "not a readable nnctl checkpoint", "pickled Python objects, which nnctl never loads")
    assert "allow_pickle" not in message and "unsafely" not in message
    assert not marker.exists()


def test_pickled_payload_really_would_run(saved, tmp_path):
    """Control for the test above: with pickle allowed, the payload does create its marker."""
    marker = tmp_path / "control_marker"
    path = _pickled_checkpoint(saved, tmp_path / "evil.npz", marker)
    with np.load(path, allow_pickle=True) as archive:
        held = archive["W0"][0, 0]
    held.close()
    assert marker.exists()


# --------------------------------------------------------------------------- refusals: the content


def test_zero_scale_is_refused(saved, tmp_path):
    def zero(arrays, meta):
        arrays["scaler_scale"] = np.zeros_like(arrays["scaler_scale"])

    _refused(_rewrite(saved, tmp_path / "x.npz", zero), "scaler_scale holds values <= 0")


def test_missing_meta_is_refused(saved, tmp_path):
    path = _rewrite(saved, tmp_path / "x.npz", lambda arrays, meta: arrays.pop("meta"))
    _refused(path, "no metadata entry")


def test_meta_not_json_is_refused(saved, tmp_path):
    path = tmp_path / "x.npz"
    arrays = _arrays(saved)
    arrays["meta"] = np.array('{"format_version": 1, "loss": ')
    np.savez(path, **arrays)
    _refused(path, "damaged metadata")


def test_meta_json_list_is_refused(saved, tmp_path):
    path = tmp_path / "x.npz"
    arrays = _arrays(saved)
    arrays["meta"] = np.array(json.dumps([1, 2, 3]))
    np.savez(path, **arrays)
    _refused(path, "damaged metadata", "not a JSON object")


def test_meta_bytes_instead_of_text_is_refused(saved, tmp_path):
    path = tmp_path / "x.npz"
    arrays = _arrays(saved)
    arrays["meta"] = np.array(str(arrays["meta"]).encode())  # dtype S, not U
    np.savez(path, **arrays)
    _refused(path, "no metadata entry")


def test_future_format_version_asks_for_upgrade(saved, tmp_path):
    def newer(arrays, meta):
        meta["format_version"] = FORMAT_VERSION + 1

    message = _refused(_rewrite(saved, tmp_path / "x.npz", newer), "newer", "upgrade")
    assert str(FORMAT_VERSION + 1) in message


@pytest.mark.parametrize("value", [None, "1", 1.0, True])
def test_format_version_must_be_a_whole_number(saved, tmp_path, value):
    def odd(arrays, meta):
        meta["format_version"] = value

    _refused(_rewrite(saved, tmp_path / "x.npz", odd), "format_version")


@pytest.mark.parametrize("key", ["layer_sizes", "activations", "loss", "task", "feature_names", "target_names"])
def test_meta_lacking_a_needed_key_is_refused(saved, tmp_path, key):
    path = _rewrite(saved, tmp_path / "x.npz", lambda arrays, meta: meta.pop(key))
    _refused(path, f"lacks '{key}'")


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"layer_sizes": "3,4,3,2"}, "layer_sizes"),
        ({"layer_sizes": [3.0, 4, 3, 2]}, "layer_sizes"),
        ({"layer_sizes": [3]}, "layer_sizes"),
        ({"activations": None}, "activations"),
        ({"activations": ["tanh", "softmax"]}, "4 layer sizes but 2 activations"),
        ({"activations": ["tanh", "no_such_hidden", "softmax"]}, "'no_such_hidden'"),
        ({"activations": ["tanh", "tanh", "no_such_output"]}, "'no_such_output'"),
        ({"loss": "no_such_loss"}, "unknown loss 'no_such_loss'"),
        ({"loss": ["mse"]}, "unknown loss"),
        ({"feature_names": ["x1", "x2"]}, "2 feature_names, but the network implies 3"),
        ({"feature_names": None}, "feature_names: must be a non-empty list"),
        ({"classes": None}, "classes is not a non-empty list"),
        ({"classes": ["a", "b", "c"]}, "3 classes for 2 output units"),
        ({"target_names": ["a", "b"]}, "2 target_names, but the network implies 1"),
        ({"task": "regression"}, "does not fit loss softmax_cross_entropy"),
        ({"loss": "mse"}, "does not fit loss mse"),
    ],
)
def test_meta_describing_an_unbuildable_model_is_refused(saved, tmp_path, change, fragment):
    path = _rewrite(saved, tmp_path / "x.npz", lambda arrays, meta: meta.update(change))
    _refused(path, fragment)


def test_missing_weight_array_is_refused(saved, tmp_path):
    path = _rewrite(saved, tmp_path / "x.npz", lambda arrays, meta: arrays.pop("W1"))
    _refused(path, "array W1 is missing")


def test_missing_scaler_array_is_refused(saved, tmp_path):
    path = _rewrite(saved, tmp_path / "x.npz", lambda arrays, meta: arrays.pop("scaler_scale"))
    _refused(path, "array scaler_scale is missing")


def test_unexpected_extra_array_is_refused(saved, tmp_path):
    def extra(arrays, meta):
        arrays["W3"] = np.zeros((2, 2), dtype=np.float32)
        arrays["notes"] = np.arange(3.0)

    _refused(_rewrite(saved, tmp_path / "x.npz", extra), "unexpected arrays", "W3", "notes")


def test_weight_shape_contradicting_layer_sizes_is_refused(saved, tmp_path):
    def transposed(arrays, meta):
        arrays["W1"] = arrays["W1"].T.copy()

    _refused(_rewrite(saved, tmp_path / "x.npz", transposed), "array W1 has shape (3, 4)", "(4, 3)")


def test_layer_sizes_contradicting_weights_is_refused(saved, tmp_path):
    def wider(arrays, meta):
        meta["layer_sizes"] = [3, 5, 3, 2]

    _refused(_rewrite(saved, tmp_path / "x.npz", wider), "array W0 has shape (3, 4)", "(3, 5)")


def test_scaler_shape_contradicting_inputs_is_refused(saved, tmp_path):
    def short(arrays, meta):
        arrays["scaler_mean"] = arrays["scaler_mean"][:2].copy()

    _refused(_rewrite(saved, tmp_path / "x.npz", short), "scaler_mean", "shape (2,)")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_are_refused(saved, tmp_path, bad):
    def poison(arrays, meta):
        arrays["W0"] = arrays["W0"].copy()
        arrays["W0"][1, 2] = bad

    _refused(_rewrite(saved, tmp_path / "x.npz", poison), "array W0 holds non-finite values")


def test_non_finite_scaler_is_refused(saved, tmp_path):
    def poison(arrays, meta):
        arrays["scaler_scale"] = arrays["scaler_scale"].copy()
        arrays["scaler_scale"][0] = np.nan

    _refused(_rewrite(saved, tmp_path / "x.npz", poison), "array scaler_scale holds non-finite values")


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_, np.complex128])
def test_non_float_weights_are_refused(saved, tmp_path, dtype):
    def retype(arrays, meta):
        arrays["W0"] = np.ones(arrays["W0"].shape, dtype=dtype)

    _refused(_rewrite(saved, tmp_path / "x.npz", retype), "array W0 has dtype", "expected floats")


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def rows_csv(tmp_path) -> Path:
    path = tmp_path / "rows.csv"
    path.write_text("x3,x1,x2\n0.5,1.0,-2.0\n-1.5,0.25,3.0\n")
    return path


def test_cli_predict_reads_the_intact_checkpoint(saved, rows_csv):
    """Control for the refusals below: the CSV does fit the checkpoint."""
    result = CliRunner().invoke(app, ["predict", str(saved), str(rows_csv)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "predicted_label"
    assert len(lines) == 3 and all(line in ("no", "yes") for line in lines[1:])


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _noise(path: Path) -> None:
    path.write_bytes(np.random.default_rng(5).bytes(300))


def _newer(path: Path) -> None:
    _rewrite(path, path, lambda arrays, meta: meta.update(format_version=FORMAT_VERSION + 1))


def _nan(path: Path) -> None:
    def poison(arrays, meta):
        arrays["W2"] = np.full_like(arrays["W2"], np.nan)

    _rewrite(path, path, poison)


def _unknown_loss(path: Path) -> None:
    _rewrite(path, path, lambda arrays, meta: meta.update(loss="no_such_loss"))


@pytest.mark.parametrize("damage", [_truncate, _noise, _newer, _nan, _unknown_loss, Path.unlink])
def test_cli_predict_on_damaged_checkpoint_is_one_error_line(saved, rows_csv, damage):
    damage(saved)
    result = CliRunner().invoke(app, ["predict", str(saved), str(rows_csv)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert saved.name in result.stderr and str(saved) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
