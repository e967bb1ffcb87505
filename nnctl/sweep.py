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

import csv
import json
import math
import multiprocessing
import os
import shutil
import statistics
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from nnctl import run, rundir
from nnctl.prep import prepare
from nnctl.boundary import BoundaryGrid, check_drawable, load_points, points_source, predict_grid
from nnctl.checkpoint import BEST, load_checkpoint
from nnctl.files import atomic_write, ensure_directory, write_json
from nnctl import space
from nnctl.config import MAX_HIDDEN_UNITS, Config, config_to_dict, dump_config, load_config, task_of_loss
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


@dataclass(frozen=True)
class Candidate:
    """One point of a sweep: a config, and how the tables and the run directories name it."""

    label: str  # '8' or '16x16' (sweep-hidden); 'learning_rate=0.1 hidden=[8]' (sweep)
    config: Config  # the candidate's config; each run sets its seed and output
    slug: str  # its runs' directories start with it: 'h8', 'c3'
    settings: tuple[str, ...] = ()  # the KEY=VALUE settings that make it (sweep)


def with_hidden(config: Config, hidden: tuple[int, ...]) -> Config:
    """The config with other hidden layers (and one activation name and dropout rate for all of them)."""
    activation = config.model.activation
    if isinstance(activation, tuple):
        if len(set(activation)) > 1:
            raise ConfigError("model.activation: sweep-hidden changes the number of hidden layers, so it needs "
                              f"one activation for all of them, got {list(activation)}")
        activation = activation[0] if activation else "sigmoid"
    dropout = config.model.dropout
    if isinstance(dropout, tuple):
        if len(set(dropout)) > 1:
            raise ConfigError("model.dropout: sweep-hidden changes the number of hidden layers, so it needs "
                              f"one rate for all of them, got {list(dropout)}")
        dropout = dropout[0] if dropout else 0.0
    return replace(config, model=replace(config.model, hidden=hidden, activation=activation, dropout=dropout))


def hidden_candidates(config: Config, sizes: Sequence[tuple[int, ...]]) -> list[Candidate]:
    """sweep-hidden's candidates: the config at each hidden-layer size."""
    return [Candidate(label(h), with_hidden(config, tuple(h)), f"h{label(h)}", (f"model.hidden={list(h)}",))
            for h in sizes]


MAX_CANDIDATES = 1000  # a grid larger than this is a typo more often than a plan
MAX_RUNS = 20_000  # candidates x seeds x folds: about a day of small runs on one machine


def grid_candidates(path: Path, overrides: Sequence[str], axes: Sequence[str], random: int | None,
                    seed: int) -> list[Candidate]:
    """nnctl sweep's candidates: every point of the grid (or ``random`` points drawn from the
    ranges), each read as ``nnctl train CONFIG --set ...`` would read it: checked before any run."""
    if not axes:
        raise ConfigError("nnctl sweep needs at least one --grid KEY=VALUE1,VALUE2,...")
    points = (space.random_points(axes, random, np.random.default_rng(seed)) if random
              else space.grid_points(axes))
    if len(points) > MAX_CANDIDATES:
        raise ConfigError(f"--grid: {len(points)} candidates; at most {MAX_CANDIDATES} (use --random N to draw some)")
    candidates = []
    for index, point in enumerate(points, start=1):
        name = space.label_of(point)
        try:
            config = load_config(path, [*overrides, *point])
        except ConfigError as error:
            raise ConfigError(f"candidate {name}: {error}") from None
        candidates.append(Candidate(name, config, f"c{index}", tuple(point)))
    return candidates


def run_config(candidate: Candidate, seed: int, directory: Path, fold: int | None = None) -> Config:
    """The config of one run: the candidate's, with this seed, the sweep's split seed, its own output."""
    config = candidate.config
    name = f"{candidate.slug}-s{seed}" + ("" if fold is None else f"-f{fold + 1}")
    return replace(config, data=replace(config.data, split_seed=config.split_seed), seed=seed,
                   output=directory / "runs" / name)


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
    fold: int | None = None  # with --folds: which fold held the validation rows (1-based)


