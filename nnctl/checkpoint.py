"""Checkpoints: named arrays plus JSON metadata in one ``.npz`` file, no pickle.

Layout of a checkpoint (every entry a plain numeric or unicode array, so
``np.load(path, allow_pickle=False)`` reads it):

    W0, b0, W1, b1, ...        weights (fan_in, fan_out) and biases per layer
    scaler_mean, scaler_scale  the standardisation statistics of the training rows
    state_*                    (last.npz only) the optimizer's arrays, e.g. state_velocity_0
    meta                       a 0-d unicode array holding JSON: format version, nnctl
                               version, resolved config, layer sizes and activations,
                               feature/target names, classes, epoch, metrics, seed; in
                               last.npz also the training state (epoch, step, generator
                               state, learning rate, ...) and the history, for --resume

Writes are atomic: the archive goes to a hidden temporary file in the same
directory (whose name does not end in ``.npz``), is flushed and fsynced, then
renamed over the final name, so a crash never leaves a damaged checkpoint.

Reads check the zip directory and every member's ``.npy`` header before any
array is read, so a damaged or hostile file is refused without running code and
without allocating more memory than the file's own size (see ``_check_archive``).
"""

from __future__ import annotations

import json
import math
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from nnctl import __version__
from nnctl.core.activations import ACTIVATIONS, OUTPUT_ACTIVATIONS
from nnctl.core.losses import LOSSES
from nnctl.core.model import Layer, layer_sizes
from nnctl.prep.preprocessor import Preprocessor
from nnctl.prep.transforms import Scaler
from nnctl.errors import CheckpointError
from nnctl.metadata import check_meta
from nnctl.files import atomic_write, input_problem

FORMAT_VERSION = 1
BEST, LAST = "best.npz", "last.npz"
STATE_PREFIX = "state_"
HISTORY_ARRAY = "state_history"  # a last checkpoint's history: one row per epoch (NaN: no value), see resume.py
META_LIMIT = 64 * 2**20  # bytes of metadata read at most (a config, the preprocessing, the training state)


@dataclass
class Checkpoint:
    layers: list[Layer]
    scaler: Scaler
    meta: dict[str, Any]
    state_arrays: dict[str, np.ndarray] = field(default_factory=dict)  # the optimizer's arrays, for --resume
    preprocessor: Preprocessor | None = None  # from meta["preprocessing"] (plain numeric columns when absent)

    def __post_init__(self) -> None:
        if self.preprocessor is None:
            self.preprocessor = preprocessor_of(self.meta)


def preprocessor_of(meta: dict[str, Any]) -> Preprocessor:
    """The preprocessor a checkpoint's metadata describes; ValueError when it does not fit the network.
    A checkpoint written before preprocessing was stored reads its feature columns as they are."""
    if meta.get("preprocessing") is None:
        return Preprocessor.plain(meta["feature_names"])
    preprocessor = Preprocessor.from_meta(meta["preprocessing"])
    if list(preprocessor.input_names) != list(meta["feature_names"]):
        raise ValueError("preprocessing gives other inputs than feature_names")
    target = preprocessor.target
    if target is not None and (meta["task"] != "regression" or len(target.mean) != len(meta["target_names"])):
        raise ValueError("preprocessing.target does not fit the model's targets")
    return preprocessor


