"""The hidden-size sweep: train one config at several hidden-layer sizes.

No theory fixes the size of the hidden layers, so the sound method is to try
candidates and keep the one that does best on held-out rows.  Each candidate
is trained with ``--seeds`` seeds spawned from the config's seed
(``np.random.SeedSequence.spawn``), all on the config's train/validation split
(``data.split_seed``), so a result depends neither on the order of the runs
nor on how many run at once, nor where.  Never prints: progress goes to ``on_run``.

Where the runs go: any ``concurrent.futures``-style executor.  The unit of work
is ``train_group``: all seeds of one candidate, trained in memory on the
sweep's data, which reaches the executor once (``share``).  The groups come
back as they finish, in any order, and this process writes each run's
directory, so local processes (``--jobs``) and a Dask cluster (``--cluster``,
see cluster.py) share one path and write the same files.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import shutil
import statistics
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from nnctl import run
from nnctl.prep import prepare
from nnctl.checkpoint import BEST
from nnctl.files import atomic_write, ensure_directory, write_json
from nnctl.config import MAX_HIDDEN_UNITS, Config, dump_config, task_of_loss
from nnctl.core.losses import LOSSES
from nnctl.core.model import count_parameters, parameter_count
from nnctl.data import write_csv
from nnctl.errors import ConfigError, DataError, NnctlError, OutputError, TrainingError

DEFAULT_SIZES: tuple[tuple[int, ...], ...] = ((), (1,), (2,), (3,), (4,), (8,), (16,), (32,))
FAR_BELOW = 0.1  # a perceptron this far below the best (accuracy or R^2) is called out


def parse_sizes(text: str) -> list[tuple[int, ...]]:
    """'0,1,8,16x16' -> [(), (1,), (8,), (16, 16)]: 0 is the perceptron, x joins layers."""
    sizes = []
    for item in text.split(","):
        item = item.strip()
        try:
            layers = tuple(int(part) for part in item.split("x"))
        except ValueError:
            layers = (-1,)
        if layers == (0,):
            layers = ()
        if any(units < 1 or units > MAX_HIDDEN_UNITS for units in layers):
            raise ConfigError(f"--sizes {text!r}: {item!r} is not a size; use 0 or whole numbers from 1 to "
                              f"{MAX_HIDDEN_UNITS} joined by x, e.g. 0,2,8,16x16")
        if layers in sizes:
            raise ConfigError(f"--sizes {text!r}: {item!r} appears twice")
        sizes.append(layers)
    return sizes


def label(hidden: Sequence[int]) -> str:
    return "x".join(map(str, hidden)) if hidden else "0"


def run_seeds(seed: int, count: int) -> list[int]:
    """``count`` seeds spawned from the config's seed."""
    return [int(child.generate_state(1)[0]) for child in np.random.SeedSequence(seed).spawn(count)]


def run_config(config: Config, hidden: tuple[int, ...], seed: int, directory: Path) -> Config:
    """The config of one run: only the hidden layers, the seed and the output change."""
    activation = config.model.activation
    if isinstance(activation, tuple):
        if len(set(activation)) > 1:
            raise ConfigError("model.activation: sweep-hidden changes the number of hidden layers, so it needs "
                              f"one activation for all of them, got {list(activation)}")
        activation = activation[0] if activation else "sigmoid"
    return replace(
        config,
        model=replace(config.model, hidden=hidden, activation=activation),
        data=replace(config.data, split_seed=config.split_seed),
        seed=seed,
        output=directory / "runs" / f"h{label(hidden)}-s{seed}",
    )


@dataclass(frozen=True)
class RunOutcome:
    """What one run of the sweep reached, at its best epoch."""

    candidate: str
    seed: int
    parameters: int
    train_loss: float
    val_loss: float
    val_metric: float  # validation accuracy, or R^2 for regression
    val_mse: float | None  # regression only
    best_epoch: int
    epochs: int
    seconds: float
    output: str
    diverged: bool = False  # the loss stopped being finite; the figures are NaN
    test_loss: float | None = None  # with data.test: the best epoch's figures on the test rows, which the
    test_metric: float | None = None  # sweep never looks at while choosing (accuracy, or R^2)
    converged: bool = True  # False: the monitored figure was still improving at the last epoch


