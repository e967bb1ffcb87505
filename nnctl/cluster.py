"""Sweeps on a Dask cluster: ``nnctl sweep-hidden CONFIG --cluster tcp://HOST:PORT``.

The only module that imports Dask's ``distributed``, and only when a sweep asks
for a cluster, so the package stays optional (``pip install 'nnctl[dask]'``).

``connect`` gives a ``ClusterExecutor``: a ``concurrent.futures`` executor over
a Dask client, with the ``share`` method ``sweep.train_groups`` looks for, which
scatters the sweep's data to every worker once.  Everything that can go wrong
on the way becomes one ``ClusterError`` line, within a bounded time:

* an address with no scheduler behind it: ``CONNECT_SECONDS`` to give up;
* a scheduler with no workers: ``CONNECT_SECONDS`` waiting for one;
* workers that cannot import nnctl (or a different nnctl version): a probe sent
  to every worker before any run, which reports what is missing where;
* a scheduler that goes away mid-sweep: Dask cancels the client's tasks as soon
  as the connection drops; the runs already finished are on disk by then;
* every worker gone at once: the scattered data is lost with them, and Dask
  cancels the tasks that need it, at once too;
* a worker that dies mid-sweep is no error: the scheduler gives its task to
  another worker (up to ``distributed.scheduler.allowed-failures`` times, 3 by
  default, before it reports the task as one that kills workers).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from nnctl import __version__
from nnctl.errors import NnctlError

CONNECT_SECONDS = 5.0  # to reach the scheduler, and to see a first worker
INSTALL = "pip install 'nnctl[dask]' (in a checkout of nnctl: pip install '.[dask]')"
PROBED_MODULES = ("numpy", "yaml", "nnctl.sweep")  # what a worker imports to train a group


class ClusterError(NnctlError):
    """The Dask cluster cannot be reached or cannot run the sweep."""


def _distributed():
    """The ``distributed`` package, or a ClusterError that says how to install it."""
    try:
        import distributed
    except ImportError:
        raise ClusterError(f"--cluster needs Dask's distributed package, which is not installed: {INSTALL}") from None
    return distributed


@contextmanager
def connect(address: str, timeout: float = CONNECT_SECONDS) -> Iterator["ClusterExecutor"]:
    """An executor on the scheduler at ``address`` with at least one worker that can train."""
    distributed = _distributed()
    with _quiet_dask_logs():
        client = _client(distributed, address, timeout)
        try:
            _wait_for_a_worker(client, address, timeout)
            _check_workers(client, address)
            yield ClusterExecutor(client, address)
        finally:
            client.close(timeout=timeout)


def _client(distributed, address: str, timeout: float):
    _check_a_scheduler_answers(distributed, address, timeout)
    try:
        return distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise _no_answer(address, timeout, error) from None
    except Exception as error:  # noqa: BLE001 - as in _check_a_scheduler_answers
        raise _not_dask(address, error) from None


def _check_a_scheduler_answers(distributed, address: str, timeout: float) -> None:
    """Open a connection and exchange Dask's handshake, all within ``timeout``.

    Dask bounds the connection but not the handshake after it, so a port that
    accepts and never answers would hang the client; asking here first bounds both."""

    async def handshake() -> None:
        # Dask's own retries end a little earlier, so that a refused connection is reported as such.
        comm = await asyncio.wait_for(distributed.comm.connect(address, timeout=0.8 * timeout), timeout)
        await comm.close()

    try:
        _, location = distributed.comm.addressing.parse_address(address)
        _, port = distributed.comm.addressing.parse_host_port(location)
        if not 0 < port < 65536:
            raise ValueError(f"port {port} is not between 1 and 65535")
    except (ValueError, TypeError) as error:
        raise ClusterError(f"--cluster {address!r}: not a scheduler address ({error}); "
                           "give it as tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786") from None
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as thread:  # a loop of its own, whatever the caller runs
            thread.submit(asyncio.run, handshake()).result()
    except (OSError, TimeoutError) as error:
        raise _no_answer(address, timeout, error) from None
    except Exception as error:  # noqa: BLE001 - whatever Dask raises on bytes that are not its protocol
        raise _not_dask(address, error) from None


def _not_dask(address: str, error: BaseException) -> ClusterError:
    """Something answered, but not as a Dask scheduler (random bytes made Dask's reader fail with
    MemoryError, a garbled frame with anything else): one line, whatever Dask raised."""
    return ClusterError(f"--cluster {address}: what answers there is not a Dask scheduler ({type(error).__name__} "
                        "while reading its first message); check the address and port")


def _no_answer(address: str, timeout: float, error: BaseException) -> ClusterError:
    found = re.search(r"\[Errno -?\d+\] ([^'\]]+)", f"{error} {error.__cause__}")
    reason = found.group(1).strip().lower() if found else "the port did not answer as a Dask scheduler does"
    return ClusterError(f"--cluster {address}: no Dask scheduler answered within {timeout:g} s ({reason}); "
                        "is `dask scheduler` running there, and the port open?")


def _wait_for_a_worker(client, address: str, timeout: float) -> None:
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (TimeoutError, OSError):
        raise ClusterError(f"--cluster {address}: the scheduler has no workers (waited {timeout:g} s); start "
                           f"some with: dask worker {address} --nworkers N --nthreads 1") from None


def _check_workers(client, address: str) -> None:
    """Every worker can import what training needs, and runs this client's nnctl version."""
    problems = []
    for worker, (missing, version) in sorted(client.run(_import_probe(), PROBED_MODULES).items()):
        if missing:
            problems.append(f"worker {worker} cannot import {missing}")
        elif version != __version__:
            problems.append(f"worker {worker} runs nnctl {version}, this machine {__version__}")
    if problems:
        raise ClusterError(f"--cluster {address}: {'; '.join(problems)}; install the same nnctl on every "
                           f"worker machine: {INSTALL}")


