"""A training run: config -> data -> trained network -> files in the run directory.

The one code path behind ``nnctl train`` and each run of ``nnctl sweep-hidden``.  It never prints: progress reaches the caller through ``on_epoch``.

Randomness: the train/validation split comes from ``data.split_seed`` (the
config's seed when unset); the initial weights and the shuffling come from two
generators spawned from the config's seed.  So runs with different seeds can
share one split, as a sweep over seeds needs.
"""

from __future__ import annotations

import csv
import io
import math
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from nnctl import __version__
from nnctl.checkpoint import BEST, HISTORY_ARRAY, LAST, Checkpoint, save_checkpoint
from nnctl.files import atomic_write, display_path, free_directory, same_file, write_json
from nnctl.config import Config, config_to_dict, dump_config, task_of_loss
from nnctl.core.losses import LOSSES
from nnctl.core.model import Layer, count_parameters, init_network, layer_sizes, parameter_count
from nnctl.core.optimizers import OPTIMIZERS, Hyper
from nnctl.core.schedules import Schedule
from nnctl.core.stacked import fit_stacked
from nnctl.core.training import (EpochRecord, Evaluation, History, Settings, TrainingState, evaluate, fit, lower_is_better,
                                 convergence_window, monitor_name, new_state, still_improving, train_figures_source)
from nnctl.rundir import RunDirectory
from nnctl.resume import (HISTORY_COLUMNS, STATE_KEY, adapt_state, decode_history, decode_state, encode_history,
                          encode_state)
from nnctl.prep.prepare import PreparedData, in_file, prepare_data
from nnctl.prep.transforms import Scaler
from nnctl.errors import ConfigError, OutputError, TrainingError

CONFIG_FILE, HISTORY_FILE, SUMMARY_FILE = "config.yaml", "history.csv", "summary.json"
SAVE_SECONDS = 2.0  # the longest a run goes without writing its checkpoints
FINAL_EVALUATION_VALUES = 1 << 18  # the run's closing pass goes in smaller chunks than training's (1 MiB per
# layer in float32): it comes when the run holds the most (the best and last weights, the history)


class _Snapshot:
    """A copy of a network's arrays and the metadata of the epoch they come from; for the
    ``last`` checkpoint also the training state, the best epoch's weights and the history,
    so that one atomic file holds all that --resume needs."""

    def __init__(self, layers: list[Layer]):
        self.layers = _copy(layers)
        self.meta: dict[str, Any] | None = None
        self.state_arrays: dict[str, np.ndarray] = {}
        self.rows: list[dict] = []
        self.n_rows = 0  # the history is only referenced while training: cut to this on save

    def take(self, layers: list[Layer], meta: dict[str, Any], state: TrainingState | None = None,
             rows: list[dict] | None = None, best: "_Snapshot | None" = None) -> None:
        for kept, layer in zip(self.layers, layers):
            np.copyto(kept.W, layer.W)
            np.copyto(kept.b, layer.b)
        self.meta = meta
        if state is not None:
            numbers, self.state_arrays = encode_state(state, best.layers, best.meta)
            self.meta = {**meta, STATE_KEY: numbers}
            self.rows, self.n_rows = rows, len(rows)

    def save(self, path: Path, scaler: Scaler) -> None:
        if self.meta is None:
            return
        meta, arrays = self.meta, self.state_arrays
        if STATE_KEY in meta:  # a last checkpoint: the history rides along, to go on from
            columns, values = encode_history(self.rows[: self.n_rows])
            meta = {**meta, STATE_KEY: {**meta[STATE_KEY], HISTORY_COLUMNS: columns}}
            arrays = {**arrays, HISTORY_ARRAY: values}
        save_checkpoint(path, self.layers, scaler, meta, arrays or None)


def _copy(layers: list[Layer]) -> list[Layer]:
    return [Layer(layer.W.copy(), layer.b.copy(), layer.activation) for layer in layers]