@dataclass(frozen=True)
class TrainedRun:
    """One run as it comes back from wherever it was trained: its figures, and the files of its
    directory (None for a run that diverged in its first epoch: ``nnctl train`` writes nothing then)."""

    outcome: RunOutcome
    files: run.FinishedRun | None


def train_group(configs: list[Config], data: prepare.PreparedData) -> list[TrainedRun]:
    """Train all seeds of one candidate: the unit of work an executor runs.

    Several seeds train as one stacked computation (``run.train_seeds``), with the
    results each would reach alone.  Touches no file: the data comes as an argument,
    the results go back."""
    if len(configs) == 1:
        return [train_one(configs[0], data)]
    results = run.train_seeds(configs, data, write_files=False)
    return [_trained(config, result) for config, result in zip(configs, results)]


def train_one(config: Config, data: prepare.PreparedData) -> TrainedRun:
    """Train one run in memory and sum it up."""
    try:
        result: run.RunResult | TrainingError = run.train(config, data=data, write_files=False)
    except TrainingError as error:
        result = error
    return _trained(config, result)


def _trained(config: Config, result: run.RunResult | TrainingError) -> TrainedRun:
    """A run's outcome and files.  A run that diverged is recorded as such, so one unlucky
    candidate does not end the sweep."""
    if isinstance(result, run.RunDiverged):  # its directory holds the last finite epoch, as with nnctl train
        return TrainedRun(_diverged(config), run.finished_run(result.result))
    if isinstance(result, TrainingError):
        return TrainedRun(_diverged(config), None)
    return TrainedRun(_outcome(config, result), run.finished_run(result))


def _diverged(config: Config) -> RunOutcome:
    nan = float("nan")
    return RunOutcome(candidate=label(config.model.hidden), seed=config.seed, parameters=0, train_loss=nan,
                      val_loss=nan, val_metric=nan, val_mse=nan if task_of_loss(config.loss) == "regression" else None,
                      best_epoch=0, epochs=0, seconds=0.0, output=str(config.output), diverged=True)


def _outcome(config: Config, result: run.RunResult) -> RunOutcome:
    best = {k: v for k, v in result.best_row.items() if k.startswith(("train_", "val_"))}
    regression = task_of_loss(config.loss) == "regression"
    metric = "r2" if regression else "accuracy"
    prefix = "val_" if "val_loss" in best else "train_"
    return RunOutcome(
        candidate=label(config.model.hidden), seed=config.seed, parameters=parameter_count(result.layers),
        train_loss=best["train_loss"], val_loss=best.get("val_loss", best["train_loss"]),
        val_metric=best[prefix + metric], val_mse=best[prefix + "mse"] if regression else None,
        best_epoch=result.best_row["epoch"], epochs=len(result.rows),
        seconds=result.seconds, output=str(config.output),
        test_loss=(result.summary.get("test") or {}).get("test_loss"),
        test_metric=(result.summary.get("test") or {}).get(f"test_{metric}"),
        converged=result.convergence_note is None,
    )


@dataclass(frozen=True)
class CandidateSummary:
    candidate: str
    parameters: int
    runs: int
    train_loss: tuple[float, float]  # (mean, std) over seeds
    val_loss: tuple[float, float]
    val_metric: tuple[float, float]
    val_mse: tuple[float, float] | None
    epochs: float
    seconds: float
    diverged: int = 0  # runs whose loss stopped being finite; the figures are over the others
    unconverged: int = 0  # runs still improving at their last epoch: their figures may understate the candidate

    def standard_error(self, key: str) -> float:
        return getattr(self, key)[1] / math.sqrt(self.runs)


@dataclass
class SweepResult:
    task: str
    has_validation: bool  # False with data.validation: 0; the "val" figures are then training figures
    runs: list[RunOutcome]
    candidates: list[CandidateSummary]
    best: str  # the candidate with the best mean score
    simplest: str  # the smallest candidate within one standard error of the best
    perceptron_note: str | None
    files: dict[str, Path]


