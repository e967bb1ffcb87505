"""sweep-hidden --cluster: the sweep's runs on a real Dask scheduler and workers on 127.0.0.1.

Each test starts the scheduler and workers it needs (a LocalCluster of worker
processes, or `dask scheduler` / `dask worker` subprocesses when a test must kill
the scheduler or give a worker a broken environment) and stops them.  The sweep
is 4 hidden sizes x 2 seeds of circles for 200 epochs: about a second of work.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import re
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

distributed = pytest.importorskip("distributed")  # in the test extra, so CI always runs these

from nnctl import cluster, sweep  # noqa: E402
from nnctl.prep import prepare  # noqa: E402
from nnctl.cli import app  # noqa: E402
from nnctl.config import load_config  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
SIZES, SEEDS = "1,2,4,8", 2
SETTINGS = ["optimizer.epochs=200", "optimizer.learning_rate=0.5"]
WALL_TIME = {"seconds"}  # the only figures allowed to differ between two sweeps of the same config


# --------------------------------------------------------------------------- scheduler and workers


@pytest.fixture(scope="module")
def local_cluster():
    """A scheduler in this process and 2 worker processes with 1 thread each, as `dask worker --nthreads 1`."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as started, \
            distributed.Client(started.scheduler_address, set_as_default=False) as watcher:
        yield started.scheduler_address, watcher


@contextmanager
def scheduler_process(tmp_path: Path):
    """`dask scheduler` in a process of its own (so that a test can kill it); yields (process, address)."""
    file = tmp_path / "scheduler.json"
    process = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                "--port", "0", "--no-dashboard", "--scheduler-file", str(file)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield process, _address_in(file, process)
    finally:
        process.kill()
        process.wait()


def _address_in(file: Path, process: subprocess.Popen) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            return json.loads(file.read_text())["address"]
        except (OSError, ValueError, KeyError):
            time.sleep(0.05)
    raise RuntimeError("dask scheduler did not start")


# A worker that cannot import nnctl, as on a machine where it was never installed.
WITHOUT_NNCTL = """
import importlib.abc, sys
class NoNnctl(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "nnctl":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NoNnctl())
from distributed.cli.dask_worker import main
sys.argv[0] = "dask worker"
main()
"""


