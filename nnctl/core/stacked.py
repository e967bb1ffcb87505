"""Several seeds of one network trained as one stacked computation.

A sweep trains each candidate with several seeds: networks of one shape, on
the same rows, that differ only in their initial weights and their shuffling.
Trained one after the other, a small network spends most of each step in
Python rather than arithmetic.  Stacked, the S networks' parameters form one
array with a leading axis of length S,

    W_l: (S, fan_in, fan_out),   batch X: (S, m, n_inputs)   (each seed's own rows)
    Z_l = A_{l-1} @ W_l + b_l    one batched product: a BLAS call per network

so a step costs little more than one network's.  Every seed keeps its own
shuffling generator, learning rate (schedules), early stopping and
bookkeeping; a seed that stops (or diverges) leaves the stack and the others
go on.  The figures are those of separate ``fit`` calls, bit for bit.

It is built from ``training``'s named pieces, the ones ``fit`` runs: ``make_job``
and ``Job`` (the data, the rules, the workspace, ``gather``, ``tally`` and
``training_pass``), ``Tally`` (the epoch's figures from its steps), ``end_epoch``
and ``close_epoch`` (the record, the best epoch, the schedule, stopping) and
``forward_all`` (a pass over rows); the step itself is ``Workspace.gradients``,
that is, ``model.forward`` and ``model.backward`` with a stack axis.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np

from nnctl.core import metrics as metric_fns
from nnctl.core.dropout import epoch_key
from nnctl.core.health import health_figures
from nnctl.core.losses import Loss
from nnctl.core.model import Buffers, Layer
from nnctl.core.optimizers import OPTIMIZERS
from nnctl.core.regularizers import penalty
from nnctl.core.training import (
    EpochRecord, Evaluation, History, Job, Pass, Settings, Tally, TrainingState, close_epoch, end_epoch, forward_all,
    make_job, mark_diverged, new_state, own_arrays,
)
from nnctl.core.workspace import Workspace

Array = np.ndarray
OnEpoch = Callable[[EpochRecord, list[Layer], bool, TrainingState], None]


class _Stack:
    """The seeds still training, and the optimizer's state over their stacked parameters."""

    def __init__(self, job: Job, nets: list[list[Layer]], states: list[TrainingState]):
        self.job, self.nets, self.states = job, nets, states
        self.active = list(range(len(nets)))
        self.optimizer: dict = {}
        self._restack(None)

    def _restack(self, keep: Array | None) -> None:
        """(Re)build the stack from the active seeds; ``keep`` selects the rows of the old
        stack that survive, whose gradients and optimizer state carry over."""
        old_grad, old_state = (None, None) if keep is None else (self.job.workspace.grad, self.optimizer)
        self.job.prepare([self.nets[i] for i in self.active], stack=True)
        space = self.job.workspace
        if old_grad is not None:
            space.grad[...] = old_grad[keep]
        self.optimizer = {}
        for key, value in self.states[self.active[0]].optimizer.items():
            if not isinstance(value, list):
                self.optimizer[key] = value
                continue
            flat = np.empty_like(space.theta) if old_state is None else old_state[key][0][keep]
            for row, i in enumerate(self.active):
                if old_state is None:
                    space.pack(self.states[i].optimizer[key], into=flat[row])
                else:
                    self.states[i].optimizer[key][:] = space.unpack(flat[row])
            self.optimizer[key] = [flat]

    def drop(self, leaving: Sequence[int]) -> None:
        """Take the seeds at these positions of the stack out of it."""
        if not len(leaving):
            return
        keep = np.ones(len(self.active), dtype=bool)
        keep[list(leaving)] = False
        self.active = [i for i, kept in zip(self.active, keep) if kept]
        if self.active:
            self._restack(keep)

    def learning_rates(self) -> Array:
        """eta per seed, shaped (S, 1) to scale each seed's row of the flat vectors."""
        return np.array([[self.states[i].learning_rate] for i in self.active], dtype=self.job.workspace.dtype)

    def count_steps(self) -> None:
        """Copy the optimizer's counters (Adam's t) back into each seed's state."""
        for key, value in self.optimizer.items():
            if not isinstance(value, list):
                for i in self.active:
                    self.states[i].optimizer[key] = value


def fit_stacked(
    nets: list[list[Layer]],
    X: Array,
    y: Array,
    settings: Settings,
    rngs: list[np.random.Generator],
    validation: tuple[Array, Array] | None = None,
    on_epochs: Sequence[OnEpoch | None] | None = None,
    sample_weights: Array | None = None,
    states: list[TrainingState] | None = None,
) -> list[History]:
    """Train the networks of ``nets`` in place, each with its generator of ``rngs``, as
    ``fit`` would one by one; ``on_epochs[k]`` is called after each of network k's
    epochs.  ``states`` (fresh ones, as ``new_state`` makes them) are kept up to date as
    ``fit`` keeps its ``state``.  The networks must agree in every layer's shape, dtype
    and activation.  Returns one History per network."""
    kinds = {tuple((layer.W.shape, layer.W.dtype, layer.activation) for layer in layers) for layers in nets}
    if len(kinds) != 1:
        raise ValueError("stacked networks need one shape, dtype and activation in every layer")
    if len(rngs) != len(nets) or (states is not None and len(states) != len(nets)) or (
            on_epochs is not None and len(on_epochs) != len(nets)):
        raise ValueError("one generator (and state and on_epoch, when given) per network")
    job = make_job(nets[0], X, y, settings, validation, sample_weights)
    states = states or [new_state(layers, settings, rng) for layers, rng in zip(nets, rngs)]
    if any(state.epoch or state.step for state in states):
        raise ValueError("stacked training starts from fresh states only")
    histories = [History() for _ in nets]
    with own_arrays(nets):
        _fit_stack(_Stack(job, nets, states), rngs, histories, list(on_epochs or [None] * len(nets)))
    return histories