def _mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarise(runs: list[RunOutcome], parameters: dict[str, int]) -> list[CandidateSummary]:
    """One summary per candidate, in the order of ``parameters`` (that of --sizes).

    Means and sample standard deviations (n - 1) are over the runs that did not diverge."""
    out = []
    for name, count in parameters.items():
        every = [r for r in runs if r.candidate == name]
        mine = sorted((r for r in every if not r.diverged), key=lambda r: r.seed)
        if not mine:
            nan = (float("nan"), float("nan"))
            out.append(CandidateSummary(name, count, 0, nan, nan, nan, nan if every[0].val_mse is not None else None,
                                        0.0, 0.0, diverged=len(every)))
            continue
        mse = [r.val_mse for r in mine if r.val_mse is not None]
        out.append(CandidateSummary(
            candidate=name, parameters=count, runs=len(mine), diverged=len(every) - len(mine),
            train_loss=_mean_std([r.train_loss for r in mine]), val_loss=_mean_std([r.val_loss for r in mine]),
            val_metric=_mean_std([r.val_metric for r in mine]), val_mse=_mean_std(mse) if mse else None,
            epochs=statistics.fmean(r.epochs for r in mine), seconds=statistics.fmean(r.seconds for r in mine),
            unconverged=sum(not r.converged for r in mine),
        ))
    return out


def choose(candidates: list[CandidateSummary], task: str) -> tuple[str, str]:
    """(best, simplest): best mean validation accuracy (lowest MSE for regression), ties to
    the lower validation loss; simplest: fewest parameters within one standard error of it."""
    if task == "regression":
        score = lambda c: (c.val_mse[0], c.val_loss[0])  # noqa: E731 - lower is better
        key, sign = "val_mse", 1.0
    else:
        score = lambda c: (-c.val_metric[0], c.val_loss[0])  # noqa: E731
        key, sign = "val_metric", -1.0
    # A candidate with a diverged run is not one to recommend, whatever its other runs reached.
    candidates = [c for c in candidates if c.runs and not c.diverged]
    if not candidates:
        raise TrainingError("every candidate had a run that diverged: lower optimizer.learning_rate")
    best = min(candidates, key=score)
    limit = sign * getattr(best, key)[0] + best.standard_error(key)
    close = [c for c in candidates if sign * getattr(c, key)[0] <= limit + 1e-12]
    simplest = min(close, key=lambda c: (c.parameters, score(c)))
    return best.candidate, simplest.candidate


def perceptron_note(candidates: list[CandidateSummary], best: str, task: str) -> str | None:
    by_name = {c.candidate: c for c in candidates}
    if "0" not in by_name or best == "0":
        return None
    gap = by_name[best].val_metric[0] - by_name["0"].val_metric[0]
    if gap < FAR_BELOW:
        return None
    if task == "classification":
        what, why = "validation accuracy", "the data is not linearly separable"
    else:
        what, why = "validation R^2", "the target is not a linear function of the features"
    reached = (f"the perceptron (no hidden layer) reaches {by_name['0'].val_metric[0]:.3f} {what} against "
               f"{by_name[best].val_metric[0]:.3f} for {best}")
    if by_name["0"].unconverged:  # it may only have been slow: no verdict on linearity
        return (f"{reached}, but it was still improving at its last epoch, so the comparison is inconclusive: "
                "train it longer (more optimizer.epochs or a larger optimizer.learning_rate) before concluding "
                "that a hidden layer is needed")
    return f"{reached}: {why}, so a hidden layer is needed"


class SweepStopped(NnctlError):
    """The sweep could not finish (its executor failed); the runs that did finish are on disk."""