@contextmanager
def worker_process(address: str, without_nnctl: bool = False):
    """`dask worker ADDRESS --nthreads 1` (without a nanny, so that it is one process)."""
    program = ["-c", WITHOUT_NNCTL] if without_nnctl else ["-m", "distributed.cli.dask_worker"]
    process = subprocess.Popen([sys.executable, *program, address, "--nthreads", "1", "--no-nanny",
                                "--no-dashboard", "--host", "127.0.0.1"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield process
    finally:
        process.kill()
        process.wait()


# --------------------------------------------------------------------------- the sweep and its files


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    """A copy of the circles data, which a test may delete once the sweep has read it."""
    path = tmp_path_factory.mktemp("data") / "circles.csv"
    path.write_bytes((ROOT / "datasets" / "circles.csv").read_bytes())
    return path


def _settings(data: Path) -> list[str]:
    return [*SETTINGS, f"data.train={data}"]


def _sweep_args(data: Path, out: Path) -> list[str]:
    sets = sum((["--set", s] for s in _settings(data)), [])
    return ["sweep-hidden", str(ROOT / "configs" / "circles.yaml"), "--sizes", SIZES, "--seeds", str(SEEDS),
            *sets, "-o", str(out)]


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory, data_file):
    """The reference: the same sweep in 2 local processes (--jobs 2)."""
    out = tmp_path_factory.mktemp("local") / "sweep"
    result = runner.invoke(app, [*_sweep_args(data_file, out), "--jobs", "2"])
    assert result.exit_code == 0, result.output
    return out


def _without_wall_time(row: dict, directory: Path) -> dict:
    out = {k: v for k, v in row.items() if k not in WALL_TIME}
    if "output" in out:  # the run directory, relative to its sweep
        out["output"] = str(Path(out["output"]).relative_to(directory))
    return out


def _figures(directory: Path) -> dict:
    """Every figure a sweep wrote, but its wall times: runs.csv, candidates.csv, results.json, each run's
    history, summary and checkpoint arrays, and the best checkpoint's arrays."""
    figures = {name: [_without_wall_time(row, directory) for row in csv.DictReader((directory / name).open())]
               for name in ("runs.csv", "candidates.csv")}
    results = json.loads((directory / "results.json").read_text())
    results["runs"] = [_without_wall_time(r, directory) for r in results["runs"]]
    results["candidates"] = [_without_wall_time(c, directory) for c in results["candidates"]]
    figures["results.json"] = results
    for run_dir in sorted((directory / "runs").iterdir()):
        rows = list(csv.DictReader((run_dir / "history.csv").open()))
        summary = json.loads((run_dir / "summary.json").read_text())
        figures[run_dir.name] = {"history": [_without_wall_time(row, directory) for row in rows],
                                 "summary": _without_wall_time(summary, directory),
                                 "files": sorted(p.name for p in run_dir.iterdir())}
        for name in ("best.npz", "last.npz"):
            with np.load(run_dir / name) as arrays:
                figures[run_dir.name][name] = {key: arrays[key].tobytes() for key in arrays.files
                                               if key not in ("meta", "state_history")}  # the history: above
                if "state_history" in arrays.files:  # but its seconds column, the wall time of each epoch
                    columns = json.loads(str(arrays["meta"]))["training_state"]["history_columns"]
                    figures[run_dir.name][name]["history"] = np.delete(
                        arrays["state_history"], columns.index("seconds"), axis=1).tobytes()
    with np.load(directory / "best.npz") as arrays:
        figures["best.npz"] = {key: arrays[key].tobytes() for key in arrays.files if key != "meta"}
    return figures


# --------------------------------------------------------------------------- tests


def test_without_distributed_the_flag_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as when it is not installed
    result = runner.invoke(app, [*_sweep_args(ROOT / "datasets" / "circles.csv", tmp_path / "s"),
                                 "--cluster", "tcp://127.0.0.1:8786"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.strip() == ("error: --cluster needs Dask's distributed package, which is not installed: "
                                     "pip install 'nnctl[dask]' (in a checkout of nnctl: pip install '.[dask]')")


def test_the_command_line_loads_dask_only_for_a_cluster():
    code = "import sys, nnctl.cli; print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "[]"


def test_jobs_and_cluster_together_are_refused(tmp_path):
    result = runner.invoke(app, [*_sweep_args(ROOT / "datasets" / "circles.csv", tmp_path / "s"), "--jobs", "2",
                                 "--cluster", "tcp://127.0.0.1:8786"])
    assert result.exit_code == 1 and "--jobs and --cluster: give one" in result.stderr


def test_cluster_sweep_equals_local_sweep_and_sends_the_data_once(local_cluster, local_sweep, data_file,
                                                                   tmp_path, monkeypatch):
    address, watcher = local_cluster
    watcher.wait_for_workers(2, timeout=30)
    scattered, submitted = [], []
    real_scatter, real_submit = distributed.Client.scatter, distributed.Client.submit

    def spy_scatter(client, data, *args, **kwargs):
        scattered.append((type(data[0]).__name__, kwargs.get("broadcast")))
        return real_scatter(client, data, *args, **kwargs)

    def spy_submit(client, fn, *args, **kwargs):
        submitted.append([type(a).__name__ for a in args])
        return real_submit(client, fn, *args, **kwargs)

    def load_then_delete(config, split_rng):  # the workers cannot read the file: it is gone before any run
        data = real_prepare(config, split_rng)
        data_file.unlink()
        return data

    real_prepare = prepare.prepare_data
    monkeypatch.setattr(prepare, "prepare_data", load_then_delete)
    monkeypatch.setattr(distributed.Client, "scatter", spy_scatter)
    monkeypatch.setattr(distributed.Client, "submit", spy_submit)
    out = tmp_path / "sweep"
    result = runner.invoke(app, [*_sweep_args(data_file, out), "--cluster", address])
    assert result.exit_code == 0, result.output
    assert not data_file.exists()
    assert scattered == [("PreparedData", True)]  # once, to every worker
    assert submitted == [["Unit", "Future"]] * 4  # one task per hidden size: its unit of work and the data's handle
    assert sum(line.startswith("run hidden=") for line in result.stdout.splitlines()) == 8
    assert _figures(out) == _figures(local_sweep)


def test_a_worker_killed_mid_sweep_loses_nothing(local_cluster, local_sweep, tmp_path):
    address, watcher = local_cluster
    watcher.wait_for_workers(2, timeout=30)
    config = load_config(ROOT / "configs" / "circles.yaml", _settings(ROOT / "datasets" / "circles.csv"))
    killed = []

    def kill_a_busy_worker(outcome):  # at the first run back, while the other groups are being trained
        if killed:
            return
        deadline, busy = time.monotonic() + 5, []
        while not busy and time.monotonic() < deadline:  # the next group may take a moment to be handed out
            busy = [worker for worker, keys in watcher.processing().items() if keys]
        assert all(key.startswith("train_group") for key in watcher.processing()[busy[0]])
        pids = watcher.run(os.getpid)
        os.kill(pids[busy[0]], signal.SIGKILL)
        killed.append(busy[0])

    with cluster.connect(address) as executor:
        sweep.sweep(config, sweep.parse_sizes(SIZES), SEEDS, 1, tmp_path / "sweep", kill_a_busy_worker, executor)
    assert killed and killed[0] not in watcher.scheduler_info()["workers"]
    assert _figures(tmp_path / "sweep") == _figures(local_sweep)


def test_a_worker_of_another_nnctl_version_is_refused(local_cluster, monkeypatch):
    address, watcher = local_cluster
    watcher.wait_for_workers(2, timeout=30)
    monkeypatch.setattr(cluster, "__version__", "0.0.1")
    with pytest.raises(cluster.ClusterError, match=r"runs nnctl \S+, this machine 0.0.1; install the same nnctl"):
        with cluster.connect(address):
            pass


def test_an_unreachable_scheduler_is_one_error_within_the_timeout(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    result = runner.invoke(app, [*_sweep_args(ROOT / "datasets" / "circles.csv", tmp_path / "s"),
                                 "--cluster", f"tcp://127.0.0.1:{port}"])
    assert time.monotonic() - started < cluster.CONNECT_SECONDS + 3
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
    # "connection refused" as a rule; on a heavily loaded machine Dask's retries may run out first
    assert re.search(rf"--cluster tcp://127\.0\.0\.1:{port}: no Dask scheduler answered within "
                     rf"{cluster.CONNECT_SECONDS:g} s \((connection refused|the port did not answer as a Dask "
                     r"scheduler does)\); is `dask scheduler` running there", result.stderr), result.stderr
    with socket.socket() as silent:  # a port that accepts connections and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        started = time.monotonic()
        with pytest.raises(cluster.ClusterError, match="no Dask scheduler answered within 1 s"):
            with cluster.connect(f"tcp://127.0.0.1:{silent.getsockname()[1]}", timeout=1.0):
                pass
        assert time.monotonic() - started < 3
    with pytest.raises(cluster.ClusterError, match="not a scheduler address"):
        with cluster.connect("tcp://127.0.0.1:port"):
            pass


def test_no_workers_or_workers_without_nnctl_are_one_error_before_any_run(tmp_path, monkeypatch):
    config = load_config(ROOT / "configs" / "circles.yaml", _settings(ROOT / "datasets" / "circles.csv"))
    with scheduler_process(tmp_path) as (_, address):
        started = time.monotonic()
        with pytest.raises(cluster.ClusterError, match=r"the scheduler has no workers \(waited 1 s\); start some "
                                                       rf"with: dask worker {address} --nworkers N --nthreads 1"):
            with cluster.connect(address, timeout=1.0):
                pass
        assert time.monotonic() - started < 3
        with worker_process(address, without_nnctl=True):
            with pytest.raises(cluster.ClusterError, match=r"worker tcp://127.0.0.1:\d+ cannot import nnctl.sweep "
                                                           r"\(ModuleNotFoundError: No module named 'nnctl'\)"):
                with cluster.connect(address, timeout=30):
                    pass
            # A worker that joins after the check fails the sweep the same way, instead of hanging it.
            monkeypatch.setattr(cluster, "_check_workers", lambda client, address: None)
            with pytest.raises(cluster.ClusterError, match="a worker cannot import what training needs"):
                with cluster.connect(address, timeout=30) as executor:
                    sweep.sweep(config, [(1,)], 1, 1, tmp_path / "sweep", None, executor)
    assert not (tmp_path / "sweep" / "runs").exists()


def test_a_scheduler_that_goes_away_is_one_error_and_finished_runs_stay(tmp_path):
    config = load_config(ROOT / "configs" / "circles.yaml", _settings(ROOT / "datasets" / "circles.csv"))
    finished = []
    with scheduler_process(tmp_path) as (scheduler, address), worker_process(address):
        def kill_the_scheduler(outcome):
            finished.append(outcome)
            if scheduler.poll() is None:
                scheduler.send_signal(signal.SIGKILL)
                finished.append(time.monotonic())

        with pytest.raises(sweep.SweepStopped) as stopped:
            with cluster.connect(address, timeout=30) as executor:
                sweep.sweep(config, sweep.parse_sizes(SIZES), SEEDS, 1, tmp_path / "sweep", kill_the_scheduler,
                            executor)
        assert time.monotonic() - finished[1] < cluster.CONNECT_SECONDS + 3
    message = str(stopped.value)
    assert message.startswith(f"--cluster {address}: lost the connection to the scheduler")
    assert f"the 2 of 8 runs that finished are kept in {tmp_path / 'sweep' / 'runs'}" in message
    kept = [row["output"] for row in csv.DictReader((tmp_path / "sweep" / "runs.csv").open())]
    assert kept == [finished[0].output, finished[2].output]
    for run_dir in map(Path, kept):
        assert sorted(p.name for p in run_dir.iterdir()) == [
            "best.npz", "config.yaml", "history.csv", "last.npz", "summary.json"]


def test_losing_every_worker_is_one_error_and_finished_runs_stay(tmp_path):
    config = load_config(ROOT / "configs" / "circles.yaml", _settings(ROOT / "datasets" / "circles.csv"))
    with scheduler_process(tmp_path) as (_, address), worker_process(address) as worker:
        def kill_the_only_worker(outcome):
            if worker.poll() is None:
                worker.kill()

        started = time.monotonic()
        with pytest.raises(sweep.SweepStopped, match=f"--cluster {address}: the sweep's data was lost with the "
                                                     r"workers that held it \(every worker left or died\)"):
            with cluster.connect(address, timeout=30) as executor:
                sweep.sweep(config, sweep.parse_sizes(SIZES), SEEDS, 1, tmp_path / "sweep", kill_the_only_worker,
                            executor)
        assert time.monotonic() - started < 15
    assert len(list(csv.DictReader((tmp_path / "sweep" / "runs.csv").open()))) == SEEDS


def _grid_args(data: Path, out: Path) -> list[str]:
    sets = sum((["--set", s] for s in _settings(data)), [])
    return ["sweep", str(ROOT / "configs" / "circles.yaml"), "--grid", "model.hidden=[2],[4]",
            "--grid", "optimizer.learning_rate=0.3,1.0", "--folds", "2", "--seeds", "2", *sets, "-o", str(out)]


def test_a_grid_sweep_with_folds_is_the_same_on_one_process_two_and_a_cluster(local_cluster, tmp_path):
    """nnctl sweep --grid ... --folds: --jobs 1, --jobs 2 and a loopback Dask cluster write the same figures."""
    address, watcher = local_cluster
    watcher.wait_for_workers(2, timeout=30)
    data = ROOT / "datasets" / "circles.csv"
    outcomes = {}
    for name, extra in (("one", ["--jobs", "1"]), ("two", ["--jobs", "2"]), ("cluster", ["--cluster", address])):
        result = runner.invoke(app, [*_grid_args(data, tmp_path / name), *extra])
        assert result.exit_code == 0, result.output
        outcomes[name] = _figures(tmp_path / name)
    assert outcomes["one"] == outcomes["two"] == outcomes["cluster"]
    runs = outcomes["one"]["runs.csv"]
    assert len(runs) == 4 * 2 * 2 and {r["fold"] for r in runs} == {"1", "2"}


def test_one_candidate_with_many_seeds_keeps_both_workers_busy(local_cluster, tmp_path, monkeypatch):
    """1 candidate x 8 seeds on 2 workers: 2 units of 4 stacked seeds (one would leave a worker idle)."""
    address, watcher = local_cluster
    watcher.wait_for_workers(2, timeout=30)
    units = []
    real_submit = distributed.Client.submit

    def spy_submit(client, fn, *args, **kwargs):
        units.append(len(args[0].configs))
        return real_submit(client, fn, *args, **kwargs)

    monkeypatch.setattr(distributed.Client, "submit", spy_submit)
    args = ["sweep-hidden", str(ROOT / "configs" / "circles.yaml"), "--sizes", "4", "--seeds", "8",
            "--set", "optimizer.epochs=5", "-o", str(tmp_path / "s")]
    result = runner.invoke(app, [*args, "--cluster", address])
    assert result.exit_code == 0, result.output
    assert units == [4, 4]
    local = runner.invoke(app, [*args[:-1], str(tmp_path / "local"), "--jobs", "1"])
    assert local.exit_code == 0 and _figures(tmp_path / "s") == _figures(tmp_path / "local")


@pytest.mark.parametrize("reply", [b"\xff" * 64, bytes(range(256)) * 4, b"HTTP/1.1 400 Bad Request\r\n\r\n"])
def test_a_port_that_answers_with_bytes_that_are_not_dask_is_one_error(reply):
    """Random bytes where Dask expects its frames once ended in MemoryError inside Dask."""
    import threading

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()

        def answer():
            while True:
                try:
                    connection, _ = server.accept()
                except OSError:
                    return
                with connection:
                    try:
                        connection.sendall(reply)
                        time.sleep(0.2)
                    except OSError:
                        pass

        threading.Thread(target=answer, daemon=True).start()
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        with pytest.raises(cluster.ClusterError) as refused:
            with cluster.connect(address, timeout=2.0):
                pass
    message = str(refused.value)
    assert message.startswith(f"--cluster {address}: ") and "\n" not in message
    assert ("is not a Dask scheduler" in message or "no Dask scheduler answered" in message), message
