"""The checkpoint corpus (issue 5, point 3): damaged and hostile files, each refused
with one ``CheckpointError`` line that names the file, by ``load_checkpoint`` and by
``nnctl predict`` (exit code 1, one line on stderr, no traceback).  No code runs: a
pickle payload would create a marker file, which must never appear.  Memory stays
bounded: a zip bomb, sizes that the zip directory overstates, and a .npy header
declaring a terabyte array are refused from the headers, before NumPy allocates.

Every corpus file is built at test time from a real checkpoint (``save_checkpoint``),
so the corpus follows the format as it changes.
"""

from __future__ import annotations

import functools
import io
import struct
import tracemalloc
import warnings
import zipfile
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import pytest
from typer.testing import CliRunner

from nnctl.checkpoint import FORMAT_VERSION, load_checkpoint, save_checkpoint
from nnctl.cli import app
from nnctl.core.model import init_network
from nnctl.prep.transforms import Scaler
from nnctl.errors import CheckpointError
from test_checkpoint import _arrays, _refused  # the same refusal rule: one line naming the file
from test_checkpoint import _rewrite as rewrite

MARKER = "pickle-ran"  # the file a pickle payload would create beside the corpus file
MEMORY_LIMIT = 50 * 2**20  # bytes traced while refusing the bomb and the huge-shape files
BOMB_BYTES = 200 * 2**20  # zeros behind the deflate bomb's .npy header
CLAIMED_BYTES = 7 * 2**29  # 3.5 GiB, still within the 32-bit size fields of a plain zip


def _meta() -> dict:
    return {
        "loss": "softmax_cross_entropy",
        "task": "classification",
        "feature_names": ["x1", "x2", "x3"],
        "target_names": ["label"],
        "classes": ["no", "yes"],
        "config": {"model": {"hidden": [4, 3], "activation": "tanh"}, "seed": 7},
        "epoch": 5,
        "metrics": {"train_loss": 0.25},
        "seed": 7,
    }


def _save_valid(path: Path, state: bool = False) -> Path:
    """3 inputs -> 4 tanh -> 3 tanh -> 2 softmax, float32, like tests/test_checkpoint.py."""
    rng = np.random.default_rng(42)
    layers = init_network([3, 4, 3, 2], ["tanh", "tanh"], "softmax", rng, dtype=np.dtype(np.float32))
    for layer in layers:
        layer.b[...] = rng.normal(size=layer.b.shape)
    scaler = Scaler.fit(rng.normal(3.0, 2.0, size=(50, 3)))
    states = {"state_velocity_0": np.zeros((3, 4), np.float32)} if state else None
    save_checkpoint(path, layers, scaler, _meta(), states)
    return path


# --------------------------------------------------------------------------- building blocks


def _rewrite(change: Callable[[dict, dict], None]) -> Callable[[Path, Path], None]:
    """A builder: the valid checkpoint's arrays, edited by ``change(arrays, meta)``, saved by np.savez."""
    def build(src: Path, dst: Path) -> None:
        rewrite(src, dst, change)
    return build


def _rezip(replace: dict[str, bytes | None], add: tuple[tuple[str, bytes], ...] = ()) -> Callable[[Path, Path], None]:
    """A builder: the valid checkpoint's zip members, some replaced (None drops one), then some added."""
    def build(src: Path, dst: Path) -> None:
        with zipfile.ZipFile(src) as source, zipfile.ZipFile(dst, "w") as archive, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # zipfile warns about a duplicate name
            for name in source.namelist():
                data = replace.get(name, source.read(name))
                if data is not None:
                    archive.writestr(name, data)
            for name, data in add:
                archive.writestr(name, data)
    return build