def sweep(
    config: Config,
    sizes: Sequence[tuple[int, ...]],
    seeds: int,
    jobs: int,
    directory: Path,
    on_run: Callable[[RunOutcome], None] | None = None,
    executor: Executor | None = None,
) -> SweepResult:
    """Train every candidate with every seed, then compare them and write the results.

    The runs go to ``executor`` (see ``train_groups``), or to ``jobs`` local processes
    when there is none.  ``on_run`` hears of each run as its group finishes."""
    seed_list = run_seeds(config.seed, seeds)
    groups = [[run_config(config, tuple(h), s, directory) for s in seed_list] for h in sizes]
    data = prepare.prepare_data(groups[0][0], run.generators(groups[0][0])[0])  # bad data fails here, before any run
    ensure_directory(directory)
    n_outputs = LOSSES[config.loss].n_outputs(data.n_classes_or_targets)
    parameters = {label(h): count_parameters([data.X_train.shape[1], *h, n_outputs]) for h in sizes}
    order = list(parameters)

    def in_order(runs: list[RunOutcome]) -> list[RunOutcome]:
        return sorted(runs, key=lambda r: (order.index(r.candidate), seed_list.index(r.seed)))

    runs: list[RunOutcome] = []
    with _executor_or_local(executor, jobs, len(groups)) as chosen:
        try:
            for group in train_groups(chosen, groups, data):
                for trained in group:
                    if trained.files is not None:
                        run.write_run_directory(trained.files, data.scaler)
                    runs.append(trained.outcome)
                    if on_run is not None:
                        on_run(trained.outcome)
                write_runs_csv(directory / "runs.csv", in_order(runs))  # so far: kept if the sweep stops
        except NnctlError as error:
            if not runs or isinstance(error, (ConfigError, DataError, OutputError)):
                raise
            raise SweepStopped(f"{error}; the {len(runs)} of {len(groups) * len(seed_list)} runs that finished "
                               f"are kept in {directory / 'runs'} and listed in {directory / 'runs.csv'}") from None
    runs = in_order(runs)
    task = task_of_loss(config.loss)
    candidates = summarise(runs, parameters)
    best, simplest = choose(candidates, task)
    result = SweepResult(task, data.X_val is not None, runs, candidates, best, simplest,
                         perceptron_note(candidates, best, task), {})
    result.files = write_results(config, directory, result, sizes)
    prune_other_runs(directory, runs)
    return result


def train_groups(executor: Executor, groups: list[list[Config]], data: prepare.PreparedData
                 ) -> Iterator[list[TrainedRun]]:
    """Each group's trained runs, as the groups finish.

    ``executor`` is any ``concurrent.futures``-style executor.  One with a
    ``share(value)`` method (cluster.ClusterExecutor) sends the data to its
    workers once that way, and its tasks get a handle in its place."""
    shared = share(executor, data)
    futures = [executor.submit(train_group, group, shared) for group in groups]
    try:
        for future in as_completed(futures):
            yield future.result()
    finally:
        for future in futures:
            future.cancel()  # after an error: what has not started never starts


def share(executor: Executor, value: Any) -> Any:
    """``value`` as the executor's tasks should take it; local executors take it as it is."""
    send_once = getattr(executor, "share", None)
    return send_once(value) if send_once is not None else value


@contextmanager
def _executor_or_local(executor: Executor | None, jobs: int, groups: int) -> Iterator[Executor]:
    if executor is not None:
        yield executor
        return
    with local_executor(min(jobs, groups)) as pool:
        yield pool


@contextmanager
def local_executor(jobs: int) -> Iterator[Executor]:
    """A thread of this process when jobs is 1 (the groups then run in order), else ``jobs`` processes."""
    if jobs <= 1:
        with _shut_down(ThreadPoolExecutor(max_workers=1)) as pool:
            yield pool
        return
    # Fresh interpreters, not forks of this one; each with one BLAS thread, since
    # the processes already share the cores between them.
    context = multiprocessing.get_context("spawn")
    with _environment(BLAS_THREADS), _shut_down(ProcessPoolExecutor(max_workers=jobs, mp_context=context)) as pool:
        yield pool


@contextmanager
def _shut_down(pool: Executor) -> Iterator[Executor]:
    """Shut the pool down on the way out; after an error, without starting what is still queued."""
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


BLAS_THREADS = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the processes started inside, then restore them."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


SWEEP_FILES = ("results.json", "runs.csv", "candidates.csv", "runs")