def save_checkpoint(path: str | Path, layers: list[Layer], scaler: Scaler, meta: dict[str, Any],
                    state_arrays: dict[str, np.ndarray] | None = None) -> None:
    """Write the network, scaler and metadata (and, for resuming, the arrays of the
    optimizer's state, named ``state_*``) to ``path`` atomically."""
    path = Path(path)
    meta = {  # what describes the arrays always comes from the arrays themselves
        **meta,
        "format_version": FORMAT_VERSION,
        "nnctl_version": __version__,
        "layer_sizes": layer_sizes(layers),
        "activations": [layer.activation for layer in layers],
    }
    arrays: dict[str, np.ndarray] = {}
    for index, layer in enumerate(layers):
        arrays[f"W{index}"], arrays[f"b{index}"] = layer.W, layer.b
    arrays["scaler_mean"], arrays["scaler_scale"] = scaler.mean, scaler.scale
    for name, array in (state_arrays or {}).items():
        if not name.startswith(STATE_PREFIX):
            raise ValueError(f"state array names start with {STATE_PREFIX!r}: {name}")
        arrays[name] = array
    # Every array load_checkpoint would refuse is refused here, before the file replaces the last one.
    for name, array in arrays.items():
        if name != HISTORY_ARRAY and not np.isfinite(array).all():
            raise CheckpointError(f"{path}: not written: array {name} holds non-finite values (the earlier "
                                  "checkpoint, if any, is kept)")
    arrays["meta"] = np.array(json.dumps(meta))  # insertion order: history rows keep their column order
    atomic_write(path, lambda stream: np.savez(stream, **arrays))


def checkpoint_path(path: str | Path) -> Path:
    """A checkpoint file as given, or the ``best`` checkpoint of a run directory."""
    path = Path(path)
    return path / BEST if path.is_dir() else path


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and check a checkpoint file (or a run directory's best checkpoint)."""
    path = checkpoint_path(path)
    problem = input_problem(path, "checkpoint file")
    if problem is not None:
        raise CheckpointError(f"{path}: {'no such checkpoint file' if problem == 'no such file' else problem}")
    try:
        _check_archive(path)  # before np.load reads (and allocates) any array
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
        raise CheckpointError(f"{path}: not a readable nnctl checkpoint ({_reason(error)})") from None
    meta = _read_meta(path, arrays)
    state = {name: arrays.pop(name) for name in sorted(arrays) if name.startswith(STATE_PREFIX)}
    for name, array in state.items():
        if array.dtype.kind != "f" or (name != HISTORY_ARRAY and not np.isfinite(array).all()):
            raise CheckpointError(f"{path}: array {name} is not finite floats")
    return Checkpoint(_read_layers(path, arrays, meta), _read_scaler(path, arrays, meta), meta, state)


def read_metadata(path: str | Path) -> dict[str, Any]:
    """A checkpoint's metadata alone, checked as ``load_checkpoint`` checks it, without reading its
    arrays (``nnctl runs`` on a large run that is still training)."""
    path = checkpoint_path(path)
    problem = input_problem(path, "checkpoint file")
    if problem is not None:
        raise CheckpointError(f"{path}: {'no such checkpoint file' if problem == 'no such file' else problem}")
    try:
        _check_archive(path)
        with np.load(path, allow_pickle=False) as archive:
            arrays = {"meta": archive["meta"]} if "meta" in archive.files else {}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError, MemoryError) as error:
        raise CheckpointError(f"{path}: not a readable nnctl checkpoint ({_reason(error)})") from None
    return _read_meta(path, arrays)


def _reason(error: Exception) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:200]