@dataclass(frozen=True)
class TrainedRun:
    """One run as it comes back from wherever it was trained: its figures, and the files of its
    directory (None for a run that diverged in its first epoch: ``nnctl train`` writes nothing then)."""

    outcome: RunOutcome
    files: run.FinishedRun | None


@dataclass(frozen=True)
class Unit:
    """The unit of work an executor runs: some seeds of one candidate on one fold's data."""

    candidate: str  # its label
    fold: int | None  # 0-based, or None without folds
    data_key: str  # which prepared data it trains on
    configs: tuple[Config, ...]  # one per seed; they differ in seed and output only


def train_group(unit: Unit, data: prepare.PreparedData) -> list[TrainedRun]:
    """Train all seeds of one unit: the work an executor runs.

    Several seeds train as one stacked computation (``run.train_seeds``), with the
    results each would reach alone.  Touches no file: the data comes as an argument,
    the results go back."""
    if len(unit.configs) == 1:
        return [train_one(unit, unit.configs[0], data)]
    results = run.train_seeds(list(unit.configs), data, write_files=False)
    return [_trained(unit, config, result) for config, result in zip(unit.configs, results)]


def train_one(unit: Unit, config: Config, data: prepare.PreparedData) -> TrainedRun:
    """Train one run in memory and sum it up."""
    try:
        result: run.RunResult | TrainingError = run.train(config, data=data, write_files=False)
    except TrainingError as error:
        result = error
    return _trained(unit, config, result)


def _trained(unit: Unit, config: Config, result: run.RunResult | TrainingError) -> TrainedRun:
    """A run's outcome and files.  A run that diverged is recorded as such, so one unlucky
    candidate does not end the sweep."""
    fold = None if unit.fold is None else unit.fold + 1
    if isinstance(result, run.RunDiverged):  # its directory holds the last finite epoch, as with nnctl train
        return TrainedRun(_diverged(unit.candidate, config, fold), run.finished_run(result.result))
    if isinstance(result, TrainingError):
        return TrainedRun(_diverged(unit.candidate, config, fold), None)
    return TrainedRun(_outcome(unit.candidate, config, result, fold), run.finished_run(result))


def _diverged(candidate: str, config: Config, fold: int | None) -> RunOutcome:
    nan = float("nan")
    return RunOutcome(candidate=candidate, seed=config.seed, parameters=0, train_loss=nan,
                      val_loss=nan, val_metric=nan, val_mse=nan if task_of_loss(config.loss) == "regression" else None,
                      best_epoch=0, epochs=0, seconds=0.0, output=str(config.output), diverged=True, fold=fold)


def _outcome(candidate: str, config: Config, result: run.RunResult, fold: int | None) -> RunOutcome:
    best = {k: v for k, v in result.best_row.items() if k.startswith(("train_", "val_"))}
    regression = task_of_loss(config.loss) == "regression"
    metric = "r2" if regression else "accuracy"
    prefix = "val_" if "val_loss" in best else "train_"
    return RunOutcome(
        candidate=candidate, seed=config.seed, parameters=parameter_count(result.layers),
        train_loss=best["train_loss"], val_loss=best.get("val_loss", best["train_loss"]),
        val_metric=best[prefix + metric], val_mse=best[prefix + "mse"] if regression else None,
        best_epoch=result.best_row["epoch"], epochs=len(result.rows),
        seconds=result.seconds, output=str(config.output),
        test_loss=(result.summary.get("test") or {}).get("test_loss"),
        test_metric=(result.summary.get("test") or {}).get(f"test_{metric}"),
        converged=result.convergence_note is None, fold=fold,
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
    kind: str = "hidden"  # "hidden" (sweep-hidden: candidates are hidden sizes) or "grid" (sweep)
    folds: int | None = None  # K of K-fold cross-validation, or None (one split)
    settings: dict[str, list[str]] = field(default_factory=dict)  # each candidate's KEY=VALUE settings
    refit: dict[str, Any] | None = None  # with folds: the chosen candidate trained on every row (its summary)


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
    folds: int | None = None,
    fresh: bool = False,
) -> SweepResult:
    """sweep-hidden: ``search`` over the config at each hidden-layer size."""
    return search(config, hidden_candidates(config, sizes), seeds, jobs, directory, on_run, executor, folds,
                  kind="hidden", fresh=fresh)