def holds_sweep(directory: Path) -> bool:
    """Whether a directory holds (some of) the files of a sweep."""
    return any((directory / name).exists() for name in SWEEP_FILES)


def prune_other_runs(directory: Path, runs: Sequence[RunOutcome]) -> list[Path]:
    """Remove the run directories under ``directory/runs`` that are not this sweep's (an earlier
    sweep's, replaced with --overwrite), so that a sweep's directory holds only its own runs.
    Only directories holding nothing but run files are removed; the removed ones are returned."""
    mine = {Path(r.output).resolve() for r in runs}
    removed = []
    for child in sorted((directory / "runs").glob("*")) if (directory / "runs").is_dir() else []:
        if child.resolve() in mine or not child.is_dir() or child.is_symlink():
            continue
        names = [entry.name for entry in child.iterdir()]
        if names and all(name in run.RUN_FILES or name.endswith(".tmp") for name in names):
            shutil.rmtree(child)
            removed.append(child)
    return removed


def write_results(config: Config, directory: Path, result: SweepResult,
                  sizes: Sequence[tuple[int, ...]]) -> dict[str, Path]:
    """runs.csv, candidates.csv, results.json, and the best candidate's checkpoint and config."""
    files = {name: directory / name for name in ("runs.csv", "candidates.csv", "results.json", "best.npz", "config.yaml")}
    write_runs_csv(files["runs.csv"], result.runs)
    flat = [_flat(c) for c in result.candidates]
    write_csv(files["candidates.csv"], list(flat[0]), [list(c.values()) for c in flat])
    write_json(files["results.json"], results_document(result))
    top = best_run(result.runs, result.best, result.task)
    source = Path(top.output) / BEST
    atomic_write(files["best.npz"], lambda s: s.write(source.read_bytes()))
    hidden = next(tuple(h) for h in sizes if label(h) == result.best)
    best_config = replace(run_config(config, hidden, top.seed, directory), output=directory / "best-run")
    atomic_write(files["config.yaml"], lambda s: s.write(dump_config(best_config, relative_to=directory).encode()))
    return files


def write_runs_csv(path: Path, runs: Sequence[RunOutcome]) -> None:
    """One row per run: its figures at its best epoch."""
    rows = [asdict(r) for r in runs]
    write_csv(path, list(rows[0]), [list(r.values()) for r in rows])


def best_run(runs: Sequence[RunOutcome], candidate: str, task: str) -> RunOutcome:
    """The seed of a candidate that scored best (highest accuracy / R^2, lowest MSE)."""
    mine = [r for r in runs if r.candidate == candidate and not r.diverged]
    if task == "classification":
        return max(mine, key=lambda r: (r.val_metric, -r.val_loss))
    return min(mine, key=lambda r: r.val_mse)


def results_document(result: SweepResult) -> dict:
    """The sweep's results as plain data: results.json, and ``sweep-hidden --json``."""
    document = {"task": result.task, "best": result.best, "simplest_within_one_se": result.simplest,
                "perceptron_note": result.perceptron_note, "candidates": [_flat(c) for c in result.candidates],
                "runs": [asdict(r) for r in result.runs]}
    chosen = chosen_test(result)
    if chosen is not None:
        document["test"] = chosen
    return document


def chosen_test(result: SweepResult) -> dict | None:
    """The test figures of the run the sweep chose (the best seed of the best candidate), chosen by
    validation alone; None without data.test."""
    top = best_run(result.runs, result.best, result.task)
    if top.test_loss is None:
        return None
    return {"candidate": top.candidate, "seed": top.seed, "test_loss": top.test_loss,
            f"test_{'accuracy' if result.task == 'classification' else 'r2'}": top.test_metric}


def _flat(c: CandidateSummary) -> dict:
    out = {"candidate": c.candidate, "parameters": c.parameters, "runs": c.runs}
    for key in ("train_loss", "val_loss", "val_metric", "val_mse"):
        value = getattr(c, key)
        if value is not None:
            out[f"{key}_mean"], out[f"{key}_std"] = value
    out["epochs"], out["seconds"] = c.epochs, round(c.seconds, 4)
    return out
