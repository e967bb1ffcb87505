"""Reading inputs and writing result files safely.

Every input is checked to be a regular file before it is opened (``input_problem``): a FIFO
would block the open, a device such as /dev/zero would never end, a directory is a mistake.

Every checkpoint, CSV, YAML, JSON and image nnctl writes goes through
``atomic_write``: the bytes go to a hidden temporary file beside the target
(its name ends in ``.tmp``, never in the target's extension), are flushed and
fsynced, and the file is renamed over the target.  A crash or a Ctrl-C at any
moment leaves either the old file or the new one under the final name, never a
mix.  Writes never go through a symbolic link (a link where a result goes is
refused).  Operating-system errors become one-line ``OutputError`` messages.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any, BinaryIO, Callable

from nnctl.errors import OutputError


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def input_problem(path: str | Path, kind: str = "file") -> str | None:
    """Why ``path`` cannot be read as an input file (None when it can): missing, a directory,
    or not a regular file (a FIFO, a device, a socket).  Links are followed: an input may be one."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "no such file"
    except NotADirectoryError:
        return "no such file (a part of the path is not a directory)"
    except OSError as error:
        return f"cannot read the file ({_reason(error)})"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return f"is a directory, not a {kind}"
    kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
    return f"is {kind}, not a regular file; nnctl reads inputs from files"


def read_capped(path: str | Path, limit: int, kind: str) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; ``OSError``/``ValueError`` otherwise
    (the caller words them: its error class names the kind of input)."""
    problem = input_problem(path, kind)
    if problem is not None:
        raise ValueError(problem)
    with open(path, "rb") as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"larger than {limit // 2**20} MiB; a {kind} is never that large")
    return data


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name one existing file (through links, '..' and hard links alike)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def json_text(document: Any, indent: int | None = 2) -> str:
    """Strict JSON (no NaN or Infinity, which JSON does not have: they become null)."""
    return json.dumps(_finite_or_none(document), indent=indent, allow_nan=False)


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and hasattr(value, "dtype"):  # a NumPy scalar
        return _finite_or_none(value.item())
    if hasattr(value, "tolist"):  # a NumPy array
        return _finite_or_none(value.tolist())
    return value


def write_json(path: str | Path, document: Any) -> None:
    """Write ``document`` as strict, indented JSON, atomically."""
    atomic_write(path, lambda stream: stream.write((json_text(document) + "\n").encode()))


def display_path(path: Path | str) -> str:
    """A path as the user would type it: relative to the working directory when inside it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def ensure_directory(path: str | Path) -> Path:
    """Make ``path`` (and its parents) a directory, or say in one line why it cannot be."""
    path = Path(path)
    try:
        if path.exists() and not path.is_dir():
            raise OutputError(f"{path}: exists and is not a directory")
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"{path}: cannot create the directory ({_reason(error)})") from None
    return path


def free_directory(path: str | Path, holds: Callable[[Path], bool]) -> Path:
    """``path`` when it ``holds`` nothing (absent, empty, or none of what the caller looks for);
    else the first of ``path-2``, ``path-3``, ... that does not: a run is never silently replaced.
    (A file where a directory is wanted is left for ``ensure_directory`` to refuse.)"""
    path = Path(path).resolve()  # '.' and 'runs/..' have names once resolved
    candidate, k = path, 1
    while candidate.is_dir() and holds(candidate):
        k += 1
        candidate = path.with_name(f"{path.name}-{k}")
    return candidate


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(stream)`` on a temporary file, fsync it, and rename it to ``path``.

    A symbolic link is refused: a link where a result goes may point at anything (another
    run's checkpoint, a file of the user's), and nnctl writes only where it was told.
    A target that is not a regular file (a device such as /dev/null, a FIFO)
    cannot be renamed over; it is written to directly.
    """
    path = Path(path)
    try:
        in_place = _check_target(path)
    except OSError as error:  # a name longer than the system allows, a loop of links, ...
        raise OutputError(f"{str(path)[:200]}: cannot write the file ({_reason(error)})") from None
    if in_place:
        _write_in_place(path, write)
        return
    ensure_directory(path.parent)
    temporary = path.parent / f".{path.name}.{os.urandom(6).hex()}.tmp"  # os.urandom: what secrets uses, without its import
    try:
        # O_EXCL: never reuse a name (nor follow a link); mode 0o666 lets the umask decide, as for any new file.
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as error:
        raise OutputError(f"{str(path)[:200]}: cannot write the file ({_reason(error)})") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise OutputError(f"{path}: cannot write the file ({_reason(error)})") from None
        raise
    _fsync_directory(path.parent)


def _check_target(path: Path) -> bool:
    """Refuse a link or a directory where a file goes; True when the target exists and is not a
    regular file (written in place)."""
    if path.is_symlink():
        raise OutputError(f"{path}: is a symbolic link; nnctl does not write through links (remove the link, "
                          "or give another name)")
    if path.is_dir():
        raise OutputError(f"{path}: is a directory; give a file name")
    return path.exists() and not stat.S_ISREG(path.stat().st_mode)


def _write_in_place(path: Path, write: Callable[[BinaryIO], None]) -> None:
    try:
        with os.fdopen(os.open(path, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0)), "wb") as stream:
            write(stream)
    except OSError as error:
        raise OutputError(f"{path}: cannot write the file ({_reason(error)})") from None


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (where the platform allows opening a directory)."""
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