def _fit_stack(stack: _Stack, rngs: list[np.random.Generator], histories: list[History],
               on_epochs: list[OnEpoch | None]) -> None:
    job, nets, states = stack.job, stack.nets, stack.states
    settings, optimizer = job.settings, OPTIMIZERS[job.settings.optimizer]
    for epoch in range(1, settings.epochs + 1):
        started = time.perf_counter()
        tally = _run_steps(stack, optimizer, rngs, histories, epoch)
        if not stack.active:
            return
        space, finished = job.workspace, []
        active = [nets[i] for i in stack.active]
        with np.errstate(over="ignore", invalid="ignore"):
            train = job.training_pass(space.layers, tally)
            trains = evaluations_of(train, job.loss, active, job.y, settings.l1, settings.l2, job.weights,
                                    settings.target_scale)
            vals = (evaluate_stack(space, active, job.loss, *job.validation, scale=settings.target_scale)[0]
                    if job.validation is not None else [None] * len(active))
            health = health_figures(space.W, space.activations, train.counts, len(job.X), space.dW)
        share = (time.perf_counter() - started) / len(active)  # each seed's share of the epoch
        for row, i in enumerate(stack.active):
            record = end_epoch(job, nets[i], rngs[i], states[i], histories[i], started, trains[row], vals[row],
                               {name: float(values[row]) for name, values in health.items()}, share)
            if record is None or close_epoch(job, record, nets[i], states[i], histories[i], on_epochs[i]):
                finished.append(row)
        stack.drop(finished)
        if not stack.active:
            return
    for i in stack.active:
        histories[i].stop_reason = f"all {settings.epochs} epochs done"


def _run_steps(stack: _Stack, optimizer, rngs: list[np.random.Generator], histories: list[History],
               epoch: int) -> Tally | None:
    """One epoch's steps for every seed of the stack; seeds that diverge leave it.  Returns
    the tally of the epoch's training figures of the seeds still in the stack."""
    job = stack.job
    n, settings = len(job.X), job.settings
    orders = np.stack([rngs[i].permutation(n) if settings.shuffle else np.arange(n) for i in stack.active])
    keys = {i: epoch_key(rngs[i]) for i in stack.active} if job.workspace.dropout else None  # as fit draws them
    eta, tally = stack.learning_rates(), job.tally(orders)
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(job.n_batches):
            space, start = job.workspace, step * job.batch_size
            rows = orders[:, start:start + job.batch_size]
            masks = None if keys is None else space.draw_masks([keys[i] for i in stack.active], step, rows.shape[-1])
            buffers = space.gradients(job.loss, *job.gather(rows), settings.l1, settings.l2, masks)
            broken = ~space.finite(space.output_bias_gradient())  # it sums the output delta: the loss broke
            if broken.any():
                orders, eta = _leave(stack, broken, histories, epoch, step, orders, eta, tally)
                if not stack.active:
                    return tally
                buffers = Buffers(*([array[~broken] for array in group]
                                    for group in (buffers.Z, buffers.A, buffers.dA, buffers.fprime)))
            space = job.workspace
            optimizer.update([space.theta], [space.grad], stack.optimizer, eta, settings.hyper, space.work)
            stack.count_steps()
            if tally is not None:
                tally.add(start, buffers)
            broken = ~space.finite(space.theta)
            if broken.any():
                orders, eta = _leave(stack, broken, histories, epoch, step, orders, eta, tally)
                if not stack.active:
                    return tally
    return tally


def _leave(stack: _Stack, broken: Array, histories: list[History], epoch: int, step: int, orders: Array,
           eta: Array, tally: Tally | None) -> tuple[Array, Array]:
    """Record the broken seeds as diverged at this step and take them out of the stack and
    the tally; the survivors' shuffled orders and learning rates."""
    rows = np.flatnonzero(broken)
    for row in rows:
        mark_diverged(histories[stack.active[row]], epoch, step + 1)
    stack.drop(rows)
    if tally is not None:
        tally.keep(~broken)
    return orders[~broken], eta[~broken]


def evaluations_of(found: Pass, loss: Loss, nets: list[list[Layer]], y: Array, l1: float = 0.0, l2: float = 0.0,
                   weights: Array | None = None, scale=None) -> list[Evaluation]:
    """``training.evaluation_of`` for every network of a stacked pass."""
    if loss.task == "classification":
        metrics = metric_fns.classification_metrics_of_rows(y, found.outputs)
    else:
        metrics = [metric_fns.regression_metrics(y, outputs, scale) for outputs in found.outputs]
    samples = found.samples
    data_loss = np.mean(samples, axis=-1) if weights is None else [loss.mean(row, weights) for row in samples]
    return [Evaluation(float(data_loss[row]), penalty([layer.W for layer in layers], l1, l2), metrics[row])
            for row, layers in enumerate(nets)]


def evaluate_stack(space: Workspace, nets: list[list[Layer]], loss: Loss, X: Array, y: Array, l1: float = 0.0,
                   l2: float = 0.0, weights: Array | None = None, scale=None) -> tuple[list[Evaluation], list]:
    """``training.evaluate`` for every network of the stack at once: one batched forward
    pass of the rows (X is shared), then each network's loss and metrics; also the
    hidden layers' activation counts, stacked."""
    found = forward_all(space.layers, loss, X, y)
    return evaluations_of(found, loss, nets, y, l1, l2, weights, scale), found.counts