def search(
    config: Config,
    candidates: Sequence[Candidate],
    seeds: int,
    jobs: int,
    directory: Path,
    on_run: Callable[[RunOutcome], None] | None = None,
    executor: Executor | None = None,
    folds: int | None = None,
    kind: str = "grid",
    fresh: bool = False,
) -> SweepResult:
    """Train every candidate with every seed (on every fold, with ``folds``), then compare them
    and write the results.  ``fresh``: the directory was chosen for holding no sweep, and one
    that does by the time this sweep holds its lock is refused, never replaced.

    The runs go to ``executor`` (see ``train_groups``), or to ``jobs`` local processes
    when there is none.  ``on_run`` hears of each run as its unit finishes.  Every
    candidate's data is prepared before any run trains, so bad data fails first."""
    runs = len(candidates) * seeds * (folds or 1)
    if runs > MAX_RUNS:
        raise ConfigError(f"{len(candidates)} candidates x {seeds} seeds" + (f" x {folds} folds" if folds else "")
                          + f" = {runs:,} runs; a sweep does at most {MAX_RUNS:,} (fewer candidates, seeds or folds)")
    seed_lists = {c.label: run_seeds(c.config.seed, seeds) for c in candidates}  # a grid may set the seed
    if run.holds_run(directory) and not any((directory / name).exists() for name in SWEEP_FILES):
        raise OutputError(f"{directory}: holds a run of nnctl train, not a sweep; give the sweep a directory of its "
                          "own (-o)")
    made = not os.path.lexists(directory)
    ensure_directory(directory)
    try:
        with rundir.held(directory):  # one sweep at a time writes here, from its first step
            if fresh and holds_sweep(directory):
                raise OutputError(f"{directory}: another sweep wrote here while this one started; run this one "
                                  "again to put it beside (or --overwrite to replace that sweep)")
            datasets: dict[str, list[prepare.PreparedData]] = {}
            for candidate in candidates:
                key = data_key(candidate.config)
                if key not in datasets:
                    first = run_config(candidate, seed_lists[candidate.label][0], directory)
                    datasets[key] = (prepare.prepare_folds(first, folds) if folds
                                     else [prepare.prepare_data(first, run.generators(first)[0])])
            return _search(config, candidates, seed_lists, datasets, directory, jobs, on_run, executor, folds, kind)
    except BaseException:
        if made:  # a sweep that stopped before writing anything leaves no empty directory behind
            try:
                os.rmdir(directory)
            except OSError:
                pass
        raise


def _search(config: Config, candidates: Sequence[Candidate], seed_lists: dict, datasets: dict, directory: Path,
            jobs: int, on_run: Callable[[RunOutcome], None] | None, executor: Executor | None, folds: int | None,
            kind: str) -> SweepResult:
    """``search`` once its data are prepared and its directory is locked."""
    earlier = earlier_runs(directory)  # an earlier sweep's runs, replaced with --overwrite
    workers = getattr(executor, "workers", None) or jobs
    units = work_units(candidates, seed_lists, directory, folds, workers)
    if executor is None:  # local processes share this machine's memory (a cluster's workers have their own)
        _check_memory_at_once(units, datasets, min(workers, len(units)))
    parameters = {c.label: _parameters(c.config, datasets[data_key(c.config)][0]) for c in candidates}
    order = [c.label for c in candidates]

    def in_order(runs: list[RunOutcome]) -> list[RunOutcome]:
        return sorted(runs, key=lambda r: (order.index(r.candidate), r.fold or 0,
                                           seed_lists[r.candidate].index(r.seed)))

    runs: list[RunOutcome] = []
    total = sum(len(u.configs) for u in units)
    with _executor_or_local(executor, jobs, len(units)) as chosen:
        try:
            for unit, group in train_groups(chosen, units, datasets):
                scaler = datasets[unit.data_key][unit.fold or 0].scaler
                for trained in group:
                    if trained.files is not None:
                        run.write_run_directory(trained.files, scaler)
                    runs.append(trained.outcome)
                    if on_run is not None:
                        on_run(trained.outcome)
                write_runs_csv(directory / "runs.csv", in_order(runs))  # so far: kept if the sweep stops
        except NnctlError as error:
            if not runs or isinstance(error, (ConfigError, DataError, OutputError)):
                raise
            raise SweepStopped(f"{error}; the {len(runs)} of {total} runs that finished "
                               f"are kept in {directory / 'runs'} and listed in {directory / 'runs.csv'}") from None
    runs = in_order(runs)
    task = task_of_loss(config.loss)
    summaries = summarise(runs, parameters)
    best, simplest = choose(summaries, task)
    has_validation = folds is not None or next(iter(datasets.values()))[0].X_val is not None
    result = SweepResult(task, has_validation, runs, summaries, best, simplest,
                         perceptron_note(summaries, best, task) if kind == "hidden" else None, {}, kind, folds,
                         {c.label: list(c.settings) for c in candidates})
    by_label = {c.label: c for c in candidates}
    if folds:  # each fold's model saw (K-1)/K of the rows: the chosen candidate is trained again on them all
        result.refit = refit(by_label[best], seed_lists[best][0], directory)
    else:
        result.runs = score_chosen(result, by_label[best].config, datasets[data_key(by_label[best].config)][0])
    result.files = write_results(directory, result, by_label)
    prune_other_runs(earlier, runs)
    return result