@dataclass
class RunResult:
    config: Config
    layers: list[Layer]  # the best network (by the monitored figure): what the run ends with
    history: History  # this call's epochs (after a resume: the epochs since)
    data: PreparedData
    files: dict[str, Path]
    seconds: float
    rows: list[dict[str, Any]]  # every epoch of the run, resumed ones included (history.csv)
    best_row: dict[str, Any]  # the best epoch's row
    summary: dict[str, Any]  # what summary.json holds
    checkpoints: "tuple[_Snapshot, _Snapshot] | None" = None  # (best, last) as written: see finished_run
    convergence_note: str | None = None  # set when the monitored figure was still improving at the end


def generators(config: Config) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """(split, init, shuffle) generators: the first from the split seed, the others from the seed."""
    split = np.random.SeedSequence(config.split_seed).spawn(3)[0]
    init, shuffle = np.random.SeedSequence(config.seed).spawn(3)[1:]
    return np.random.default_rng(split), np.random.default_rng(init), np.random.default_rng(shuffle)


def network_sizes(config: Config, data: PreparedData) -> list[int]:
    """[inputs, *hidden, outputs]: inputs = features, outputs from the loss."""
    return [data.X_train.shape[1], *config.model.hidden, LOSSES[config.loss].n_outputs(data.n_classes_or_targets)]


def build_network(config: Config, data: PreparedData, init_rng: np.random.Generator) -> list[Layer]:
    """Random layers sized from the data: inputs = features, outputs from the loss."""
    loss = LOSSES[config.loss]
    sizes = network_sizes(config, data)
    _check_memory(config, sizes)
    try:
        return init_network(
            sizes, config.model.hidden_activations, loss.output_activation, init_rng,
            config.model.init, np.dtype(config.model.dtype),
        )
    except MemoryError:  # the largest layer is drawn in float64, then cast
        largest = max(a * b for a, b in zip(sizes[:-1], sizes[1:]))
        raise ConfigError(f"the network {' -> '.join(map(str, sizes))} has {count_parameters(sizes):,} parameters: "
                            f"drawing its largest layer needs {8 * largest / 2**30:.1f} GiB, more memory than there is; "
                            f"fewer units in model.hidden{in_file(config, 'model.hidden')}") from None


def _check_memory(config: Config, sizes: list[int], networks: int = 1) -> None:
    """Refuse, before any array is made, a network whose training cannot fit in the memory available:
    the weights, their gradients, the best and last snapshots, the optimizer's scratch and state
    arrays (in the config's dtype), times the ``networks`` trained stacked, and the largest layer
    drawn in float64 once."""
    available = available_memory()
    if available is None:
        return  # unknown here: a MemoryError is still one line (build_network)
    parameters = count_parameters(sizes)
    needed = training_bytes(config, sizes, networks)
    if needed > available:  # a ConfigError: the config must change (a sweep stops on it, not calls it diverged)
        stacked = f" {networks} seeds of it together" if networks > 1 else " it"
        raise ConfigError(f"the network {' -> '.join(map(str, sizes))} has {parameters:,} parameters: training"
                            f"{stacked} needs about {size_text(needed)} (weights, gradients, optimizer state and "
                            f"checkpoints), more than the {size_text(available)} available; "
                            + ("fewer --seeds, or " if networks > 1 else "")
                            + f"fewer units in model.hidden{in_file(config, 'model.hidden')}")


def training_bytes(config: Config, sizes: list[int], networks: int = 1) -> int:
    """What training ``networks`` networks of ``sizes`` stacked holds: per network the weights, their
    gradients, the best and last snapshots, the optimizer's scratch and state arrays (in the
    config's dtype); and the largest layer drawn in float64 once."""
    itemsize = np.dtype(config.model.dtype).itemsize
    largest = max(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    optimizer = OPTIMIZERS[config.optimizer.name]
    kept = sum(isinstance(value, list) for value in optimizer.init([np.zeros(1)]).values())  # arrays per weight array
    return networks * count_parameters(sizes) * itemsize * (4 + optimizer.scratch + kept) + 8 * largest


def size_text(count: float) -> str:
    return f"{count / 2**30:.1f} GiB" if count >= 2**30 else f"{count / 2**20:.1f} MiB"


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux: MemAvailable); None when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as stream:
            for line in stream:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


