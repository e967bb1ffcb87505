"""Is the network worth it: its figure beside a constant guess and the linear model of the same loss.

The lecture's first lesson is a comparison: a perceptron draws a line, a hidden layer bends it,
and the hidden layer is kept only when it earns its place.  For a run, on its validation rows
(its training rows when it has none), and again on its test rows (data.test) when it has them:

* the constant guess: the majority class of the training rows (accuracy), or their mean target
  (R^2, which is then about 0);
* the linear model: the same config with ``model.hidden: []``, trained on the same rows for at
  most LINEAR_EPOCHS epochs (logistic or multinomial logistic regression for the cross-entropy
  losses, a linear SVM for hinge, linear regression for mse);
* the verdict: the network's figure over the linear model's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from nnctl.config import Config
from nnctl.core import metrics as metric_fns
from nnctl.errors import TrainingError
from nnctl.prep.prepare import PreparedData

LINEAR_EPOCHS = 100  # a few cheap epochs: the linear model converges fast on standardised inputs
EARNED = 0.01  # the network must beat the linear model by this much (accuracy or R^2) to earn its layers,
EARNED_ROWS = 2  # and, for accuracy, by at least this many rows of those scored (fewer is chance)
HELD_OUT = ("test", "evaluated")  # rows whose baselines come without a verdict (see Baselines.verdict)


@dataclass(frozen=True)
class Baselines:
    on: str  # "validation" or "training": the rows scored
    metric: str  # "accuracy" or "r2"
    constant_name: str  # "majority class" or "mean target"
    constant: float
    linear: float | None  # None when the network has no hidden layer (it is the linear model), or it diverged
    linear_epochs: int
    network: float
    hidden: bool = True  # the network has hidden layers
    rows: int = 0  # the rows scored

    @property
    def margin(self) -> float:
        """The gain below which the hidden layers did not earn their place."""
        return max(EARNED, EARNED_ROWS / self.rows) if self.metric == "accuracy" and self.rows else EARNED

    @property
    def gain(self) -> float | None:
        return None if self.linear is None else self.network - self.linear

    def verdict(self) -> str:
        """Whether the hidden layers earned their place, from the validation (or training) rows.  On
        held-out rows (data.test, or the file ``nnctl evaluate`` scores) only the differences, with no
        advice: a choice made on them would make their figures one more validation score."""
        name = "accuracy" if self.metric == "accuracy" else "R^2"
        over_constant = self.network - self.constant
        if self.on in HELD_OUT:
            linear = "" if self.gain is None else f"{self.gain:+.3f} {name} over the linear model, "
            return f"on the {self.on} rows: {linear}{over_constant:+.3f} over the {self.constant_name}"
        if not self.hidden:
            return f"this network has no hidden layer: it is the linear model ({over_constant:+.3f} " \
                   f"{name} over the {self.constant_name})"
        if self.linear is None:
            return "the linear model's loss stopped being finite at this learning rate: no comparison"
        if not self._beats(self.gain):
            return (f"no better than the linear model ({self._short(self.gain)}): consider model.hidden: [] "
                    "(fewer parameters, the same answers)")
        if not self._beats(over_constant):  # the linear model did worse still
            return f"no better than the {self.constant_name} ({self._short(over_constant)})"
        return f"the hidden layers earned their place: {self.gain:+.3f} {name} over the linear model"

    def _beats(self, gain: float) -> bool:
        """A gain of at least the margin (two rows of 28 count, though 11/28 - 9/28 < 2/28 in floats)."""
        return gain >= self.margin - 1e-9

    def _short(self, gain: float) -> str:
        """'+0.00995 accuracy, less than 0.01': enough digits that the two never read alike."""
        return f"{gain:+.3g} {'accuracy' if self.metric == 'accuracy' else 'R^2'}, less than {self.margin:.3g}"

    def to_dict(self) -> dict:
        return {"on": self.on, "metric": self.metric, self.constant_name.replace(" ", "_"): self.constant,
                "linear_model": self.linear, "linear_epochs": self.linear_epochs, "network": self.network,
                "verdict": self.verdict()}


def on_rows(ckpt, X: np.ndarray, y: np.ndarray, network: float) -> Baselines:
    """The baselines on other rows (``nnctl evaluate``): the constant and the linear model learned from
    the checkpoint's own training rows (its config read again: the same split, the same preparation),
    scored on ``X`` (the model's inputs before standardisation) and ``y``.  A NnctlError when the
    training file cannot be read any more."""
    from nnctl import run
    from nnctl.config import config_from_dict
    from nnctl.core.losses import LOSSES
    from nnctl.core.model import logits
    from nnctl.prep.prepare import prepare_data

    meta = ckpt.meta
    config = config_from_dict(meta["config"])
    data = prepare_data(config, run.generators(config)[0])
    classification = meta["task"] == "classification"
    loss = LOSSES[meta["loss"]]
    if classification:
        majority = int(np.argmax(np.bincount(data.y_train, minlength=len(meta["classes"]))))
        constant = float(metric_fns.accuracy(y, np.full(len(y), majority)))
    else:
        mean = np.asarray(data.y_train, dtype=np.float64).mean(axis=0, keepdims=True)
        guess = np.broadcast_to(ckpt.preprocessor.outputs(mean), np.shape(y))
        constant = float(metric_fns.regression_metrics(y, guess)["r2"])
    epochs = min(config.optimizer.epochs, LINEAR_EPOCHS)
    linear = None
    if config.model.hidden:
        try:
            layers = _linear_model(config, data, epochs).checkpoints[0].layers
        except TrainingError:
            layers = None
        if layers is not None:
            Z = logits(layers, ckpt.scaler.transform(X).astype(layers[0].W.dtype))
            linear = (float(metric_fns.accuracy(y, loss.decide(Z))) if classification
                      else float(metric_fns.regression_metrics(y, ckpt.preprocessor.outputs(Z))["r2"]))
    return Baselines("evaluated", "accuracy" if classification else "r2",
                     "majority class" if classification else "mean target", constant, linear, epochs, network,
                     bool(config.model.hidden), len(y))


def _linear_model(config: Config, data: PreparedData, epochs: int):
    from nnctl import run  # the linear model is trained as any run is (run imports nothing of this module)

    linear_config = replace(config, model=replace(config.model, hidden=(), activation="sigmoid", dropout=0.0),
                            optimizer=replace(config.optimizer, epochs=epochs))
    return run.train(linear_config, data=data, write_files=False)


def baselines(config: Config, data: PreparedData, network: float, test_network: float | None = None
              ) -> list[Baselines]:
    """The constant guess and the linear model on the rows the network's ``network`` figure is from
    (validation, or training without them); then, when the run has data.test rows and their figure
    ``test_network``, the same two on the test rows (the same constant and linear model, each
    scored once on them, as the network was)."""
    classification = data.dataset.classes is not None
    metric = "accuracy" if classification else "r2"
    on = "validation" if data.X_val is not None else "training"
    y = data.y_val if data.X_val is not None else data.y_train
    epochs = min(config.optimizer.epochs, LINEAR_EPOCHS)
    linear = None
    if config.model.hidden:
        try:
            linear = _linear_model(config, data, epochs)
        except TrainingError:
            linear = None
    kind = ("majority class" if classification else "mean target"), bool(config.model.hidden)
    found = [Baselines(on, metric, kind[0], _constant(data, y), None if linear is None else
                       float(linear.best_row[f"{'val' if on == 'validation' else 'train'}_{metric}"]),
                       epochs, network, kind[1], len(y))]
    if data.X_test is not None and data.y_test is not None and test_network is not None:
        found.append(Baselines("test", metric, kind[0], _constant(data, data.y_test), None if linear is None else
                               float(linear.summary["test"][f"test_{metric}"]), epochs, test_network, kind[1],
                               len(data.y_test)))
    return found


def _constant(data: PreparedData, y: np.ndarray) -> float:
    """The majority class of the training rows (its accuracy on ``y``), or their mean target (its R^2)."""
    if data.dataset.classes is not None:
        majority = int(np.argmax(np.bincount(data.y_train, minlength=len(data.dataset.classes))))
        return float(metric_fns.accuracy(y, np.full(len(y), majority)))
    mean = np.asarray(data.y_train, dtype=np.float64).mean(axis=0)
    return float(metric_fns.regression_metrics(y, np.broadcast_to(mean, np.shape(y)))["r2"])