def _check_archive(path: Path) -> None:
    """Refuse, from the zip directory and the ``.npy`` headers alone, an archive that
    ``save_checkpoint`` could not have written.  A problem is a ``ValueError`` (the
    caller names the file) or, for members that are not arrays, a ``CheckpointError``.

    np.savez stores its members uncompressed, so an honest checkpoint's members
    together are no larger than the file.  Refusing compressed members and declared
    sizes beyond the file's size stops a zip bomb; checking that each header's shape
    times item size is exactly the data its member holds stops a header that would
    make NumPy allocate terabytes; refusing object dtypes here means NumPy never
    meets a pickle.
    """
    with open(path, "rb") as stream:
        start = stream.read(6)
    if start.startswith(b"\x93NUMPY"):
        raise ValueError("a single .npy array, not an .npz archive")
    if not start.startswith(b"PK\x03\x04"):  # also what makes np.load read the file as an .npz archive
        raise ValueError("not an .npz archive: it does not start like a zip file")
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ValueError("no zip directory at its end: the file is truncated or not an .npz archive") from None
    with archive:
        members = archive.infolist()
        names = [member.filename for member in members]
        loose = sorted(name for name in names if not name.endswith(".npy"))
        if loose:
            raise CheckpointError(f"{path}: not an nnctl checkpoint (entries that are not arrays: {', '.join(loose)})")
        twice = sorted(name for name, count in Counter(names).items() if count > 1)
        if twice:
            raise ValueError(f"members named twice: {', '.join(twice)}")
        for member in members:
            if member.compress_type != zipfile.ZIP_STORED:
                raise ValueError(f"member {member.filename} is compressed ({member.compress_size} bytes that unpack "
                                 f"to {member.file_size}); nnctl stores arrays uncompressed")
            if member.flag_bits & 0x1:
                raise ValueError(f"member {member.filename} is encrypted")
        meta = next((member for member in members if member.filename == "meta.npy"), None)
        if meta is not None and meta.file_size > META_LIMIT:
            raise ValueError(f"its metadata is {meta.file_size} bytes, more than the {META_LIMIT // 2**20} MiB "
                             "nnctl reads")
        unpacked, size = sum(member.file_size for member in members), path.stat().st_size
        if unpacked > size:
            raise ValueError(f"its members claim {unpacked} bytes, more than the file's {size}")
        for member in members:
            with archive.open(member) as stream:
                _check_header(member, stream)


def _check_header(member: zipfile.ZipInfo, stream: IO[bytes]) -> None:
    """The member's .npy header must describe exactly the bytes that follow it."""
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        raise ValueError(f"member {member.filename} is .npy format {version[0]}.{version[1]}, which nnctl does not write")
    if dtype.hasobject:  # NumPy's advice would be to load it unsafely; nnctl never does
        raise ValueError(f"member {member.filename} holds pickled Python objects, which nnctl never loads")
    declared, held = math.prod(shape) * dtype.itemsize, member.file_size - stream.tell()
    if declared != held:
        raise ValueError(f"member {member.filename} declares shape {shape} of {dtype} ({declared} bytes) "
                         f"but holds {held} bytes")