HISTORY_ALWAYS = 5_000  # epochs of history written with every save (about 75 ms a write)


def settings_of(config: Config) -> Settings:
    o, r, s, e = config.optimizer, config.regularization, config.schedule, config.early_stopping
    return Settings(
        loss=config.loss, learning_rate=o.learning_rate, epochs=o.epochs, batch_size=o.batch_size,
        shuffle=o.shuffle, l1=r.l1, l2=r.l2, optimizer=o.name,
        hyper=Hyper(momentum=o.momentum, beta1=o.beta1, beta2=o.beta2, epsilon=o.epsilon),
        schedule=Schedule(name=s.name, factor=s.factor, every=s.every, patience=s.patience,
                          min_delta=s.min_delta, min_learning_rate=s.min_learning_rate),
        monitor=e.monitor, patience=e.patience, min_delta=e.min_delta, target=e.target,
        evaluate_train=config.training.evaluate_train, dropout=config.model.hidden_dropout,
    )


def unused_dropout(config: Config) -> str | None:
    """A note when the config sets a dropout rate but has no hidden layer to drop units of."""
    if config.model.hidden or not config.model.dropout:
        return None
    return f"model.dropout {config.model.dropout} drops nothing: dropout switches off hidden units, and model.hidden is []"


def config_notes(config: Config) -> list[str]:
    """What a run of this config should say about its settings before it starts."""
    notes = []
    unused = unused_dropout(config)
    if unused:
        notes.append(unused)
    elif any(config.model.hidden_dropout) and uses_batch_figures(config):
        notes.append("with dropout, each epoch's train figures are those of the thinned networks its batches "
                     "trained (units dropped); the validation figures and the summary use every unit")
    return notes


def uses_batch_figures(config: Config) -> bool:
    """Whether a run of this config reports each epoch's training figures as means over its batches
    (``training.train_figures_source``), rather than from a pass over every training row."""
    return train_figures_source(settings_of(config), config.data.validation != 0) == "batches"


def settings_for(config: Config, data: PreparedData) -> Settings:
    """``settings_of`` with the data's target scale, so regression figures come in the target's own units."""
    return replace(settings_of(config), target_scale=data.target_scale)


def checkpoint_meta(config: Config, data: PreparedData) -> dict[str, Any]:
    """Everything needed to rebuild the model and say where it came from, but the epoch."""
    d = data.dataset
    return {
        "config": config_to_dict(config),
        "loss": config.loss,
        "task": d.task,
        "feature_names": list(d.feature_names),
        "target_names": list(d.target_names),
        "classes": list(d.classes) if d.classes is not None else None,
        "preprocessing": data.preprocessor.to_meta(),
        "seed": config.seed,
    }


def train_figures(train: Evaluation) -> dict[str, float]:
    """train_loss (the objective), train_data_loss, train_penalty, train_accuracy, ..."""
    return {"train_loss": train.loss, "train_data_loss": train.data_loss, "train_penalty": train.penalty,
            **{f"train_{k}": v for k, v in train.metrics.items()}}


def record_metrics(record: EpochRecord) -> dict[str, float]:
    """One flat dict of an epoch's figures: train_loss, train_accuracy, val_loss, ..."""
    out = train_figures(record.train)
    if record.validation is not None:
        out["val_loss"] = record.validation.data_loss
        out.update({f"val_{k}": v for k, v in record.validation.metrics.items()})
    return out


