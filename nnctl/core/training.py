"""Gradient descent with backpropagation, epoch by epoch.

    initialise the weights at random (model.init_network)
    repeat for each epoch:
        shuffle the rows; for each mini-batch:
            (with dropout, draw the step's masks of the hidden units: dropout.py)
            forward pass -> logits Z_L                          (model.forward)
            loss delta dL/dZ_L -> chain rule back through the layers   (model.backward)
            (both in buffers allocated once per fit: workspace.py)
            add the penalty's gradient to each weight matrix
            move every parameter by the optimizer's rule and the learning rate
        the epoch's training loss and metrics: the row-weighted mean over its batches, from
        the logits each step already computed (as Keras, Lightning and scikit-learn report
        them; with dropout, those of the thinned network each step trained), or a pass over
        all the training rows (``evaluate_train="full"``, and by default when a training
        figure picks the best epoch: ``train_figures_source``)
        the loss and metrics on the validation rows, from a pass over them
        keep the best epoch; adjust the learning rate; stop early if asked to

``fit`` never prints and never writes files: it calls ``on_epoch`` and the
caller decides what to show or save.  Everything needed to stop and go on
exactly (the optimizer's state, the shuffling generator's state, the epoch and
step, the schedule and early-stopping bookkeeping) is plain data in a
``TrainingState``, which ``fit`` takes and keeps up to date.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np

from nnctl.core import metrics as metric_fns
from nnctl.core.dropout import epoch_key
from nnctl.core.health import COUNTED, activation_counts, add_counts, health_figures, step_counts
from nnctl.core.losses import LOSSES, Loss
from nnctl.core.model import Buffers, Layer, forward
from nnctl.core.optimizers import OPTIMIZERS, Hyper
from nnctl.core.regularizers import penalty
from nnctl.core.schedules import Schedule, improved, initial_state, next_learning_rate
from nnctl.core.workspace import Workspace

Array = np.ndarray

LOWER_IS_BETTER = {"loss": True, "data_loss": True, "mse": True, "rmse": True, "mae": True,
                   "zero_one_loss": True, "accuracy": False, "r2": False}


@dataclass(frozen=True)
class Settings:
    """What fit needs besides the network and the data."""

    loss: str
    learning_rate: float
    epochs: int
    batch_size: int | None = None  # None: the whole training set is one batch
    shuffle: bool = True
    l1: float = 0.0
    l2: float = 0.0
    optimizer: str = "sgd"
    hyper: Hyper = Hyper()
    schedule: Schedule = Schedule()
    monitor: str = "auto"  # val_loss, val_accuracy, train_loss, ...; auto: val_loss, or train_loss without validation
    patience: int | None = None  # stop after this many epochs without improvement (None: never)
    min_delta: float = 0.0  # the least change of the monitored value that counts as an improvement
    target: float | None = None  # stop once the monitored value reaches this
    target_scale: tuple[float, ...] | None = None  # regression trained on (y - mean) / scale: errors reported times scale
    evaluate_train: str = "auto"  # the epoch's training figures: "batches" (from its steps), "full" (a pass), or
    # "auto": batches, unless a training figure picks the best epoch (see train_figures_source)
    dropout: tuple[float, ...] = ()  # p per hidden layer: the share of its units dropped in each step (dropout.py)


@dataclass(frozen=True)
class Evaluation:
    """Loss and metrics of a network on one set of rows."""

    data_loss: float
    penalty: float
    metrics: dict[str, float]

    @property
    def loss(self) -> float:
        """The objective: data loss + lambda * R(W)."""
        return self.data_loss + self.penalty


@dataclass(frozen=True)
class EpochRecord:
    epoch: int  # 1-based
    train: Evaluation
    validation: Evaluation | None
    learning_rate: float  # the rate this epoch ran at
    seconds: float  # wall time of this epoch's updates and evaluation
    health: dict[str, float] = field(default_factory=dict)  # see core/health.py


@dataclass
class TrainingState:
    """Where training stands, as plain data, so that it can stop and go on exactly."""

    epoch: int = 0  # epochs completed
    step: int = 0  # batches of epoch `epoch + 1` already done (non-zero only after an interruption)
    rng_state: dict | None = None  # the shuffling generator's state when epoch `epoch + 1` began
    optimizer: dict = field(default_factory=dict)  # the optimizer's arrays and counters
    optimizer_name: str = "sgd"  # whose state ``optimizer`` is
    learning_rate: float = 0.0  # the rate of epoch `epoch + 1`
    schedule: dict = field(default_factory=initial_state)
    best_value: float | None = None  # the best monitored value so far
    best_epoch: int = 0
    waited: int = 0  # epochs since the monitored value last improved


@dataclass
class History:
    records: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = 0  # epoch with the best monitored value (0: none yet)
    stop_reason: str = ""
    diverged: bool = False  # stopped because a loss or weight was no longer finite
    interrupted: bool = False  # stopped by should_stop() in the middle of an epoch

    @property
    def best(self) -> EpochRecord:
        return next(r for r in self.records if r.epoch == self.best_epoch)


def monitor_name(settings: Settings, has_validation: bool) -> str:
    """The monitored figure: 'val_loss', 'train_accuracy', ... (never 'auto')."""
    if settings.monitor == "auto":
        return "val_loss" if has_validation else "train_loss"
    return settings.monitor


def monitored_value(record: EpochRecord, name: str) -> float:
    """A figure of an epoch by its name: val_loss is the validation data loss, train_loss the objective."""
    where, what = name.split("_", 1)
    evaluation = record.validation if where == "val" else record.train
    if evaluation is None:
        raise ValueError(f"{name} needs validation rows")
    if what == "loss":
        return evaluation.data_loss if where == "val" else evaluation.loss
    return evaluation.metrics[what]


def train_figures_source(settings: Settings, has_validation: bool) -> str:
    """How each epoch's training figures are had: "batches" (the mean over its steps) or "full" (a
    pass over every training row).  "auto" is batches, but full when the monitored figure, which
    picks the best epoch (and drives early stopping and the plateau schedule), is a training
    figure: that choice stays exact."""
    if settings.evaluate_train != "auto":
        return settings.evaluate_train
    return "full" if monitor_name(settings, has_validation).startswith("train_") else "batches"


def lower_is_better(name: str) -> bool:
    return LOWER_IS_BETTER[name.split("_", 1)[1]]


def convergence_window(n_epochs: int) -> int:
    """The last epochs ``still_improving`` looks at: a tenth of them, at least 2 and at most 10."""
    return min(max(2, n_epochs // 10), 10, max(n_epochs - 1, 1))


def still_improving(values: Sequence[float], lower: bool, tolerance: float = 1e-3) -> bool:
    """Whether a monitored figure was still improving when training ended: the best value of the
    last tenth of the epochs (two at least, ten at most: scikit-learn's n_iter_no_change) beats the
    best of all the epochs before them by more than ``tolerance`` of that value.  (scikit-learn's
    ConvergenceWarning, for a run that used all its epochs.)

        gain = min(v[:n - w]) - min(v[n - w:])     (max, and the other way round, when higher is better)
    """
    n = len(values)
    if n < 2:
        return n == 1
    w = convergence_window(n)
    earlier, last = values[:n - w], values[n - w:]
    before = min(earlier) if lower else max(earlier)
    gain = before - min(last) if lower else max(last) - before
    return bool(gain > tolerance * max(abs(before), 1e-12))


EVALUATION_VALUES = 1 << 20  # a layer's outputs for one chunk of rows in an evaluation: 4 MiB in float32, per network
# (the logits of a row depend on the chunk's size in their last bits: BLAS blocks the products by it)


def evaluate(layers: Sequence[Layer], loss: Loss, X: Array, y: Array, l1: float = 0.0, l2: float = 0.0,
             weights: Array | None = None, target_scale: Sequence[float] | None = None,
             values: int = EVALUATION_VALUES) -> tuple[Evaluation, list[Array | None]]:
    """Data loss (weighted when row weights are given), penalty and metrics (accuracy and
    0-1 loss, or MSE, RMSE, MAE, R^2, in the target's units when ``target_scale`` says
    what a unit of ``y`` is); also what the health figures need of the hidden layers'
    outputs (``health.activation_counts``)."""
    found = forward_all(layers, loss, X, y, values)
    return evaluation_of(found, loss, layers, y, l1, l2, weights, target_scale), found.counts


@dataclass
class Pass:
    """What an evaluation keeps of a forward pass over all rows."""

    samples: Array  # per-sample losses: (..., n)
    outputs: Array  # class decisions (..., n), or the logits (..., n, k) for regression
    counts: list  # health.activation_counts of each hidden layer


def forward_all(layers: Sequence[Layer], loss: Loss, X: Array, y: Array, values: int = EVALUATION_VALUES) -> Pass:
    """``model.forward`` over every row of X, for one network or a stack of them (layers
    whose arrays have a leading axis), chunk by chunk of rows, so that no layer's outputs
    for all the rows are ever held at once (``values`` per layer and network in a chunk)."""
    rows = max(1, values // max(layer.W.shape[-1] for layer in layers))
    classify = loss.task == "classification"
    samples, outputs, counts = [], [], None
    for start in range(0, len(X), rows):
        inputs, sums = forward(layers, X[start:start + rows])
        Z = sums[-1]
        samples.append(loss.samples(Z, loss.encode(y[start:start + rows], Z.shape[-1], Z.dtype)))
        outputs.append(loss.decide(Z) if classify else Z)
        counts = add_counts(counts, [activation_counts(layer.activation, A) for layer, A in zip(layers, inputs[1:])])
    return Pass(np.concatenate(samples, axis=-1), np.concatenate(outputs, axis=-1 if classify else -2), counts or [])


def evaluation_of(found: Pass, loss: Loss, layers: Sequence[Layer], y: Array, l1: float, l2: float,
                  weights: Array | None, target_scale: Sequence[float] | None = None) -> Evaluation:
    """An Evaluation of one network from a pass's decisions (or logits, for regression) and
    per-sample losses: L = 1/n sum_i w_i l_i, plus lambda R(W) of the weights as they are."""
    if loss.task == "classification":
        metrics = metric_fns.classification_metrics(y, found.outputs)
    else:
        metrics = metric_fns.regression_metrics(y, found.outputs, target_scale)
    return Evaluation(loss.mean(found.samples, weights), penalty([layer.W for layer in layers], l1, l2), metrics)


class Tally:
    """An epoch's training figures gathered from its own steps, with no extra pass: each
    step's logits are kept in the order the steps used the rows (one copy per step), and
    the hidden layers' health counts, from the f'(Z) of each step's backward pass, add up.

    At the end of a whole epoch every row was used once, so the per-sample losses of
    these logits, averaged with the row weights, are the row-weighted mean of the batch
    losses, L_epoch = sum_b m_b L_b / n, and the metrics are those of the rows'
    decisions when their step saw them.  ``order``: the epoch's order of the rows, (n,) or
    (S, n) for a stack of networks."""

    def __init__(self, order: Array, n_outputs: int, dtype, names: Sequence[str]):
        self.order = order
        self.counted = [(l, name) for l, name in enumerate(names[:-1]) if name in COUNTED]  # hidden layers with counts
        self.logits = np.empty(order.shape + (n_outputs,), dtype)
        self.counts: list = [None] * (len(names) - 1)
        self.rows = 0  # rows tallied

    def add(self, start: int, buffers: Buffers) -> None:
        """Keep a step's logits (its rows are ``order[..., start:start + m]``) and its counts."""
        Z = buffers.Z[-1]
        m = Z.shape[-2]
        self.logits[..., start:start + m, :] = Z
        counts = self.counts
        for l, name in self.counted:
            found = step_counts(name, buffers.fprime[l])
            counts[l] = found if counts[l] is None else counts[l] + found
        self.rows += m

    def keep(self, kept: Array) -> None:
        """Only the networks ``kept`` (a mask over the stack) stay."""
        self.order, self.logits = self.order[kept], self.logits[kept]
        self.counts = [c if c is None else c[kept] for c in self.counts]

    def as_pass(self, loss: Loss, T: Array) -> Pass:
        """The epoch's figures as a pass over the training rows with targets T would give them:
        the logits put back in the rows' own order."""
        logits = np.empty_like(self.logits)
        stack = (np.arange(len(self.order))[:, None],) if self.order.ndim == 2 else ()
        logits[stack + (self.order,)] = self.logits
        samples = loss.samples(logits, T)
        outputs = loss.decide(logits) if loss.task == "classification" else logits
        return Pass(samples, outputs, self.counts)


def gradients(layers: Sequence[Layer], loss: Loss, X: Array, T: Array, l1: float, l2: float,
              weights: Array | None = None, masks: Sequence[Array | None] | None = None) -> list[Array]:
    """dL/dtheta for every parameter, flat in the order (W_0, b_0, W_1, b_1, ...).

    L is the (weighted) mean data loss over the batch plus the weight penalty, with
    the hidden layers' dropout ``masks`` applied when given.  Computed by the training
    step itself (``Workspace.gradients``) on a copy of the parameters, so a gradient
    check checks what training uses.
    """
    X = np.asarray(X, dtype=layers[0].W.dtype)
    space = Workspace([[Layer(layer.W, layer.b, layer.activation) for layer in layers]], len(X))
    space.gradients(loss, X, np.asarray(T, dtype=X.dtype), weights, l1, l2, masks)
    return [array.copy() for array in space.unpack(space.grad)]


def parameters(layers: Sequence[Layer]) -> list[Array]:
    """The network's arrays, flat: (W_0, b_0, W_1, b_1, ...)."""
    return [array for layer in layers for array in (layer.W, layer.b)]


def new_state(layers: Sequence[Layer], settings: Settings, rng: np.random.Generator) -> TrainingState:
    """The state before the first step: fresh optimizer, the generator as it is now."""
    return TrainingState(rng_state=rng.bit_generator.state,
                         optimizer=OPTIMIZERS[settings.optimizer].init(parameters(layers)),
                         optimizer_name=settings.optimizer, learning_rate=settings.learning_rate)


@dataclass
class Job:
    """What stays fixed while fit runs: the data as arrays of the network's dtype, the rules,
    and the buffers a step reuses."""

    loss: Loss
    settings: Settings
    X: Array
    y: Array
    T: Array
    weights: Array | None
    validation: tuple[Array, Array] | None
    batch_size: int
    n_batches: int
    monitor: str
    lower: bool
    figures: str  # "batches" or "full": see train_figures_source
    workspace: Workspace | None = None
    batch: tuple[Array, Array, Array | None] | None = None  # buffers for one batch's X, T and row weights
    batch_views: dict = field(default_factory=dict)  # views of them for a batch of m rows, by m

    def prepare(self, nets: list[list[Layer]], stack: bool = False) -> None:
        """Pack the networks' parameters and allocate the buffers of a step, once per fit."""
        self.workspace = Workspace(nets, self.batch_size, stack, OPTIMIZERS[self.settings.optimizer].scratch,
                                   self.settings.dropout)
        self.batch_views = {}
        lead = self.workspace.lead + (self.batch_size,)
        self.batch = (np.empty(lead + self.X.shape[1:], self.X.dtype), np.empty(lead + self.T.shape[1:], self.T.dtype),
                      None if self.weights is None else np.empty(lead, self.weights.dtype))

    def tally(self, order: Array) -> Tally | None:
        """An empty tally of the training figures of an epoch that takes the rows in ``order``
        (None when they come from a pass over the rows: nothing to keep)."""
        if self.figures == "full":
            return None
        return Tally(order, self.T.shape[-1], self.T.dtype, self.workspace.activations)

    def training_pass(self, layers: Sequence[Layer], tally: Tally | None) -> Pass:
        """The epoch's training figures: from its batches (the default, once the whole epoch
        ran in this call), or from a pass of the network as it is now over all the rows."""
        if tally is not None and tally.rows == len(self.X):
            return tally.as_pass(self.loss, self.T)
        return forward_all(layers, self.loss, self.X, self.y)

    def gather(self, rows: Array) -> tuple[Array, Array, Array | None]:
        """The batch of ``rows`` ((m,), or (S, m) for a stack) copied into the batch buffers."""
        m = rows.shape[-1]
        if m not in self.batch_views:
            self.batch_views[m] = tuple(None if buffer is None else buffer[..., :m, :] if buffer.ndim > rows.ndim
                                        else buffer[..., :m] for buffer in self.batch)
        X, T, w = self.batch_views[m]
        self.X.take(rows, axis=0, out=X, mode="clip")  # rows are valid indices: clip only skips a copy
        self.T.take(rows, axis=0, out=T, mode="clip")
        if w is not None:
            self.weights.take(rows, axis=0, out=w, mode="clip")
        return X, T, w


def _flat_optimizer_state(workspace: Workspace, state: dict) -> dict:
    """The optimizer's state over the flat parameter vector: each per-parameter list of
    arrays is packed into one vector, and the list's items become views of it, so that
    ``state`` (what a checkpoint saves) follows every update."""
    return {key: [workspace.pack(value)] if isinstance(value, list) else value for key, value in state.items()}


def fit(
    layers: list[Layer],
    X: Array,
    y: Array,
    settings: Settings,
    rng: np.random.Generator,
    validation: tuple[Array, Array] | None = None,
    on_epoch: Callable[[EpochRecord, list[Layer], bool, TrainingState], None] | None = None,
    sample_weights: Array | None = None,
    state: TrainingState | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> History:
    """Train ``layers`` in place on ``X: (n_samples, n_features)`` and targets ``y``.

    ``y`` holds class indices (classification) or target values (regression);
    ``sample_weights: (n_samples,)`` weigh the rows in the training loss.
    After every epoch ``on_epoch(record, layers, improved, state)`` is called,
    where ``improved`` says the monitored value is the best so far.  Passing
    the ``state`` of an earlier call goes on exactly where it stopped.
    ``should_stop()`` is asked after every step; when it says yes, fit returns
    at once with ``history.interrupted`` set and ``state`` at the next step.
    A loss or weight that stops being finite ends the run at that step, with
    ``history.diverged`` set; the weights are then not to be kept.
    (While fit runs, the layers' arrays are views of the workspace's flat vector;
    when it returns, the final values are in the layers' own arrays again.)
    """
    job = make_job(layers, X, y, settings, validation, sample_weights)
    state = state or new_state(layers, settings, rng)
    with own_arrays([layers]):
        job.prepare([layers])
        return _fit(job, layers, rng, state, on_epoch, should_stop)


@contextmanager
def own_arrays(nets: Sequence[list[Layer]]) -> Iterator[None]:
    """Give the layers their own W and b back, holding the values they end with, however
    training ends (it rebinds them to views of the workspace's flat vector)."""
    kept = [[(layer.W, layer.b) for layer in layers] for layers in nets]
    try:
        yield
    finally:
        for layers, arrays in zip(nets, kept):
            for layer, (W, b) in zip(layers, arrays):
                if layer.W is not W:
                    np.copyto(W, layer.W)
                    np.copyto(b, layer.b)
                    layer.W, layer.b = W, b


def _fit(job: Job, layers: list[Layer], rng: np.random.Generator, state: TrainingState,
         on_epoch: Callable | None, should_stop: Callable[[], bool] | None) -> History:
    settings, space, loss = job.settings, job.workspace, job.loss
    optimizer, optimizer_state = OPTIMIZERS[settings.optimizer], _flat_optimizer_state(space, state.optimizer)
    counters = [key for key, value in optimizer_state.items() if not isinstance(value, list)]  # Adam's t
    history = History(best_epoch=state.best_epoch)
    stop = should_stop or (lambda: False)
    while state.epoch < settings.epochs:
        epoch, started = state.epoch + 1, time.perf_counter()
        rng.bit_generator.state = state.rng_state  # a no-op unless going on from a saved state
        order = rng.permutation(len(job.X)) if settings.shuffle else np.arange(len(job.X))
        key = epoch_key(rng) if space.dropout else None  # the epoch's dropout masks come from it
        tally = job.tally(order)
        # A diverging run overflows somewhere; that is caught at the step, so NumPy need not warn first.
        with np.errstate(over="ignore", invalid="ignore"):
            for step in range(state.step, job.n_batches):
                rows = order[step * job.batch_size:(step + 1) * job.batch_size]
                masks = None if key is None else space.draw_masks(key, step, len(rows))
                buffers = space.gradients(loss, *job.gather(rows), settings.l1, settings.l2, masks)  # forward, backward
                if not space.finite(space.output_bias_gradient()):  # it sums the output delta: the loss broke
                    mark_diverged(history, epoch, step + 1)
                    return history
                optimizer.update([space.theta], [space.grad], optimizer_state, state.learning_rate, settings.hyper,
                                 space.work)  # theta <- theta - eta * (the rule's step)
                if counters:
                    state.optimizer.update({key: optimizer_state[key] for key in counters})
                if not space.finite(space.theta):
                    mark_diverged(history, epoch, step + 1)
                    return history
                if tally is not None:
                    tally.add(step * job.batch_size, buffers)
                state.step = step + 1
                if stop() and state.step < job.n_batches:
                    history.interrupted = True
                    history.stop_reason = f"interrupted at epoch {epoch}, step {state.step} of {job.n_batches}"
                    return history
            train = job.training_pass(layers, tally)
            record = epoch_record(job, layers, train, space.dW, rng, state, history, started)
        if record is None or close_epoch(job, record, layers, state, history, on_epoch):
            return history  # diverged, the target reached or patience run out
        if stop() and state.epoch < settings.epochs:
            history.interrupted = True
            history.stop_reason = f"interrupted after epoch {record.epoch}"
            return history
    history.stop_reason = f"all {settings.epochs} epochs done"
    return history


def make_job(layers: list[Layer], X: Array, y: Array, settings: Settings,
             validation: tuple[Array, Array] | None, sample_weights: Array | None) -> Job:
    """The data in the network's dtype, the targets encoded for the loss, and the rules."""
    loss = LOSSES[settings.loss]
    dtype = layers[0].W.dtype
    if validation is not None:
        validation = (np.asarray(validation[0], dtype=dtype), validation[1])
    monitor = monitor_name(settings, validation is not None)
    n = len(X)
    batch_size = min(settings.batch_size or n, n)
    return Job(loss, settings, np.asarray(X, dtype=dtype), y, loss.encode(y, layers[-1].W.shape[1], dtype),
                sample_weights, validation, batch_size, math.ceil(n / batch_size), monitor, lower_is_better(monitor),
                train_figures_source(settings, validation is not None))


def close_epoch(job: Job, record: EpochRecord, layers: list[Layer], state: TrainingState, history: History,
                 on_epoch: Callable | None) -> bool:
    """Keep the epoch: best so far?, the next learning rate, ``on_epoch``; True when the run
    is to stop here (target reached or patience run out), with ``history.stop_reason`` set."""
    history.records.append(record)
    settings = job.settings
    value = monitored_value(record, job.monitor)
    better = improved(value, state.best_value, settings.min_delta, job.lower)
    if better:
        state.best_value, state.best_epoch, state.waited = value, record.epoch, 0
        history.best_epoch = record.epoch
    else:
        state.waited += 1
    state.learning_rate = next_learning_rate(settings.schedule, settings.learning_rate, state.learning_rate,
                                             record.epoch, value, job.lower, state.schedule)
    if on_epoch is not None:
        on_epoch(record, layers, better, state)
    history.stop_reason = _stop_reason(job, state, value)
    return bool(history.stop_reason)


def epoch_record(job: Job, layers: Sequence[Layer], train: Pass, weight_grads: Sequence[Array],
                 rng: np.random.Generator, state: TrainingState, history: History, started: float
                 ) -> EpochRecord | None:
    """The epoch's record: training figures from ``train``, validation figures from a pass
    over the validation rows, health from both (activation counts) and the last step's
    gradients; ``state`` moved to the next epoch.  None (diverged) when a loss is no longer
    finite."""
    settings = job.settings
    figures = evaluation_of(train, job.loss, layers, job.y, settings.l1, settings.l2, job.weights,
                            settings.target_scale)
    val = (evaluate(layers, job.loss, *job.validation, target_scale=settings.target_scale)[0]
           if job.validation is not None else None)
    health = health_figures([layer.W for layer in layers], [layer.activation for layer in layers], train.counts,
                            len(job.X), weight_grads)
    return end_epoch(job, layers, rng, state, history, started, figures, val,
                     {name: float(value) for name, value in health.items()})


def end_epoch(job: Job, layers: list[Layer], rng: np.random.Generator, state: TrainingState, history: History,
              started: float, train: Evaluation, val: Evaluation | None, health: dict[str, float],
              seconds: float | None = None) -> EpochRecord | None:
    """The epoch's record from its figures, and ``state`` moved to the next epoch;
    None (diverged) when a loss is no longer finite.  ``seconds``: the epoch's wall time
    when not the time since ``started``."""
    epoch = state.epoch + 1
    if not np.isfinite(train.loss) or (val is not None and not np.isfinite(val.data_loss)):
        return mark_diverged(history, epoch, job.n_batches)
    state.epoch, state.step, state.rng_state = epoch, 0, rng.bit_generator.state
    seconds = time.perf_counter() - started if seconds is None else seconds
    return EpochRecord(epoch, train, val, state.learning_rate, seconds, health)


def mark_diverged(history: History, epoch: int, step: int) -> None:
    history.diverged = True
    history.stop_reason = f"the loss is no longer finite at epoch {epoch}, step {step}"
    return None


def _stop_reason(job: Job, state: TrainingState, value: float) -> str:
    """Why to stop after this epoch: the target is reached, or patience ran out ('' to go on)."""
    target, patience = job.settings.target, job.settings.patience
    if target is not None and (value <= target if job.lower else value >= target):
        return f"target reached: {job.monitor} {value:.4g} at epoch {state.epoch} (target {target:g})"
    if patience is not None and state.waited >= patience:
        return f"no improvement in {job.monitor} for {state.waited} epochs (best at epoch {state.best_epoch})"
    return ""