def _import_probe() -> Callable[[tuple[str, ...]], tuple[str, str | None]]:
    """A function for the workers: (the first module it cannot import, with why; nnctl's version).

    Made inside a function so that Dask sends its code along (by value): a worker
    without nnctl can still run it."""

    def probe(modules: tuple[str, ...]) -> tuple[str, str | None]:
        import importlib

        for name in modules:
            try:
                importlib.import_module(name)
            except Exception as error:  # noqa: BLE001 - any failure to import is the answer
                return f"{name} ({type(error).__name__}: {error})", None
        return "", importlib.import_module("nnctl").__version__

    return probe


class ClusterExecutor(concurrent.futures.Executor):
    """``submit`` runs a function on a worker of the cluster; ``share`` sends a value to every worker once.

    The futures it returns are ``concurrent.futures`` futures; Dask's failures
    reach them as ClusterError (errors raised by the function itself, such as
    an NnctlError, come through unchanged)."""

    def __init__(self, client, address: str):
        self.client, self.address = client, address
        self._executor = client.get_executor(pure=False)

    @property
    def workers(self) -> int:
        """How many workers the cluster has now: the sweep splits its work to keep them busy."""
        try:
            return max(1, len(self.client.scheduler_info().get("workers", {})))
        except Exception:  # noqa: BLE001 - a guess is enough: the work is split the same way without it
            return 1

    def share(self, value: Any) -> Any:
        """Send ``value`` to every worker now; pass the handle returned to ``submit`` in its place."""
        try:
            [handle] = self.client.scatter([value], broadcast=True, hash=False)
        except Exception as error:  # noqa: BLE001 - explained, or raised as it is
            raise self._explain(error) from None
        return handle

    def submit(self, fn, /, *args, **kwargs) -> concurrent.futures.Future:
        return self._explained(self._executor.submit(fn, *args, **kwargs))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._executor.shutdown(wait=wait and not cancel_futures)

    def _explained(self, inner: concurrent.futures.Future) -> concurrent.futures.Future:
        """A future that holds ``inner``'s result, or a ClusterError saying what went wrong."""
        outer: concurrent.futures.Future = concurrent.futures.Future()

        def copy(done: concurrent.futures.Future) -> None:
            if outer.cancelled():
                return
            if done.cancelled():
                outer.set_exception(self._cancelled())
            elif done.exception() is not None:
                outer.set_exception(self._explain(done.exception()))
            else:
                outer.set_result(done.result())

        outer.add_done_callback(lambda future: inner.cancel() if future.cancelled() else None)
        inner.add_done_callback(copy)
        return outer

    def _cancelled(self) -> ClusterError:
        """Dask cancels the client's tasks when the scheduler is lost, or when the data they need is."""
        if self.client.status == "running":
            return ClusterError(f"--cluster {self.address}: the sweep's data was lost with the workers that held it "
                                "(every worker left or died); start workers and run the sweep again")
        return ClusterError(f"--cluster {self.address}: lost the connection to the scheduler "
                            "(it stopped, or the network between here and there failed)")

    def _explain(self, error: BaseException) -> BaseException:
        if isinstance(error, NnctlError):
            return error
        if isinstance(error, ImportError) or "No module named" in str(error):  # Dask may wrap it in an Exception
            return ClusterError(f"--cluster {self.address}: a worker cannot import what training needs ({error}); "
                                f"install the same nnctl on every worker machine: {INSTALL}")
        if type(error).__name__ == "KilledWorker":
            return ClusterError(f"--cluster {self.address}: a group of runs was lost with every worker that tried "
                                f"it (Dask's allowed-failures): {error}")
        if type(error).__name__ in {"CommClosedError", "FutureCancelledError", "CancelledError"}:
            return ClusterError(f"--cluster {self.address}: lost the connection to the scheduler ({error})")
        if type(error).__module__.split(".")[0] == "distributed":  # e.g. no worker left for no-workers-timeout
            return ClusterError(f"--cluster {self.address}: Dask gave up on a group of runs "
                                f"({type(error).__name__}: {error})")
        return error  # anything else is a bug, and shows as one


@contextmanager
def _quiet_dask_logs() -> Iterator[None]:
    """Dask logs its retries and lost connections on stderr; nnctl says what went wrong in one line instead."""
    names = ["distributed", *(name for name in logging.root.manager.loggerDict if name.startswith("distributed."))]
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
