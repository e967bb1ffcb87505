"""The hidden-size sweep: train one config at several hidden-layer sizes.

No theory fixes the size of the hidden layers, so the sound method is to try
candidates and keep the one that does best on held-out rows.  Each candidate
is trained with ``--seeds`` seeds spawned from the config's seed
(``np.random.SeedSequence.spawn``), all on the config's train/validation split
(``data.split_seed``), so a result depends neither on the order of the runs
nor on how many run at once.  Never prints: progress goes to ``on_run``.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import shutil
import statistics
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from nnctl import run
from nnctl.checkpoint import BEST
from nnctl.files import atomic_write, ensure_directory
from nnctl.config import MAX_HIDDEN_UNITS, Config, dump_config, task_of_loss
from nnctl.data import write_csv
from nnctl.errors import ConfigError, NnctlError, TrainingError

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
    split_seed = config.seed if config.data.split_seed is None else config.data.split_seed
    return replace(
        config,
        model=replace(config.model, hidden=hidden, activation=activation),
        data=replace(config.data, split_seed=split_seed),
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


def train_one(config: Config) -> RunOutcome:
    """Train one run (in this process or a worker) and sum it up.

    A run that diverges is recorded as such, so one unlucky candidate does not
    end the sweep."""
    from nnctl.core.model import parameter_count

    try:
        result = run.train(config)
    except TrainingError:
        nan = float("nan")
        return RunOutcome(candidate=label(config.model.hidden), seed=config.seed, parameters=0, train_loss=nan,
                          val_loss=nan, val_metric=nan, val_mse=nan if task_of_loss(config.loss) == "regression" else None,
                          best_epoch=0, epochs=0, seconds=0.0, output=str(config.output), diverged=True)
    best = run.record_metrics(result.history.best)
    regression = task_of_loss(config.loss) == "regression"
    metric = "r2" if regression else "accuracy"
    prefix = "val_" if "val_loss" in best else "train_"
    return RunOutcome(
        candidate=label(config.model.hidden), seed=config.seed, parameters=parameter_count(result.layers),
        train_loss=best["train_loss"], val_loss=best.get("val_loss", best["train_loss"]),
        val_metric=best[prefix + metric], val_mse=best[prefix + "mse"] if regression else None,
        best_epoch=result.history.best_epoch, epochs=len(result.history.records),
        seconds=result.seconds, output=str(config.output),
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

    def standard_error(self, key: str) -> float:
        return getattr(self, key)[1] / math.sqrt(self.runs)


@dataclass
class SweepResult:
    task: str
    runs: list[RunOutcome]
    candidates: list[CandidateSummary]
    best: str  # the candidate with the best mean score
    simplest: str  # the smallest candidate within one standard error of the best
    perceptron_note: str | None
    files: dict[str, Path]


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.pstdev(values) if len(values) > 1 else 0.0


def summarise(runs: list[RunOutcome], order: list[str]) -> list[CandidateSummary]:
    """One summary per candidate, in the order of --sizes."""
    out = []
    for name in order:
        every = [r for r in runs if r.candidate == name]
        mine = sorted((r for r in every if not r.diverged), key=lambda r: r.seed)
        if not mine:
            nan = (float("nan"), float("nan"))
            out.append(CandidateSummary(name, 0, 0, nan, nan, nan, nan if every[0].val_mse is not None else None,
                                        0.0, 0.0, diverged=len(every)))
            continue
        mse = [r.val_mse for r in mine if r.val_mse is not None]
        out.append(CandidateSummary(
            candidate=name, parameters=mine[0].parameters, runs=len(mine), diverged=len(every) - len(mine),
            train_loss=_mean_std([r.train_loss for r in mine]), val_loss=_mean_std([r.val_loss for r in mine]),
            val_metric=_mean_std([r.val_metric for r in mine]), val_mse=_mean_std(mse) if mse else None,
            epochs=statistics.fmean(r.epochs for r in mine), seconds=statistics.fmean(r.seconds for r in mine),
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
    finite = [c for c in candidates if c.runs]
    if not finite:
        raise TrainingError("every run of the sweep diverged: lower optimizer.learning_rate")
    candidates = finite
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
    what = "validation accuracy" if task == "classification" else "validation R^2"
    return (f"the perceptron (no hidden layer) reaches {by_name['0'].val_metric[0]:.3f} {what} against "
            f"{by_name[best].val_metric[0]:.3f} for {best}: the data is not linearly separable, "
            "so a hidden layer is needed")


def sweep(
    config: Config,
    sizes: Sequence[tuple[int, ...]],
    seeds: int,
    jobs: int,
    directory: Path,
    on_run: Callable[[RunOutcome], None] | None = None,
) -> SweepResult:
    """Train every candidate with every seed, then compare them and write the results."""
    seed_list = run_seeds(config.seed, seeds)
    configs = [run_config(config, tuple(h), s, directory) for h in sizes for s in seed_list]
    run.prepare_data(configs[0], run.generators(configs[0])[0])  # bad data fails here, before any run starts
    ensure_directory(directory)
    runs = []
    if jobs <= 1:
        for cfg in configs:
            runs.append(train_one(cfg))
            if on_run is not None:
                on_run(runs[-1])
    else:
        # Fresh interpreters, not forks of this one: workers share no state with it.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            for future in as_completed([pool.submit(train_one, cfg) for cfg in configs]):
                runs.append(future.result())
                if on_run is not None:
                    on_run(runs[-1])
    runs.sort(key=lambda r: ([label(h) for h in sizes].index(r.candidate), seed_list.index(r.seed)))
    task = task_of_loss(config.loss)
    candidates = summarise(runs, [label(h) for h in sizes])
    best, simplest = choose(candidates, task)
    note = perceptron_note(candidates, best, task)
    files = write_results(config, directory, runs, candidates, best, simplest, sizes, task)
    return SweepResult(task, runs, candidates, best, simplest, note, files)


def write_results(config, directory, runs, candidates, best, simplest, sizes, task) -> dict[str, Path]:
    """runs.csv, candidates.csv, results.json, and the best candidate's checkpoint and config."""
    files = {name: directory / name for name in ("runs.csv", "candidates.csv", "results.json", "best.npz", "config.yaml")}
    run_rows = [asdict(r) for r in runs]
    write_csv(files["runs.csv"], list(run_rows[0]), [list(r.values()) for r in run_rows])
    flat = [_flat(c) for c in candidates]
    write_csv(files["candidates.csv"], list(flat[0]), [list(c.values()) for c in flat])
    results = {"task": task, "best": best, "simplest_within_one_se": simplest,
               "candidates": flat, "runs": run_rows}
    atomic_write(files["results.json"], lambda s: s.write((json.dumps(results, indent=2) + "\n").encode()))
    top = best_run(runs, best, task)
    source = Path(top.output) / BEST
    atomic_write(files["best.npz"], lambda s: s.write(source.read_bytes()))
    hidden = next(tuple(h) for h in sizes if label(h) == best)
    best_config = replace(run_config(config, hidden, top.seed, directory), output=directory / "best-run")
    atomic_write(files["config.yaml"], lambda s: s.write(dump_config(best_config, relative_to=directory).encode()))
    return files


def best_run(runs: Sequence[RunOutcome], candidate: str, task: str) -> RunOutcome:
    """The seed of a candidate that scored best (highest accuracy / R^2, lowest MSE)."""
    mine = [r for r in runs if r.candidate == candidate and not r.diverged]
    if task == "classification":
        return max(mine, key=lambda r: (r.val_metric, -r.val_loss))
    return min(mine, key=lambda r: r.val_mse)


def _flat(c: CandidateSummary) -> dict:
    out = {"candidate": c.candidate, "parameters": c.parameters, "runs": c.runs}
    for key in ("train_loss", "val_loss", "val_metric", "val_mse"):
        value = getattr(c, key)
        if value is not None:
            out[f"{key}_mean"], out[f"{key}_std"] = value
    out["epochs"], out["seconds"] = c.epochs, round(c.seconds, 4)
    return out
