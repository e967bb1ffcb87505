"""One writer per run directory, and a new run never mixed with an earlier one.

``RunDirectory.claim`` locks the directory a run writes (``.nnctl.lock``, an advisory
``flock`` the kernel drops when the process ends, even on SIGKILL): a second run into the
same directory fails at once, naming the PID that holds it.  A fresh run into a directory
that holds an earlier run writes into a hidden staging directory beside it,
``.NAME.new-PID``, and swaps it in when it ends (``commit``), so a run killed midway
leaves the earlier run whole; one that fails before its first checkpoint leaves nothing
(``abandon``).  A resumed run writes in place: its files are its own.
"""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path
from typing import Callable

from nnctl.errors import OutputError
from nnctl.files import ensure_directory

LOCK = ".nnctl.lock"
STAGING = ".{name}.new-{pid}"  # beside the run directory, hidden; never read as a run

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
            raise OutputError(f"{directory}: cannot lock the run directory ({error.strerror or error})") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(handle, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(handle)
            raise OutputError(f"{directory}: another nnctl run is writing here (PID {holder}); wait for it to "
                              "end, or give this run another output") from None
        try:
            same = os.stat(path, follow_symlinks=False).st_ino == os.fstat(handle).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(handle, 0)
            os.pwrite(handle, f"{os.getpid()}\n".encode(), 0)
            return handle, path
        os.close(handle)
    raise OutputError(f"{directory}: cannot lock the run directory (its lock file keeps changing)")


def _unlock(lock: tuple[int, Path] | None) -> None:
    if lock is not None:
        handle, path = lock
        try:
            path.unlink(missing_ok=True)  # while still held: nobody else holds a lock on it now
        except OSError:
            pass  # the directory went (a staging directory swapped away): nothing to tidy
        os.close(handle)  # closing the descriptor drops the flock


class RunDirectory:
    """The directory a run writes, locked while it does (see the module's docstring)."""

    def __init__(self, final: Path, directory: Path, locks: list):
        self.final, self.directory, self._locks = final, directory, locks

    @property
    def staged(self) -> bool:
        return self.directory != self.final

    @classmethod
    def claim(cls, final: Path, fresh: bool, holds_run: Callable[[Path], bool]) -> "RunDirectory":
        """Lock ``final`` (made if need be); a ``fresh`` run into a directory that ``holds_run``
        gets a locked staging directory beside it."""
        final = ensure_directory(final)
        locks = [_lock(final)]
        try:
            if not (fresh and holds_run(final)):
                return cls(final, final, locks)
            _remove_abandoned(final)
            staging = final.parent / STAGING.format(name=final.name, pid=os.getpid())
            shutil.rmtree(staging, ignore_errors=True)  # this PID's, from a run long gone
            locks.append(_lock(ensure_directory(staging)))
            return cls(final, staging, locks)
        except BaseException:
            for handle in locks:
                _unlock(handle)
            raise

    def commit(self) -> None:
        """Put a staged run where it belongs, the earlier run's files gone; then unlock."""
        try:
            if self.staged:
                _swap_in(self.directory, self.final)
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


def _swap_in(staging: Path, final: Path) -> None:
    """``final`` becomes what ``staging`` holds: exchanged in one step where the system can
    (Linux renameat2), else by two renames; the earlier run is then removed."""
    old = final.parent / f".{final.name}.old-{os.getpid()}"
    shutil.rmtree(old, ignore_errors=True)
    try:
        if _exchange(staging, final):
            os.rename(staging, old)  # staging now holds the earlier run
        else:
            os.rename(final, old)
            os.rename(staging, final)
    except OSError as error:
        raise OutputError(f"{final}: cannot put the new run in place ({error.strerror or error}); it is in "
                          f"{staging}") from None
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories atomically (Linux's renameat2 with RENAME_EXCHANGE); False where unsupported."""
    try:
        import ctypes

        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def _remove_abandoned(final: Path) -> None:
    """Staging directories of runs into ``final`` that were killed (their lock is free)."""
    for staging in final.parent.glob(STAGING.format(name=glob.escape(final.name), pid="*")):
        if staging.is_symlink() or not staging.is_dir():
            continue
        try:
            handle = _lock(staging)
        except OutputError:
            continue  # a run is still writing there
        try:
            shutil.rmtree(staging, ignore_errors=True)
        finally:
            _unlock(handle)