def train(
    config: Config,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    on_start: Callable[[list[Layer], PreparedData], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume_from: Checkpoint | None = None,
    save_seconds: float = SAVE_SECONDS,
    data: PreparedData | None = None,
    write_files: bool = True,
) -> RunResult:
    """Train as the config says, writing best/last checkpoints as it goes, then
    the resolved config, the history and a summary into ``config.output``.

    ``resume_from`` (a ``last`` checkpoint, see resume.py) goes on from where
    that run stopped.  ``should_stop()`` is asked after every step (Ctrl-C).
    Checkpoints reach the disk at most every ``save_seconds`` (0: after every
    epoch) and at the end.  ``data`` (from ``prepare_arrays``) replaces the
    CSV files of the config; ``write_files=False`` keeps everything in memory.
    """
    started = time.perf_counter()
    split_rng, init_rng, shuffle_rng = generators(config)
    data = data or prepare_data(config, split_rng)
    recording = _Recording(config, data, init_rng, shuffle_rng, on_epoch, save_seconds, write_files,
                           resuming=resume_from is not None)
    try:
        if resume_from is not None:
            recording.restore(resume_from)
        if on_start is not None:
            on_start(recording.layers, data)
        history = fit(recording.layers, data.X_train, data.y_train, recording.settings, shuffle_rng,
                      _validation(data), recording.after_epoch, data.w_train, recording.state, should_stop)
        return recording.finish(history, time.perf_counter() - started)
    finally:
        recording.close()  # a run that ended commits in finish; one that failed leaves an earlier run as it was


def train_seeds(configs: Sequence[Config], data: PreparedData, write_files: bool = True,
                save_seconds: float = SAVE_SECONDS) -> list[RunResult | TrainingError]:
    """Train runs that differ only in their seed (and output) as one stacked computation
    (core/stacked.py): each run's result, or the TrainingError ``train`` would have
    raised, is the same as ``train(config, data=data)`` gives.  A run's ``seconds`` is
    its share of the stacked computation (the whole time over the number of runs)."""
    if not configs or any(_but_seed(c) != _but_seed(configs[0]) for c in configs):
        raise ValueError("train_seeds needs configs that differ only in seed and output")
    _check_memory(configs[0], network_sizes(configs[0], data), len(configs))
    started = time.perf_counter()
    recordings: list[_Recording] = []
    try:
        for config in configs:
            _, init_rng, shuffle_rng = generators(config)
            recordings.append(_Recording(config, data, init_rng, shuffle_rng, None, save_seconds, write_files))
        histories = fit_stacked([r.layers for r in recordings], data.X_train, data.y_train, recordings[0].settings,
                                [r.shuffle_rng for r in recordings], _validation(data),
                                [r.after_epoch for r in recordings], data.w_train, [r.state for r in recordings])
        share = (time.perf_counter() - started) / len(configs)
        results: list[RunResult | TrainingError] = []
        for recording, history in zip(recordings, histories):
            try:
                results.append(recording.finish(history, share))
            except TrainingError as error:
                results.append(error)
        return results
    finally:
        for recording in recordings:
            recording.close()


def _but_seed(config: Config) -> Config:
    return replace(config, seed=0, output=Path("."))


def _validation(data: PreparedData) -> tuple[np.ndarray, np.ndarray] | None:
    return (data.X_val, data.y_val) if data.X_val is not None else None


class _Recording:
    """One run: its network, the best and last checkpoints kept as it trains, the history
    rows, and the directory they go to (None: kept in memory)."""

    def __init__(self, config: Config, data: PreparedData, init_rng: np.random.Generator,
                 shuffle_rng: np.random.Generator, on_epoch: Callable[[EpochRecord], None] | None,
                 save_seconds: float, write_files: bool, resuming: bool = False):
        self.config, self.data, self.on_epoch, self.save_seconds = config, data, on_epoch, save_seconds
        self.shuffle_rng = shuffle_rng
        self.layers = build_network(config, data, init_rng)
        self.place = _claim_output_directory(config, fresh=not resuming) if write_files else None
        self.out = self.place.directory if self.place is not None else None
        self.best, self.last = _Snapshot(self.layers), _Snapshot(self.layers)
        self.rows: list[dict[str, Any]] = []
        self.settings = settings_for(config, data)
        self.state = new_state(self.layers, self.settings, shuffle_rng)
        self.static_meta = checkpoint_meta(config, data)
        self.saved_at = time.monotonic()

    resumed = False  # going on from a last checkpoint
    started = False  # the first save, which also writes the run's config, is done
    history_at, history_cost = -math.inf, 0.0  # when history.csv was last written, and what that took (s)

    def close(self) -> None:
        """Unlock the run directory; a staged run that did not finish is dropped (the earlier run stays)."""
        if self.place is not None:
            self.place.abandon()

    def restore(self, ckpt: Checkpoint) -> None:
        """Go on from a ``last`` checkpoint (see resume.py)."""
        self.state, self.rows = _restore(ckpt, self.config, self.layers, self.best)
        self.resumed = True

    def save(self) -> None:
        # The run directory is this run's alone (a fresh run over an earlier one writes into a
        # staging directory, rundir.py).  Each save writes the history so far, for `nnctl plot` to
        # draw a run that is still going, or was killed (--resume reads the history last.npz holds),
        # then the checkpoints.  The first save also writes the config.
        # A resumed run's summary goes at its first save (the end writes the new one), so that a
        # run killed after it is not listed as the run that stopped before.  The history costs
        # O(epochs) to write: beyond HISTORY_ALWAYS rows it is written only when that cost is under a
        # tenth of the time since the last (100,000 epochs: 1.5 s, every 15 s).
        if self.out is not None:
            if not self.started:
                if self.resumed:
                    (self.out / SUMMARY_FILE).unlink(missing_ok=True)
                else:
                    atomic_write(self.out / CONFIG_FILE,
                                 lambda s: s.write(dump_config(self.config, relative_to=self.place.final).encode()))
                self.started = True
            now = time.monotonic()
            if len(self.rows) <= HISTORY_ALWAYS or now - self.history_at >= 10 * self.history_cost:
                atomic_write(self.out / HISTORY_FILE, lambda s: s.write(history_csv(self.rows).encode()))
                self.history_at, self.history_cost = time.monotonic(), time.monotonic() - now
            self.best.save(self.out / BEST, self.data.scaler)
            self.last.save(self.out / LAST, self.data.scaler)

    def after_epoch(self, record: EpochRecord, current: list[Layer], improved: bool, now: TrainingState) -> None:
        self.rows.append(history_row(record))
        meta = {**self.static_meta, "epoch": record.epoch, "metrics": record_metrics(record)}
        if improved:
            self.best.take(current, meta)
        self.last.take(current, meta, now, self.rows, self.best)
        # Checkpoints reach the disk every SAVE_SECONDS and at the end, not every
        # epoch: an fsync per epoch would dominate the run time of small networks.
        if time.monotonic() - self.saved_at >= self.save_seconds:
            self.save()
            self.saved_at = time.monotonic()
        if self.on_epoch is not None:
            self.on_epoch(record)

    def exact_train_figures(self, history: History) -> dict[int, dict[str, float]]:
        """The training figures of the best and the last epoch's weights, from one pass over
        every training row each (the history's are means over each epoch's batches, taken
        while the weights moved), by epoch; also put into those checkpoints' metadata."""
        data, found = self.data, {}
        snapshots = (self.best,) if history.interrupted else (self.best, self.last)  # mid-epoch weights: no figures
        for snapshot in snapshots:
            if snapshot.meta is None:
                continue
            epoch = snapshot.meta["epoch"]
            if epoch not in found:
                X = np.asarray(data.X_train, dtype=snapshot.layers[0].W.dtype)
                train, _ = evaluate(snapshot.layers, LOSSES[self.config.loss], X, data.y_train, self.settings.l1,
                                    self.settings.l2, data.w_train, data.target_scale, FINAL_EVALUATION_VALUES)
                found[epoch] = train_figures(train)
            snapshot.meta = {**snapshot.meta, "metrics": {**snapshot.meta["metrics"], **found[epoch]}}
        return found

    def finish(self, history: History, seconds: float) -> RunResult:
        """Save what the run ended with and sum it up; TrainingError (RunDiverged once an
        epoch finished) when the loss stopped being finite."""
        config, state, rows, best, last, out = self.config, self.state, self.rows, self.best, self.last, self.out
        if history.interrupted:  # keep the weights and state of the very step it stopped at
            epoch_meta = {**self.static_meta, "epoch": state.epoch,
                          "metrics": (last.meta or {}).get("metrics", {}), "step": state.step}
            last.take(self.layers, epoch_meta, state, rows, best)
        where = display_path(self.place.final) if self.place is not None else "memory"
        if not rows and not history.interrupted:  # diverged in the first epoch: leave an earlier run as it was
            self.close()
            raise TrainingError(f"{history.stop_reason}: {_remedy(config)}; no epoch finished with finite values, "
                                f"so nothing was written to {where}")
        batches = train_figures_source(self.settings, self.data.X_val is not None) == "batches"
        final = self.exact_train_figures(history) if batches else {}
        self.save()
        test = test_figures(best.layers, config, self.data) if rows else None  # once, with the best weights
        note = convergence_note(rows, history.stop_reason, monitor_name(self.settings, self.data.X_val is not None))
        converged = None if history.interrupted else note is None  # an interrupted run has not ended: unknown
        if out is not None:
            files, summary = write_run_files(config, rows, state.best_epoch, history.stop_reason, self.layers, out,
                                             seconds, test, converged, final)
            self.place.commit()
            files = {name: self.place.final / path.name for name, path in files.items()}
        else:
            files, summary = {}, run_summary(rows, state.best_epoch, history.stop_reason, self.layers, seconds, test,
                                             converged, final)
        best_row = next(({**row, **final.get(row["epoch"], {})} for row in rows if row["epoch"] == state.best_epoch),
                        {})
        result = RunResult(config, best.layers, history, self.data, files, seconds, rows, best_row, summary,
                           (best, last), note)
        if history.diverged:
            raise RunDiverged(f"{history.stop_reason}: {_remedy(config)}; the checkpoints in {where} hold "
                              f"epoch {rows[-1]['epoch']}, the last finite one", result)
        return result


RUN_FILES = (BEST, LAST, CONFIG_FILE, HISTORY_FILE, SUMMARY_FILE)


def holds_run(directory: Path) -> bool:
    """Whether a directory holds (some of) the files of a run."""
    return any((directory / name).exists() for name in RUN_FILES)


def check_output_file(output: Path, inputs: Sequence[Path] = ()) -> None:
    """Refuse an output file that is an input of the same command, a checkpoint, or a file of a run."""
    if any(same_file(output, given) for given in inputs):
        raise OutputError(f"{output}: is an input of this command; write to another file")
    if output.suffix == ".npz" and output.exists():
        raise OutputError(f"{output}: is a checkpoint; write to another file")
    if output.name in RUN_FILES and holds_run(output.parent):
        raise OutputError(f"{output}: is a file of the run in {display_path(output.parent)}; write to another file")


def refuse_sweep_directory(config: Config) -> None:
    """A run never writes over a sweep's directory (its best.npz is the sweep's chosen run)."""
    if (config.output / "results.json").exists() or (config.output / "runs.csv").exists():
        raise OutputError(f"{display_path(config.output)}: holds a sweep; a run does not go there, even with "
                          f"--overwrite (output{in_file(config, 'output')})")


def claim_output(config: Config, overwrite: bool = False) -> tuple[Config, str | None]:
    """The config with the directory its run will write: ``output`` itself, unless it holds an
    earlier run, which ``overwrite`` alone replaces; then the next free ``output-2``, ``-3``, ...;
    and a note saying so."""
    if overwrite:
        refuse_sweep_directory(config)
        return config, None
    free = free_directory(config.output, holds_run)
    if free == Path(config.output).resolve():
        return config, None
    note = (f"{display_path(config.output)} holds an earlier run, kept; this one goes to {display_path(free)} "
            "(--overwrite replaces it instead)")
    return replace(config, output=free), note


def _claim_output_directory(config: Config, fresh: bool) -> RunDirectory:
    """The run's directory, locked for it (a fresh run over an earlier one: a staging directory)."""
    try:
        place = RunDirectory.claim(config.output, fresh, RUN_FILES)
    except OutputError as error:
        raise OutputError(f"{error} (output{in_file(config, 'output')})") from None
    remove_stale_temporaries(place.directory)  # under the lock: no other run's temporary is there
    return place


def remove_stale_temporaries(out: Path) -> None:
    """Remove what a killed write of an earlier run left: ``.best.npz.<random>.tmp`` and the like.

    Such files are never read as checkpoints (their names do not end in .npz)."""
    for name in RUN_FILES:
        for stale in out.glob(f".{name}.*.tmp"):
            stale.unlink(missing_ok=True)


def _restore(ckpt: Checkpoint, config: Config, layers: list[Layer], best: _Snapshot
             ) -> tuple[TrainingState, list[dict]]:
    """Load a ``last`` checkpoint's weights into ``layers`` and its best epoch into ``best``;
    return its training state and history rows."""
    if [layer.W.shape for layer in ckpt.layers] != [layer.W.shape for layer in layers]:
        raise ConfigError(f"--resume: the checkpoint's layers {[list(l.W.shape) for l in ckpt.layers]} do not fit "
                          f"the config's {[list(l.W.shape) for l in layers]}; even --force cannot resume this")
    for layer, saved in zip(layers, ckpt.layers):
        layer.W[...], layer.b[...] = saved.W, saved.b
    state, best_layers, best_meta = decode_state(ckpt, layers)
    state = adapt_state(state, ckpt, config, layers)
    if best_meta is not None:
        best.take(best_layers, best_meta)
    return state, decode_history(ckpt)


def _remedy(config: Config) -> str:
    remedy = f"lower optimizer.learning_rate (now {config.optimizer.learning_rate:g})"
    if not config.data.standardize:
        remedy += " or set data.standardize: true"
    if task_of_loss(config.loss) == "regression" and not config.data.scales_target:
        remedy += " or set data.standardize_target: auto (targets z-scored for training)"
    return remedy


def history_row(record: EpochRecord) -> dict[str, Any]:
    """One epoch as a flat row: epoch, learning rate, seconds, every metric, the health figures."""
    return {"epoch": record.epoch, "learning_rate": record.learning_rate, "seconds": round(record.seconds, 6),
            **record_metrics(record), **record.health}


def write_run_files(config: Config, rows: list[dict], best_epoch: int, stop_reason: str, layers: list[Layer],
                    out: Path, seconds: float, test: dict[str, float] | None = None, converged: bool | None = True,
                    final: dict[int, dict[str, float]] | None = None, summary: dict[str, Any] | None = None
                    ) -> tuple[dict[str, Path], dict[str, Any]]:
    """The resolved config, the per-epoch history CSV and the JSON summary (returned too): ``summary``
    as given (a finished run's, exact training figures and all), or made by ``run_summary``."""
    files = {"best": out / BEST, "last": out / LAST, "config": out / CONFIG_FILE,
             "history": out / HISTORY_FILE, "summary": out / SUMMARY_FILE}
    # Paths relative to where the run ends up (config.output), not to a staging directory inside it.
    atomic_write(files["config"], lambda s: s.write(dump_config(config, relative_to=config.output).encode()))
    atomic_write(files["history"], lambda s: s.write(history_csv(rows).encode()))
    summary = summary or run_summary(rows, best_epoch, stop_reason, layers, seconds, test, converged, final)
    write_json(files["summary"], summary)
    return files, summary


def run_summary(rows: list[dict], best_epoch: int, stop_reason: str, layers: list[Layer],
                seconds: float, test: dict[str, float] | None = None, converged: bool | None = True,
                final: dict[int, dict[str, float]] | None = None) -> dict[str, Any]:
    """What summary.json holds: sizes, parameters, epochs, why it stopped and whether the monitored
    figure had stopped improving, best and last figures, and (with data.test) the best epoch's
    figures on the test rows.  ``final``: exact training figures by epoch, in place of the history's
    means over batches (see ``exact_train_figures``)."""
    final = final or {}
    metrics = lambda row: {k: v for k, v in {**row, **final.get(row.get("epoch"), {})}.items()  # noqa: E731
                           if k.startswith(("train_", "val_"))}
    best = next((row for row in rows if row["epoch"] == best_epoch), {})
    return {
        "nnctl_version": __version__,
        "layer_sizes": layer_sizes(layers),
        "parameters": parameter_count(layers),
        "epochs_run": len(rows),
        "best_epoch": best_epoch,
        "stop_reason": stop_reason,
        "converged": converged,
        "best": metrics(best),
        "last": metrics(rows[-1]) if rows else {},
        **({"test": test} if test is not None else {}),
        "seconds": round(seconds, 3),
    }


def convergence_note(rows: list[dict], stop_reason: str, monitor: str) -> str | None:
    """One line when a run used all its epochs and its monitored figure was still improving at the end."""
    if not stop_reason.startswith("all ") or not rows or monitor not in rows[0]:
        return None
    values = [row[monitor] for row in rows]
    if not still_improving(values, lower_is_better(monitor)):
        return None
    best = int(np.argmin(values) if lower_is_better(monitor) else np.argmax(values))
    window = convergence_window(len(values))
    return (f"{monitor} was still improving in the last {window} epoch{'s' if window > 1 else ''} (best {values[best]:.4g} at epoch "
            f"{rows[best]['epoch']} of {rows[-1]['epoch']}): the run may not have converged; more "
            "optimizer.epochs or a larger optimizer.learning_rate may do better")


def test_figures(layers: list[Layer], config: Config, data: PreparedData) -> dict[str, float] | None:
    """The network's loss and metrics on data.test's rows (None without them): test_loss, test_accuracy, ..."""
    if data.X_test is None:
        return None
    found, _ = evaluate(layers, LOSSES[config.loss], data.X_test, data.y_test, target_scale=data.target_scale)
    return {"test_loss": found.data_loss, **{f"test_{name}": value for name, value in found.metrics.items()}}


def history_csv(rows: list[dict]) -> str:
    """One row per epoch: epoch, learning rate, seconds, every metric and the health figures."""
    stream = io.StringIO()
    columns = list(dict.fromkeys(key for row in rows for key in row)) or ["epoch", "learning_rate", "seconds"]
    writer = csv.DictWriter(stream, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()} for row in rows)
    return stream.getvalue()