def best_config(candidate: Candidate, seed: int, directory: Path) -> Config:
    """The chosen candidate's config as the sweep writes it (config.yaml): its seed, the split its
    runs had, its own validation setting, and ``best-run`` as its run directory."""
    config = candidate.config
    return replace(config, seed=seed, output=directory / "best-run",
                   data=replace(config.data, split_seed=config.split_seed))


def refit(candidate: Candidate, seed: int, directory: Path) -> dict[str, Any]:
    """After cross-validation, train the chosen candidate once on the whole training file (with the
    config's own validation setting), as scikit-learn's GridSearchCV refits: best.npz is this run,
    and data.test is scored on it.  Returns its summary."""
    result = run.train(best_config(candidate, seed, directory))
    return {"output": str(result.config.output), "seed": seed, **result.summary}


def data_key(config: Config) -> str:
    """What the prepared data of a config depends on: candidates that agree on it share their data."""
    d = config_to_dict(config)
    return json.dumps({"data": {**d["data"], "split_seed": config.split_seed}, "loss": d["loss"],
                       "dtype": d["model"]["dtype"]}, sort_keys=True, default=str)


def _parameters(config: Config, data: prepare.PreparedData) -> int:
    n_outputs = LOSSES[config.loss].n_outputs(data.n_classes_or_targets)
    return count_parameters([data.X_train.shape[1], *config.model.hidden, n_outputs])


def work_units(candidates: Sequence[Candidate], seeds: dict[str, list[int]], directory: Path, folds: int | None,
               workers: int) -> list[Unit]:
    """The units of work: each candidate's seeds on each fold, split into as many parts as keep
    ``workers`` busy (each part trains its seeds stacked; results are the same however they are split)."""
    groups = len(candidates) * (folds or 1)
    count = len(next(iter(seeds.values())))
    parts = max(1, min(count, math.ceil(workers / groups)))
    size = math.ceil(count / parts)
    units = []
    for candidate in candidates:
        for fold in range(folds) if folds else [None]:
            configs = [run_config(candidate, seed, directory, fold) for seed in seeds[candidate.label]]
            units += [Unit(candidate.label, fold, data_key(candidate.config), tuple(configs[i:i + size]))
                      for i in range(0, len(configs), size)]
    return units