def _npy_header(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    stream = io.BytesIO()
    np.lib.format.write_array_header_1_0(stream, {"descr": descr, "fortran_order": False, "shape": shape})
    return stream.getvalue()


def _npy(array: np.ndarray) -> bytes:
    stream = io.BytesIO()
    np.save(stream, array, allow_pickle=True)
    return stream.getvalue()


def _data_offset(src: Path, name: str) -> tuple[int, int]:
    """Where member ``name``'s bytes start in the file, and how many there are."""
    with zipfile.ZipFile(src) as archive:
        info = archive.getinfo(name)
    local = src.read_bytes()[info.header_offset: info.header_offset + 30]
    name_length, extra_length = struct.unpack("<HH", local[26:30])
    return info.header_offset + 30 + name_length + extra_length, info.compress_size


def _central_directory(src: Path) -> int:
    """Offset of the zip's central directory, read from its end-of-central-directory record."""
    data = src.read_bytes()
    end = data.rfind(b"PK\x05\x06")
    return struct.unpack("<I", data[end + 16: end + 20])[0]


# Fields of a member's zip entry: (offset in its local header, offset in its central-directory entry, format)
ZIP_FIELDS = {"flags": (6, 8, "<H"), "file_size": (22, 24, "<I")}


def _patch_entry(dst: Path, name: str, **values: int) -> None:
    """Overwrite fields of member ``name`` in its local header and in its central-directory entry."""
    data = bytearray(dst.read_bytes())
    with zipfile.ZipFile(dst) as archive:
        local = archive.getinfo(name).header_offset
    central = _central_directory(dst)
    while data[central + 46: central + 46 + len(name)] != name.encode():  # walk the entries to this member's
        name_length, extra_length, comment_length = struct.unpack("<HHH", data[central + 28: central + 34])
        central += 46 + name_length + extra_length + comment_length
    for field, value in values.items():
        in_local, in_central, fmt = ZIP_FIELDS[field]
        struct.pack_into(fmt, data, local + in_local, value)
        struct.pack_into(fmt, data, central + in_central, value)
    dst.write_bytes(bytes(data))


# --------------------------------------------------------------------------- the corpus


def _truncate(where: Callable[[Path], int]) -> Callable[[Path, Path], None]:
    def build(src: Path, dst: Path) -> None:
        dst.write_bytes(src.read_bytes()[: where(src)])
    return build


def _inside(name: str, fraction: float) -> Callable[[Path], int]:
    def where(src: Path) -> int:
        start, size = _data_offset(src, name)
        return start + int(size * fraction)
    return where


def _not_a_zip(data: bytes) -> Callable[[Path, Path], None]:
    return lambda src, dst: dst.write_bytes(data)


def _directory(src: Path, dst: Path) -> None:
    dst.mkdir()  # a directory is read as a run directory, whose best.npz is missing


def _single_npy(src: Path, dst: Path) -> None:
    dst.write_bytes(_npy(np.zeros((3, 4))))


def _junk_before_zip(src: Path, dst: Path) -> None:
    dst.write_bytes(b"#!/bin/sh\necho self-extracting\n" + src.read_bytes())  # zipfile alone would accept it


class _Payload:
    """Unpickling this object opens (creates) the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _pickled(src: Path, dst: Path) -> None:
    payload = np.empty((3, 4), dtype=object)
    payload[0, 0] = _Payload(dst.parent / MARKER)
    _rezip({"W0.npy": _npy(payload)})(src, dst)


def _duplicate_member(src: Path, dst: Path) -> None:
    _rezip({}, add=(("W0.npy", _npy(np.ones((3, 4), np.float32))),))(src, dst)


@functools.cache
def _bomb_bytes(src_bytes: bytes) -> bytes:
    """The valid checkpoint with W0.npy replaced by an honest .npy of 200 MiB of zeros,
    deflated to about 200 KB.  Built once: compressing takes a second."""
    src = zipfile.ZipFile(io.BytesIO(src_bytes))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in src.namelist():
            if name != "W0.npy":
                archive.writestr(name, src.read(name))
        info = zipfile.ZipInfo("W0.npy")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w") as member:
            member.write(_npy_header((BOMB_BYTES // 8,)))
            chunk = bytes(2**20)
            for _ in range(BOMB_BYTES // len(chunk)):
                member.write(chunk)
    return out.getvalue()


def _bomb(src: Path, dst: Path) -> None:
    dst.write_bytes(_bomb_bytes(src.read_bytes()))


def _compressed_copy(src: Path, dst: Path) -> None:
    np.savez_compressed(dst, **_arrays(src))  # honest arrays, but nnctl never writes this


def _claims_gibibytes(src: Path, dst: Path) -> None:
    """W0.npy's entries in the zip directory claim 3.5 GiB; its data is as saved."""
    _rezip({})(src, dst)
    _patch_entry(dst, "W0.npy", file_size=CLAIMED_BYTES)


def _encrypted_flag(src: Path, dst: Path) -> None:
    _rezip({})(src, dst)
    _patch_entry(dst, "W0.npy", flags=0x1)  # "encrypted"


def _flipped_meta_bytes(src: Path, dst: Path) -> None:
    data = bytearray(src.read_bytes())
    start, size = _data_offset(src, "meta.npy")
    data[start + size - 40] ^= 0xFF  # inside the JSON text; the member's CRC no longer matches
    dst.write_bytes(bytes(data))


def _with(**changes) -> Callable[[dict, dict], None]:
    return lambda arrays, meta: meta.update(changes)


def _set_array(name: str, value: Callable[[dict], np.ndarray]) -> Callable[[dict, dict], None]:
    def change(arrays: dict, meta: dict) -> None:
        arrays[name] = value(arrays)
    return change


def _poison(name: str, index: tuple[int, ...], bad: float) -> Callable[[dict, dict], None]:
    def change(arrays: dict, meta: dict) -> None:
        arrays[name] = arrays[name].copy()
        arrays[name][index] = bad
    return change


class Case(NamedTuple):
    name: str
    build: Callable[[Path, Path], None]  # (a valid checkpoint, the corpus file to write)
    expect: tuple[str, ...]  # fragments of the one-line message
    source_has_state: bool = False


TRUNCATED = ("not a readable nnctl checkpoint", "truncated")

CASES: list[Case] = [
    # truncated at offsets across the file: every cut loses the zip directory at the end
    Case("cut-inside-zip-magic", _truncate(lambda src: 3), ("not an .npz archive",)),
    Case("cut-inside-first-local-header", _truncate(lambda src: 20), TRUNCATED),
    Case("cut-inside-W0-data", _truncate(_inside("W0.npy", 0.5)), TRUNCATED),
    Case("cut-at-quarter", _truncate(lambda src: src.stat().st_size // 4), TRUNCATED),
    Case("cut-at-half", _truncate(lambda src: src.stat().st_size // 2), TRUNCATED),
    Case("cut-inside-meta-header", _truncate(_inside("meta.npy", 0.02)), TRUNCATED),
    Case("cut-inside-meta-json", _truncate(_inside("meta.npy", 0.7)), TRUNCATED),
    Case("cut-at-central-directory", _truncate(_central_directory), TRUNCATED),
    Case("cut-inside-central-directory", _truncate(lambda src: _central_directory(src) + 100), TRUNCATED),
    Case("cut-inside-end-record", _truncate(lambda src: src.stat().st_size - 10), TRUNCATED),
    Case("cut-one-byte-short", _truncate(lambda src: src.stat().st_size - 1), TRUNCATED),
    # not a zip
    Case("text-file", _not_a_zip(b"model:\n  hidden: [4, 3]\n"), ("not an .npz archive",)),
    Case("random-bytes", _not_a_zip(np.random.default_rng(3).bytes(2000)), ("not an .npz archive",)),
    Case("empty-file", _not_a_zip(b""), ("not an .npz archive",)),
    Case("directory-named-npz", _directory, ("best.npz: no such checkpoint file",)),
    Case("single-npy-array", _single_npy, ("a single .npy array, not an .npz archive",)),
    Case("junk-before-zip", _junk_before_zip, ("not an .npz archive",)),
    # code, members and sizes that nnctl never writes
    Case("pickled-object-array", _pickled, ("member W0.npy holds pickled Python objects, which nnctl never loads",)),
    Case("member-not-npy", _rezip({"meta.npy": None}, add=(("meta", b'{"format_version": 1}'), ("notes.txt", b"hi"))),
         ("not an nnctl checkpoint (entries that are not arrays: meta, notes.txt)",)),
    Case("duplicate-member-names", _duplicate_member, ("members named twice: W0.npy",)),
    Case("huge-npy-shape", _rezip({"W0.npy": _npy_header((10**6, 10**6)) + bytes(96)}),
         ("member W0.npy declares shape (1000000, 1000000) of float64 (8000000000000 bytes) but holds 96 bytes",)),
    Case("negative-npy-shape", _rezip({"W0.npy": _npy_header((-1, 4)) + bytes(32)}), ("declares shape (-1, 4)",)),
    Case("npy-header-short-of-data", _rezip({"W0.npy": _npy_header((2, 2), "<f4") + bytes(48)}),
         ("declares shape (2, 2) of float32 (16 bytes) but holds 48 bytes",)),
    Case("npy-format-3", _rezip({"W0.npy": b"\x93NUMPY\x03\x00" + bytes(64)}), ("member W0.npy is .npy format 3.0",)),
    Case("deflate-zip-bomb", _bomb, ("member W0.npy is compressed", f"unpack to {BOMB_BYTES + 128}")),
    Case("claims-gibibytes", _claims_gibibytes, ("its members claim", "bytes, more than the file's")),
    Case("savez-compressed-copy", _compressed_copy, ("member W0.npy is compressed", "nnctl stores arrays uncompressed")),
    Case("encrypted-flag", _encrypted_flag, ("member W0.npy is encrypted",)),
    # arrays that contradict the metadata, or metadata nnctl cannot read
    Case("missing-W1", _rewrite(lambda arrays, meta: arrays.pop("W1")), ("array W1 is missing",)),
    Case("missing-scaler-mean", _rewrite(lambda arrays, meta: arrays.pop("scaler_mean")),
         ("array scaler_mean is missing",)),
    Case("missing-meta", _rewrite(lambda arrays, meta: arrays.pop("meta")), ("no metadata entry",)),
    Case("extra-arrays", _rewrite(_set_array("W3", lambda arrays: np.zeros((2, 2), np.float32))),
         ("unexpected arrays W3",)),
    Case("W1-transposed", _rewrite(_set_array("W1", lambda arrays: arrays["W1"].T.copy())),
         ("array W1 has shape (3, 4), but the metadata implies (4, 3)",)),
    Case("layer-sizes-wider", _rewrite(_with(layer_sizes=[3, 5, 3, 2])),
         ("array W0 has shape (3, 4), but the metadata implies (3, 5)",)),
    Case("W0-int64", _rewrite(_set_array("W0", lambda arrays: np.ones((3, 4), np.int64))),
         ("array W0 has dtype int64, expected floats",)),
    Case("future-format-version", _rewrite(_with(format_version=FORMAT_VERSION + 1)),
         (f"checkpoint format {FORMAT_VERSION + 1} is newer", "upgrade nnctl")),
    Case("meta-json-cut-short", _rezip({"meta.npy": _npy(np.array('{"format_version": 1, "lo'))}),
         ("damaged metadata",)),
    Case("meta-bytes-flipped", _flipped_meta_bytes, ("not a readable nnctl checkpoint", "Bad CRC-32 for file 'meta.npy'")),
    Case("nan-weight", _rewrite(_poison("W0", (1, 2), np.nan)), ("array W0 holds non-finite values",)),
    Case("inf-bias", _rewrite(_poison("b2", (0,), np.inf)), ("array b2 holds non-finite values",)),
    Case("inf-scaler-mean", _rewrite(_poison("scaler_mean", (1,), -np.inf)),
         ("array scaler_mean holds non-finite values",)),
    Case("nan-optimizer-state", _rewrite(_poison("state_velocity_0", (0, 0), np.nan)),
         ("array state_velocity_0 is not finite floats",), source_has_state=True),
    # the stored preprocessing (issue 12): what turns a file's columns into the inputs
    Case("preprocessing-not-an-object", _rewrite(lambda arrays, meta: meta.update(preprocessing=[1])),
         ("damaged metadata (preprocessing is not a JSON object)",)),
    Case("preprocessing-other-inputs", _rewrite(lambda arrays, meta: meta.update(preprocessing={
        "numeric": [{"name": n, "fill": 0.0, "indicator": False} for n in ("a", "b", "c")], "categorical": [],
        "na_values": [""], "unknown_category": "ignore", "target": None})),
         ("damaged metadata (preprocessing gives other inputs than feature_names)",)),
    Case("preprocessing-fill-text", _rewrite(lambda arrays, meta: meta.update(preprocessing={
        "numeric": [{"name": n, "fill": "median", "indicator": False} for n in ("x1", "x2", "x3")],
        "categorical": [], "na_values": [""], "unknown_category": "ignore", "target": None})),
         ("damaged metadata (preprocessing.numeric[0].fill is not a finite number)",)),
]


def _build(case: Case, tmp_path: Path) -> Path:
    source = _save_valid(tmp_path / "source" / "valid.npz", state=case.source_has_state)
    path = tmp_path / f"{case.name}.npz"
    case.build(source, path)
    return path


def test_corpus_has_at_least_20_distinct_files():
    assert len(CASES) >= 20
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_corpus_file_is_refused_with_one_line(case, tmp_path):
    path = _build(case, tmp_path)
    _refused(path, *case.expect)
    assert not (tmp_path / MARKER).exists()


@pytest.fixture
def rows_csv(tmp_path) -> Path:
    path = tmp_path / "rows.csv"
    path.write_text("x3,x1,x2\n0.5,1.0,-2.0\n-1.5,0.25,3.0\n")
    return path


def _predict(path: Path, rows_csv: Path):
    return CliRunner().invoke(app, ["predict", str(path), str(rows_csv)])


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_cli_predict_on_corpus_file_is_one_error_line(case, tmp_path, rows_csv):
    path = _build(case, tmp_path)
    result = _predict(path, rows_csv)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert str(path) in result.stderr
    assert not (tmp_path / MARKER).exists()


# --------------------------------------------------------------------------- controls


def test_source_checkpoint_loads_and_predicts(tmp_path, rows_csv):
    """Control for the corpus: the file every case is built from loads, bit for bit, and predicts."""
    source = _save_valid(tmp_path / "valid.npz", state=True)
    loaded = load_checkpoint(source)
    arrays = _arrays(source)
    for index, layer in enumerate(loaded.layers):
        assert np.array_equal(layer.W, arrays[f"W{index}"]) and layer.W.dtype == np.float32
        assert np.array_equal(layer.b, arrays[f"b{index}"])
    assert set(loaded.state_arrays) == {"state_velocity_0"}
    result = _predict(source, rows_csv)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "predicted_label"


def test_checkpoint_rewritten_by_plain_savez_still_loads(tmp_path):
    """Control for the archive checks: an honest np.savez archive of the same arrays passes them."""
    source = _save_valid(tmp_path / "valid.npz")
    copy = tmp_path / "copy.npz"
    _rewrite(lambda arrays, meta: None)(source, copy)
    assert np.array_equal(load_checkpoint(copy).layers[0].W, load_checkpoint(source).layers[0].W)


def test_pickle_payload_really_would_run(tmp_path):
    """Control for the pickle case: with pickle allowed, NumPy runs the payload."""
    source = _save_valid(tmp_path / "valid.npz")
    path = tmp_path / "evil.npz"
    _pickled(source, path)
    assert not (tmp_path / MARKER).exists()
    with np.load(path, allow_pickle=True) as archive:
        archive["W0"][0, 0].close()
    assert (tmp_path / MARKER).exists()


def test_bomb_really_unpacks_to_200_mib(tmp_path):
    """Control for the bomb: a small file whose W0 member really inflates to 200 MiB of zeros."""
    path = tmp_path / "bomb.npz"
    _bomb(_save_valid(tmp_path / "valid.npz"), path)
    assert path.stat().st_size < 400_000
    inflated = 0
    with zipfile.ZipFile(path) as archive, archive.open("W0.npy") as member:
        while chunk := member.read(2**22):  # streamed, so the control itself stays small
            inflated += len(chunk)
    assert inflated == BOMB_BYTES + 128  # the .npy header takes 128 bytes


def _traced_peak(action: Callable[[], object]) -> int:
    """Peak bytes allocated through Python's and NumPy's allocators during ``action()``."""
    tracemalloc.start()
    try:
        try:
            action()
        except (CheckpointError, MemoryError, ValueError):
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _case(name: str) -> Case:
    return next(case for case in CASES if case.name == name)


def test_plain_numpy_would_allocate_what_the_bomb_unpacks_to(tmp_path):
    """Control for the memory test below: tracemalloc does see what np.load allocates for the bomb."""
    path = _build(_case("deflate-zip-bomb"), tmp_path)

    def plain_load():
        with np.load(path, allow_pickle=False) as archive:
            archive["W0"]

    assert _traced_peak(plain_load) >= BOMB_BYTES


@pytest.mark.parametrize("name", ["deflate-zip-bomb", "claims-gibibytes", "huge-npy-shape"])
def test_refusing_oversized_archives_keeps_memory_bounded(tmp_path, name):
    path = _build(_case(name), tmp_path)
    peak = _traced_peak(lambda: load_checkpoint(path))
    assert peak < MEMORY_LIMIT, f"{name}: {peak / 2**20:.1f} MiB traced"
    _refused(path)