# --------------------------------------------------------------------------- runs written elsewhere


class RunDiverged(TrainingError):
    """The loss stopped being finite after some epochs; ``result`` holds the run up to the last finite one."""

    def __init__(self, message: str, result: RunResult):
        super().__init__(message)
        self.result = result


@dataclass
class FinishedRun:
    """A run trained with ``write_files=False``, without its data: everything ``write_run_directory``
    needs to write the files ``train`` writes, small enough to send from a worker process or machine."""

    config: Config
    rows: list[dict[str, Any]]
    summary: dict[str, Any]
    seconds: float
    best: _Snapshot
    last: _Snapshot


def finished_run(result: RunResult) -> FinishedRun:
    best, last = result.checkpoints
    return FinishedRun(result.config, result.rows, result.summary, result.seconds, best, last)


def write_run_directory(run: FinishedRun, scaler: Scaler) -> dict[str, Path]:
    """Write into ``run.config.output`` the files ``train`` writes there: best.npz, last.npz,
    config.yaml, history.csv and summary.json, from the same values, so they are the same files."""
    place = _claim_output_directory(run.config, fresh=True)
    try:
        out = place.directory
        run.best.save(out / BEST, scaler)
        run.last.save(out / LAST, scaler)
        files, _ = write_run_files(run.config, run.rows, run.summary["best_epoch"], run.summary["stop_reason"],
                                   run.best.layers, out, run.seconds, summary=run.summary)
        place.commit()
    finally:
        place.abandon()  # after commit: only the unlock
    return {name: place.final / path.name for name, path in files.items()}