def train_groups(executor: Executor, units: Sequence[Unit], datasets: dict[str, list[prepare.PreparedData]]
                 ) -> Iterator[tuple[Unit, list[TrainedRun]]]:
    """Each unit's trained runs, as the units finish.

    ``executor`` is any ``concurrent.futures``-style executor.  One with a
    ``share(value)`` method (cluster.ClusterExecutor) sends each prepared data set to
    its workers once that way, and its tasks get a handle in its place."""
    # the runs train without data.test's rows: they are scored for the chosen run alone (score_chosen)
    shared = {key: [share(executor, replace(data, X_test=None, y_test=None)) for data in folds]
              for key, folds in datasets.items()}
    futures = {executor.submit(train_group, unit, shared[unit.data_key][unit.fold or 0]): unit for unit in units}
    try:
        for future in as_completed(futures):
            yield futures[future], future.result()
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
    """Whether a directory holds (some of) the files of a sweep, or of a run (a sweep never goes there)."""
    return any((directory / name).exists() for name in SWEEP_FILES) or run.holds_run(directory)


def earlier_runs(directory: Path) -> list[Path]:
    """The run directories an earlier sweep in ``directory`` listed in its runs.csv (none without one)."""
    listing = directory / "runs.csv"
    if not listing.is_file():
        return []
    try:
        with open(listing, newline="", encoding="utf-8") as stream:
            outputs = [row.get("output") or "" for row in csv.DictReader(stream)]
    except (OSError, UnicodeDecodeError, csv.Error):
        return []
    runs = (directory / "runs").resolve()
    return [Path(out).resolve() for out in outputs if out and Path(out).resolve().parent == runs]


def prune_other_runs(earlier: Sequence[Path], runs: Sequence[RunOutcome]) -> list[Path]:
    """Remove the run directories of an earlier sweep (``earlier``, from its runs.csv) that this one,
    replacing it with --overwrite, did not write again: a sweep's directory holds only its own runs.
    Only directories holding nothing but run files are removed; the removed ones are returned."""
    mine = {Path(r.output).resolve() for r in runs}
    removed = []
    for child in earlier:
        if child in mine or not child.is_dir() or child.is_symlink():
            continue
        names = [entry.name for entry in child.iterdir()]
        if names and all(name in run.RUN_FILES or name.endswith(".tmp") for name in names):
            shutil.rmtree(child)
            removed.append(child)
    return removed


def write_results(directory: Path, result: SweepResult, candidates: dict[str, Candidate]) -> dict[str, Path]:
    """runs.csv, candidates.csv, results.json, and the best candidate's checkpoint and config (which
    trains as it is: the candidate's config with its best run's seed, into ``best-run``)."""
    files = {name: directory / name for name in ("runs.csv", "candidates.csv", "results.json", "best.npz", "config.yaml")}
    write_runs_csv(files["runs.csv"], result.runs)
    flat = [_flat(c) for c in result.candidates]
    write_csv(files["candidates.csv"], list(flat[0]), [list(c.values()) for c in flat])
    write_json(files["results.json"], results_document(result))
    if result.refit is not None:  # cross-validated: the chosen candidate trained again on every row
        source, seed = Path(result.refit["output"]) / BEST, result.refit["seed"]
    else:
        top = best_run(result.runs, result.best, result.task)
        source, seed = Path(top.output) / BEST, top.seed
    atomic_write(files["best.npz"], lambda s: s.write(source.read_bytes()))
    chosen = best_config(candidates[result.best], seed, directory)
    atomic_write(files["config.yaml"], lambda s: s.write(dump_config(chosen, relative_to=directory).encode()))
    return files


def write_runs_csv(path: Path, runs: Sequence[RunOutcome]) -> None:
    """One row per run: its figures at its best epoch."""
    rows = [asdict(r) for r in runs]
    write_csv(path, list(rows[0]), [list(r.values()) for r in rows])


def _check_memory_at_once(units: Sequence[Unit], datasets: dict, processes: int) -> None:
    """Refuse, before any run, a sweep whose ``processes`` local processes could together need more
    memory than there is: the heaviest units (a unit trains its seeds stacked) at once."""
    available = run.available_memory()
    if available is None or processes < 2:
        return  # one process: run.train_seeds checks its own stack
    needs = sorted(((run.training_bytes(u.configs[0], run.network_sizes(u.configs[0], datasets[u.data_key][0]),
                                        len(u.configs)), u) for u in units), key=lambda pair: -pair[0])[:processes]
    needed = sum(bytes_ for bytes_, _ in needs)
    if needed > available:
        seeds = sum(len(u.configs) for _, u in needs)
        raise ConfigError(f"{processes} processes training {seeds} networks at once (the largest candidates' seeds) "
                          f"need about {run.size_text(needed)}, more than the {run.size_text(available)} available; "
                          "fewer --jobs, fewer --seeds, or smaller networks")


