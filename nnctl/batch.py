"""The configured network, built as ``nnctl train`` builds it, and the first rows of its training
data as training sees them: the worked batch of ``nnctl explain`` and the checked batch of
``nnctl gradcheck``."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from nnctl import run
from nnctl.config import Config
from nnctl.core.losses import LOSSES, Loss
from nnctl.core.model import Layer
from nnctl.prep.prepare import PreparedData, prepare_data

Array = np.ndarray


@dataclass
class Batch:
    """The configured network, freshly initialised, and the first rows of its training data as
    training sees them (standardised, in the network's dtype)."""

    layers: list[Layer]
    X: Array  # (rows, n_features), standardised
    y: Array  # the targets as ``fit`` takes them: class indices or values
    T: Array  # y encoded for the loss: (rows, n_outputs)
    weights: Array | None  # (rows,) weights of the rows in the training loss; None when all are 1
    loss: Loss
    data: PreparedData  # every training and validation row, and the names of features and classes


def first_rows(config: Config, rows: int, dtype: str | None = None) -> Batch:
    """Build the network as ``run.train`` does and take the first ``rows`` training rows.

    ``dtype`` overrides ``model.dtype`` (the initial weights are the same draws either way:
    they are drawn in float64 and then cast).  ``rows`` larger than the training set takes it all.
    """
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    if dtype is not None:
        config = replace(config, model=replace(config.model, dtype=dtype))
    split_rng, init_rng, _ = run.generators(config)
    data = prepare_data(config, split_rng)
    layers = run.build_network(config, data, init_rng)
    loss = LOSSES[config.loss]
    take = slice(0, min(rows, len(data.X_train)))
    network_dtype = layers[0].W.dtype
    X = np.asarray(data.X_train[take], dtype=network_dtype)
    y = data.y_train[take]
    T = loss.encode(y, layers[-1].W.shape[1], network_dtype)
    weights = None if data.w_train is None else data.w_train[take]
    return Batch(layers, X, y, T, weights, loss, data)
