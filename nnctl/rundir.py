"""One writer per run directory, and a new run never mixed with an earlier one.

``RunDirectory.claim`` locks the directory a run writes (``.nnctl.lock``, an advisory
``flock`` the kernel drops when the process ends, even on SIGKILL): a second run into the
same directory fails at once, naming the PID that holds it.  A fresh run into a directory
that holds an earlier run writes into a hidden staging directory inside it, ``.nnctl-new-PID``,
and moves its files in when it ends (``commit``): the earlier run's files go first, into
``.nnctl-old-PID``, removed after.  So a run killed midway leaves the earlier run whole, and
only a run's own files ever move: anything else the directory holds (the data, the config, a
user's notes) stays where it is.  A run that fails before its end leaves nothing (``abandon``).
A resumed run writes in place: its files are its own.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from nnctl.errors import OutputError
from nnctl.files import ensure_directory

LOCK = ".nnctl.lock"
STAGING, EARLIER = ".nnctl-new-{pid}", ".nnctl-old-{pid}"  # inside the run directory, hidden

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks; runs are not guarded there
    fcntl = None


def _lock(directory: Path) -> tuple[int, Path] | None:
    """Hold ``directory``'s lock file; OutputError naming the holder when another process holds it.

    The file goes when the lock is released (``_unlock``: removed, then closed); a process that
    opened it just before then holds a lock on a file no longer there, so each lock taken is
    checked to be on the file the name still gives, and taken again if not."""
    if fcntl is None:  # pragma: no cover
        return None
    path = directory / LOCK
    for _ in range(100):
        try:
            handle = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666)
        except OSError as error:
            raise OutputError(f"{directory}: cannot lock the directory for writing ({error.strerror or error})") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(handle, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(handle)
            raise OutputError(f"{directory}: another nnctl run or sweep is writing here (PID {holder}); wait for "
                              "it to end, or give this one another output") from None
        try:
            same = os.stat(path, follow_symlinks=False).st_ino == os.fstat(handle).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(handle, 0)
            os.pwrite(handle, f"{os.getpid()}\n".encode(), 0)
            return handle, path
        os.close(handle)
    raise OutputError(f"{directory}: cannot lock the directory for writing (its lock file keeps changing)")


def _unlock(lock: tuple[int, Path] | None) -> None:
    if lock is not None:
        handle, path = lock
        try:
            path.unlink(missing_ok=True)  # while still held: nobody else holds a lock on it now
        except OSError:
            pass  # the directory is gone: nothing to tidy
        os.close(handle)  # closing the descriptor drops the flock


def is_held(directory: Path) -> bool:
    """Whether a live process holds ``directory``'s lock, by the PID its lock file names (the lock
    itself is never touched, so a process taking it at this moment is not disturbed)."""
    try:
        text = (Path(directory) / LOCK).read_text(encoding="ascii", errors="replace").strip()
        pid = int(text)
    except (OSError, ValueError):
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False  # the lock file of a process killed: nobody holds it
    except PermissionError:
        return True  # alive, another user's
    return True


@contextmanager
def held(directory: Path) -> Iterator[None]:
    """``directory`` locked while the block runs: a sweep's directory, while its runs write into it
    and its results are written (a second sweep into it fails at once, naming the first's PID)."""
    lock = _lock(directory)
    try:
        yield
    finally:
        _unlock(lock)


class RunDirectory:
    """The directory a run writes, locked while it does (see the module's docstring)."""

    def __init__(self, final: Path, directory: Path, locks: list, names: tuple[str, ...] = ()):
        self.final, self.directory, self._locks, self.names = final, directory, locks, names

    @property
    def staged(self) -> bool:
        return self.directory != self.final

    @classmethod
    def claim(cls, final: Path, fresh: bool, names: tuple[str, ...]) -> "RunDirectory":
        """Lock ``final`` (made if need be); a ``fresh`` run into a directory that holds some of a
        run's files (``names``) gets a locked staging directory inside it."""
        final = ensure_directory(final)
        locks = [_lock(final)]
        try:
            _remove_abandoned(final)
            if not (fresh and any(os.path.lexists(final / name) for name in names)):
                return cls(final, final, locks, names)
            staging = ensure_directory(final / STAGING.format(pid=os.getpid()))
            return cls(final, staging, locks, names)
        except BaseException:
            for handle in locks:
                _unlock(handle)
            raise

    def commit(self) -> None:
        """Put a staged run's files where they belong, the earlier run's gone; then unlock."""
        try:
            if self.staged:
                _move_in(self.directory, self.final, self.names)
        finally:
            self.directory = self.final  # in place, or where the error said: never removed by abandon
            self.release()

    def abandon(self) -> None:
        """The run wrote nothing worth keeping: drop a staging directory; then unlock."""
        try:
            if self.staged:
                shutil.rmtree(self.directory, ignore_errors=True)
        finally:
            self.release()

    def release(self) -> None:
        locks, self._locks = self._locks, []
        for handle in locks:
            _unlock(handle)


def _move_in(staging: Path, final: Path, names: tuple[str, ...]) -> None:
    """The earlier run's files aside (into ``EARLIER``), the new run's in, the earlier removed.
    Renames within one directory tree: each is atomic; a kill between them leaves no file of
    one run beside a file of the other."""
    earlier = final / EARLIER.format(pid=os.getpid())
    try:
        shutil.rmtree(earlier, ignore_errors=True)
        earlier.mkdir()
        for name in names:
            if os.path.lexists(final / name):
                os.rename(final / name, earlier / name)
        for name in names:
            if (staging / name).exists():
                os.rename(staging / name, final / name)
    except OSError as error:
        raise OutputError(f"{final}: cannot put the new run in place ({error.strerror or error}); it is in "
                          f"{staging}") from None
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(earlier, ignore_errors=True)


def _remove_abandoned(final: Path) -> None:
    """Staging and earlier-run folders that runs killed in ``final`` left (called under its lock)."""
    for pattern in (STAGING, EARLIER):
        for left in final.glob(pattern.format(pid="*")):
            if left.is_dir() and not left.is_symlink():
                shutil.rmtree(left, ignore_errors=True)