def score_chosen(result: SweepResult, config: Config, data: prepare.PreparedData) -> list[RunOutcome]:
    """The runs, the chosen one (the best seed of the best candidate) with its figures on
    data.test's rows, also added to its own summary.json: the one run the test rows see."""
    if data.X_test is None or result.best is None:
        return result.runs
    top = best_run(result.runs, result.best, result.task)
    ckpt = load_checkpoint(Path(top.output) / BEST)
    test = run.test_figures(ckpt.layers, config, data)
    summary_path = Path(top.output) / run.SUMMARY_FILE
    write_json(summary_path, {**json.loads(summary_path.read_text(encoding="utf-8")), "test": test})
    metric = f"test_{'accuracy' if result.task == 'classification' else 'r2'}"
    chosen = replace(top, test_loss=test["test_loss"], test_metric=test[metric])
    return [chosen if r is top else r for r in result.runs]


def best_run(runs: Sequence[RunOutcome], candidate: str, task: str) -> RunOutcome:
    """The seed of a candidate that scored best (highest accuracy / R^2, lowest MSE)."""
    mine = [r for r in runs if r.candidate == candidate and not r.diverged]
    if task == "classification":
        return max(mine, key=lambda r: (r.val_metric, -r.val_loss))
    return min(mine, key=lambda r: r.val_mse)


def results_document(result: SweepResult) -> dict:
    """The sweep's results as plain data: results.json, and ``sweep --json``."""
    document = {"task": result.task, "best": result.best, "simplest_within_one_se": result.simplest,
                "perceptron_note": result.perceptron_note, "folds": result.folds, "settings": result.settings,
                "candidates": [_flat(c) for c in result.candidates], "runs": [asdict(r) for r in result.runs]}
    if result.refit is not None:  # its figures (best-run/ holds the rest)
        document["refit"] = {key: result.refit.get(key) for key in ("seed", "best_epoch", "best", "test")}
    chosen = chosen_test(result)
    if chosen is not None:
        document["test"] = chosen
    return document


def chosen_test(result: SweepResult) -> dict | None:
    """The test figures of the model the sweep chose by validation alone: the best seed of the best
    candidate, or with folds the chosen candidate trained again on every row; None without data.test."""
    metric = f"test_{'accuracy' if result.task == 'classification' else 'r2'}"
    if result.refit is not None:
        test = result.refit.get("test")
        if not test:
            return None
        return {"candidate": result.best, "seed": result.refit["seed"], "refit": True, "test_loss": test["test_loss"],
                metric: test[metric]}
    top = best_run(result.runs, result.best, result.task)
    if top.test_loss is None:
        return None
    return {"candidate": top.candidate, "seed": top.seed, "test_loss": top.test_loss, metric: top.test_metric}


def _flat(c: CandidateSummary) -> dict:
    out = {"candidate": c.candidate, "parameters": c.parameters, "runs": c.runs}
    for key in ("train_loss", "val_loss", "val_metric", "val_mse"):
        value = getattr(c, key)
        if value is not None:
            out[f"{key}_mean"], out[f"{key}_std"] = value
    out["epochs"], out["seconds"] = c.epochs, round(c.seconds, 4)
    return out


def sweep_grids(runs: list[RunOutcome], candidates: list[str], task: str, width: int, height: int
                ) -> list[tuple[str, BoundaryGrid]]:
    """One grid per candidate of a sweep, from the checkpoint of its best seed, over the
    training rows (raises NnctlError when the model is not a 2-feature classifier)."""
    checkpoints = [(name, load_checkpoint(best_run(runs, name, task).output)) for name in candidates]
    check_drawable(checkpoints[0][1], "--boundary")
    points, labels = load_points(checkpoints[0][1], None)
    source = points_source(checkpoints[0][1], None) if points is not None else ""
    return [(name, predict_grid(ckpt, points, labels, width, height, source=source)) for name, ckpt in checkpoints]
