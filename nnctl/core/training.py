"""Gradient descent with backpropagation, epoch by epoch.

    initialise the weights at random (model.init_network)
    repeat for each epoch:
        shuffle the rows; for each mini-batch:
            forward pass -> logits Z_L
            loss delta dL/dZ_L -> chain rule back through the layers (model.backward)
            add the penalty's gradient to each weight matrix
            move every parameter against its gradient, scaled by the learning rate
        evaluate the loss (data + penalty) and metrics on the training and validation rows

``fit`` never prints and never writes files: it calls ``on_epoch`` (and
``on_batch``) and the caller decides what to show or save.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from nnctl.core import metrics as metric_fns
from nnctl.core.losses import LOSSES, Loss
from nnctl.core.model import Layer, backward, forward, logits
from nnctl.core.optimizers import OPTIMIZERS
from nnctl.core.regularizers import penalty, penalty_gradient

Array = np.ndarray


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
    learning_rate: float
    seconds: float  # wall time of this epoch's updates and evaluation


@dataclass
class History:
    records: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = 0  # epoch with the lowest monitored loss (0: none yet)
    stop_reason: str = ""
    diverged: bool = False  # stopped because a loss or weight was no longer finite

    @property
    def best(self) -> EpochRecord:
        return self.records[self.best_epoch - 1]


def monitored_loss(record: EpochRecord) -> float:
    """Validation data loss when there are validation rows, else the training objective."""
    return record.validation.data_loss if record.validation else record.train.loss


def evaluate(layers: Sequence[Layer], loss: Loss, X: Array, y: Array, l1: float = 0.0, l2: float = 0.0) -> Evaluation:
    """Data loss, penalty and metrics (accuracy and 0-1 loss, or MSE, RMSE, MAE, R^2)."""
    Z = logits(layers, X)
    T = loss.encode(y, Z.shape[1], Z.dtype)
    if loss.task == "classification":
        found = metric_fns.classification_metrics(y, loss.decide(Z))
    else:
        found = metric_fns.regression_metrics(y, Z)
    return Evaluation(loss.value(Z, T), penalty([layer.W for layer in layers], l1, l2), found)


def gradients(layers: Sequence[Layer], loss: Loss, X: Array, T: Array, l1: float, l2: float) -> list[Array]:
    """dL/dtheta for every parameter, flat in the order (W_0, b_0, W_1, b_1, ...).

    L is the mean data loss over the batch plus the weight penalty.
    """
    inputs, sums = forward(layers, X)
    flat = []
    for layer, (dW, db) in zip(layers, backward(layers, inputs, sums, loss.delta(sums[-1], T))):
        extra = penalty_gradient(layer.W, l1, l2)
        flat += [dW if extra is None else dW + extra, db]
    return flat


def parameters(layers: Sequence[Layer]) -> list[Array]:
    """The network's arrays, flat: (W_0, b_0, W_1, b_1, ...)."""
    return [array for layer in layers for array in (layer.W, layer.b)]


def _finite(layers: Sequence[Layer], evaluation: Evaluation) -> bool:
    return bool(np.isfinite(evaluation.loss)) and all(np.isfinite(p).all() for p in parameters(layers))


def fit(
    layers: list[Layer],
    X: Array,
    y: Array,
    settings: Settings,
    rng: np.random.Generator,
    validation: tuple[Array, Array] | None = None,
    on_epoch: Callable[[EpochRecord, list[Layer], bool], None] | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> History:
    """Train ``layers`` in place on ``X: (n_samples, n_features)`` and targets ``y``.

    ``y`` holds class indices (classification) or target values (regression).
    After every epoch ``on_epoch(record, layers, improved)`` is called, where
    ``improved`` says the monitored loss is the lowest so far; ``on_batch(epoch,
    batch)`` after every update.  Rows are shuffled each epoch with ``rng``.
    """
    loss = LOSSES[settings.loss]
    optimizer = OPTIMIZERS[settings.optimizer]
    dtype = layers[0].W.dtype
    X = np.asarray(X, dtype=dtype)
    T = loss.encode(y, layers[-1].W.shape[1], dtype)
    if validation is not None:
        validation = (np.asarray(validation[0], dtype=dtype), validation[1])
    n = X.shape[0]
    batch_size = min(settings.batch_size or n, n)
    params = parameters(layers)
    state = optimizer.init(params)
    history = History()
    best_loss = np.inf
    for epoch in range(1, settings.epochs + 1):
        started = time.perf_counter()
        # A diverging run overflows somewhere; that is caught after the epoch
        # by checking the loss and the weights, so NumPy need not warn first.
        with np.errstate(over="ignore", invalid="ignore"):
            order = rng.permutation(n) if settings.shuffle else np.arange(n)
            for batch, start in enumerate(range(0, n, batch_size)):
                rows = order[start : start + batch_size]
                grads = gradients(layers, loss, X[rows], T[rows], settings.l1, settings.l2)
                optimizer.update(params, grads, state, settings.learning_rate)
                if on_batch is not None:
                    on_batch(epoch, batch)
            train = evaluate(layers, loss, X, y, settings.l1, settings.l2)
            val = evaluate(layers, loss, *validation) if validation is not None else None

        record = EpochRecord(epoch, train, val, settings.learning_rate, time.perf_counter() - started)
        if not _finite(layers, train) or (val is not None and not np.isfinite(val.data_loss)):
            history.diverged = True
            history.stop_reason = f"the loss is no longer finite at epoch {epoch}"
            return history
        history.records.append(record)
        improved = monitored_loss(record) < best_loss
        if improved:
            best_loss = monitored_loss(record)
            history.best_epoch = epoch
        if on_epoch is not None:
            on_epoch(record, layers, improved)

    history.stop_reason = f"all {settings.epochs} epochs done"
    return history