def _read_meta(path: Path, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    if "meta" not in arrays or arrays["meta"].dtype.kind != "U" or arrays["meta"].ndim != 0:
        raise CheckpointError(f"{path}: not an nnctl checkpoint (no metadata entry)")
    try:
        meta = json.loads(str(arrays["meta"]))
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path}: damaged metadata ({error.msg} at character {error.pos})") from None
    except RecursionError:
        raise CheckpointError(f"{path}: damaged metadata (values nested too deeply)") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: damaged metadata (not a JSON object)")
    version = meta.get("format_version")
    if version is None:
        raise CheckpointError(f"{path}: metadata has no format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(f"{path}: metadata format_version must be a whole number, got {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format {version} is newer than this nnctl reads ({FORMAT_VERSION}); upgrade nnctl"
        )
    try:
        check_meta(meta)
    except ValueError as error:
        raise CheckpointError(f"{path}: {error}") from None
    for key in ("layer_sizes", "activations", "loss", "task", "feature_names", "target_names"):
        if key not in meta:
            raise CheckpointError(f"{path}: metadata lacks '{key}'")
    sizes, activations = meta["layer_sizes"], meta["activations"]
    if not (isinstance(sizes, list) and len(sizes) >= 2
            and all(type(size) is int and size > 0 for size in sizes)):
        raise CheckpointError(f"{path}: metadata layer_sizes is not a list of at least 2 positive whole numbers")
    if not (isinstance(activations, list) and all(isinstance(name, str) for name in activations)):
        raise CheckpointError(f"{path}: metadata activations is not a list of names")
    if not (isinstance(meta["loss"], str) and meta["loss"] in LOSSES):
        raise CheckpointError(f"{path}: metadata names an unknown loss {meta['loss']!r}; upgrade nnctl")
    _check_names(path, meta)
    try:
        preprocessor_of(meta)
    except ValueError as error:
        raise CheckpointError(f"{path}: damaged metadata ({error})") from None
    return meta


def _check_names(path: Path, meta: dict[str, Any]) -> None:
    """Feature names, targets and classes must agree with the layer sizes and the loss."""
    sizes, loss = meta["layer_sizes"], LOSSES[meta["loss"]]

    def names(key: str, count: int | None = None, kinds=(str,)) -> list:
        value = meta.get(key)
        if not (isinstance(value, list) and value and all(type(v) in kinds for v in value)):
            kinds_text = "names" if kinds == (str,) else "labels"
            raise CheckpointError(f"{path}: metadata {key} is not a non-empty list of {kinds_text}")
        if count is not None and len(value) != count:
            raise CheckpointError(f"{path}: metadata has {len(value)} {key}, but the network implies {count}")
        return value

    names("feature_names", sizes[0])
    if meta["task"] != loss.task:
        raise CheckpointError(f"{path}: metadata task {meta['task']!r} does not fit loss {loss.name}")
    if meta["activations"][-1] != loss.output_activation:
        raise CheckpointError(f"{path}: output activation {meta['activations'][-1]!r} does not fit loss {loss.name}")
    if loss.task == "regression":
        names("target_names", sizes[-1])
        return
    names("target_names", 1)
    classes = names("classes", None, (str, int))
    if len(classes) < 2 or loss.n_outputs(len(classes)) != sizes[-1]:
        raise CheckpointError(f"{path}: metadata lists {len(classes)} classes for {sizes[-1]} output units")


def _read_layers(path: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> list[Layer]:
    sizes, activations = meta["layer_sizes"], meta["activations"]
    if len(activations) != len(sizes) - 1:
        raise CheckpointError(f"{path}: metadata gives {len(sizes)} layer sizes but {len(activations)} activations")
    unknown = [name for name in activations[:-1] if name not in ACTIVATIONS]
    unknown += [name for name in activations[-1:] if name not in OUTPUT_ACTIVATIONS]
    if unknown:
        raise CheckpointError(f"{path}: metadata names unknown activations {', '.join(map(repr, unknown))}; upgrade nnctl")
    layers = []
    for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        W = _array(path, arrays, f"W{index}", (fan_in, fan_out))
        b = _array(path, arrays, f"b{index}", (fan_out,))
        layers.append(Layer(W=W, b=b, activation=activations[index]))
    extra = sorted(set(arrays) - {f"{k}{i}" for i in range(len(layers)) for k in "Wb"}
                   - {"meta", "scaler_mean", "scaler_scale"})
    if extra:
        raise CheckpointError(f"{path}: unexpected arrays {', '.join(extra)}")
    return layers


def _array(path: Path, arrays: dict[str, np.ndarray], name: str, shape: tuple[int, ...]) -> np.ndarray:
    if name not in arrays:
        raise CheckpointError(f"{path}: array {name} is missing")
    array = arrays[name]
    if array.dtype.kind != "f":
        raise CheckpointError(f"{path}: array {name} has dtype {array.dtype}, expected floats")
    if array.shape != tuple(shape):
        raise CheckpointError(f"{path}: array {name} has shape {array.shape}, but the metadata implies {tuple(shape)}")
    if not np.isfinite(array).all():
        raise CheckpointError(f"{path}: array {name} holds non-finite values")
    return array


def _read_scaler(path: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Scaler:
    n_features = meta["layer_sizes"][0]
    scale = _array(path, arrays, "scaler_scale", (n_features,))
    if (scale <= 0).any():
        raise CheckpointError(f"{path}: array scaler_scale holds values <= 0; a scale divides the features")
    return Scaler(mean=_array(path, arrays, "scaler_mean", (n_features,)), scale=scale)
