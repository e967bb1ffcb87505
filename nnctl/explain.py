"""One training step worked out on a tiny batch, with the numbers the trainer computes.

``explain`` builds the configured network as ``nnctl train`` does (same seed, same split,
same standardisation, same initial weights, the config's dtype), takes the first ``rows``
training rows and goes through one step of gradient descent in the order of the math:

    A_0 = X                                   the inputs; a bias unit (a constant 1) beside them
    Z_l = A_(l-1) W_l + b_l,  A_l = f(Z_l)    forward, layer by layer; the last f is the output activation
    A_l = f(Z_l) * M_l                        with dropout: the step's masks, drawn from the config's seed
    L = data loss + penalty                   loss.value, regularizers.penalty
    dZ_L = dL/dZ_L                            loss.delta: the output delta
    dZ_(l-1) = (dZ_l W_l^T) * f'(Z_(l-1))     the chain rule, back through the layers (* M_(l-1) with dropout)
    dW_l = A_(l-1)^T dZ_l + penalty gradient,  db_l = sum over rows of dZ_l
    theta <- optimizer step(theta, dtheta)    the configured optimizer, fresh state, first epoch's rate
    L after the step                          the same rows (and masks)

Every number comes from the core's own functions: ``model.forward`` and ``model.backward``,
the very pair the training step runs (``core/workspace.py`` gives them preallocated buffers;
here they allocate, and ``backward`` leaves each hidden layer's delta dZ_l in the buffers it is
given), ``Loss.value``/``Loss.delta``, ``regularizers.penalty``/``penalty_gradient``, and the
optimizer's ``init``/``update``.  tests/test_one_pass.py holds that explain, gradcheck,
training and evaluation all run that pair.
Nothing here prints.

The lecture's regularisation example is here too: ``compare_weights`` scores weight vectors
by their output and their L1 and L2 penalties, and ``spread_runs`` trains a one-output
perceptron from concentrated weights without a penalty, with L1 and with L2.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from nnctl import run
from nnctl.prep.prepare import prepare_data
from nnctl.config import Config
from nnctl.core.activations import ACTIVATIONS, OUTPUT_ACTIVATIONS
from nnctl.core.dropout import active as dropout_active
from nnctl.core.dropout import fixed_masks
from nnctl.core.model import Layer, backward, forward, initializer_name, logits, new_buffers
from nnctl.core.optimizers import OPTIMIZERS, Hyper
from nnctl.core.regularizers import penalty, penalty_gradient
from nnctl.core.training import fit, parameters
from nnctl.errors import ConfigError, TrainingError
from nnctl.batch import first_rows

Array = np.ndarray


# --------------------------------------------------------------------------- one worked step


@dataclass(frozen=True)
class ForwardStep:
    """Layer l of the forward pass: Z_l = A_(l-1) W_l + b_l, then A_l = f(Z_l)."""

    layer: int  # 1-based, as in the math
    A_in: Array  # A_(l-1): (rows, fan_in); A_0 = X
    W: Array  # (fan_in, fan_out), before the step
    b: Array  # (fan_out,): the weights of the bias unit
    Z: Array  # (rows, fan_out) weighted sums; for the last layer, the logits
    activation: str  # the hidden activation, or for the last layer the output activation
    A: Array  # f(Z): (rows, fan_out); for the last layer, the network's output; with dropout, f(Z) * M
    output: bool  # True for the last layer
    mask: Array | None = None  # the dropout mask M (0 or 1 / (1 - p)) of a hidden layer that drops units
    dropout: float = 0.0  # its p
    f_Z: Array | None = None  # f(Z) before the mask, when there is one


@dataclass(frozen=True)
class LossParts:
    """L = data loss + penalty."""

    data: float  # mean over the rows (weighted when the rows have weights)
    penalty: float  # l1 sum |W| + l2 sum W^2 over the weight matrices
    sum_abs: float  # sum |W| over the weight matrices (the penalty with l1 = 1, l2 = 0)
    sum_squares: float  # sum W^2 over the weight matrices (the penalty with l1 = 0, l2 = 1)

    @property
    def total(self) -> float:
        return self.data + self.penalty


@dataclass(frozen=True)
class BackwardStep:
    """Layer l of the backward pass: its delta and its gradients."""

    layer: int  # 1-based
    dZ: Array  # dL/dZ_l: (rows, fan_out); the output delta for the last layer
    dW_data: Array  # A_(l-1)^T dZ_l: the data loss's share of dW
    dW_penalty: Array | None  # l1 sign(W) + 2 l2 W: the penalty's share (None without a penalty)
    dW: Array  # dW_data + dW_penalty: what the optimizer is given
    db: Array  # sum over the rows of dZ_l (biases carry no penalty)


@dataclass(frozen=True)
class UpdateStep:
    """Layer l's parameters before and after the optimizer's step."""

    layer: int  # 1-based
    W_before: Array
    W_step: Array  # W_after - W_before: -eta dW for sgd
    W_after: Array
    b_before: Array
    b_step: Array
    b_after: Array


@dataclass(frozen=True)
class WeightScore:
    """One weight vector w of a single neuron without bias, scored on an input x."""

    name: str  # "w1", "w2", ...
    w: Array  # (n_inputs,)
    output: float  # x . w, through model.forward
    l1: float  # sum |w|: regularizers.penalty with l1 = 1, l2 = 0
    l2: float  # sum w^2: regularizers.penalty with l1 = 0, l2 = 1


@dataclass(frozen=True)
class WeightComparison:
    """Weight vectors with the same input: their outputs and their L1 and L2 penalties."""

    x: Array  # (n_inputs,)
    scores: list[WeightScore]


@dataclass(frozen=True)
class Explanation:
    """One training step on ``rows`` rows, in the order of the math (see the module docstring)."""

    config_name: str  # the config file's stem ('' for a config from a dict)
    start: str  # how the weights were drawn: the initialiser of each layer and the seed
    dtype: str  # the network's dtype: every array below is in it
    rows: int
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]
    classes: tuple | None  # class labels (y holds indices into them); None for regression
    X: Array  # (rows, n_features): the rows as training sees them (standardised unless the config says not)
    inputs_with_bias: Array  # (rows, 1 + n_features): the bias unit's constant 1, then X
    y: Array  # the targets as fit takes them: class indices, or values (rows, n_targets)
    T: Array  # (rows, n_outputs): y encoded for the loss
    row_weights: Array | None  # (rows,) weights of the rows in the loss; None when all are 1
    forward: list[ForwardStep]  # layer 1 .. L
    loss_name: str
    l1: float
    l2: float
    loss: LossParts  # before the step
    backward: list[BackwardStep]  # layer 1 .. L (the math goes from L down to 1)
    optimizer: str
    learning_rate: float  # eta of this step (the first epoch's rate)
    hyper: Hyper  # momentum, beta1, beta2, epsilon
    update: list[UpdateStep]  # layer 1 .. L
    loss_after: LossParts  # the same rows, after the step
    penalty_example: WeightComparison | None  # the lecture's example, for a one-output perceptron
    target_scaling: str = ""  # regression on z-scored targets: how y was made from the file's values

    @property
    def output_delta(self) -> Array:
        """dL/dZ_L, the delta backpropagation starts from."""
        return self.backward[-1].dZ

    @property
    def output_activation(self) -> str:
        return self.forward[-1].activation


def explain(config: Config, rows: int = 2) -> Explanation:
    """One worked training step of the configured network on its first ``rows`` training rows."""
    batch = first_rows(config, rows)
    layers, loss, X, T, weights = batch.layers, batch.loss, batch.X, batch.T, batch.weights
    settings = run.settings_of(config)
    l1, l2 = settings.l1, settings.l2

    # dropout: the step's masks, drawn once from the config's seed (a training step draws fresh ones)
    rates = settings.dropout if dropout_active(settings.dropout) else ()
    masks = (fixed_masks(rates, [layer.W.shape[1] for layer in layers[:-1]], len(X), config.seed, X.dtype)
             if rates else None)

    # forward: inputs[l] = A_l fed into layer l + 1, sums[l] = Z_(l+1)
    inputs, sums = forward(layers, X, masks=masks)
    outputs = inputs[1:] + [OUTPUT_ACTIVATIONS[layers[-1].activation](sums[-1])]
    steps = []
    for l, layer in enumerate(layers):
        mask = masks[l] if masks is not None and l < len(masks) else None
        f_Z = None if mask is None else ACTIVATIONS[layer.activation].forward(sums[l].copy())
        steps.append(ForwardStep(l + 1, inputs[l], layer.W.copy(), layer.b.copy(), sums[l], layer.activation,
                                 outputs[l], l == len(layers) - 1, mask, rates[l] if mask is not None else 0.0, f_Z))
    before = _loss_parts(loss.value(sums[-1], T, weights), layers, l1, l2)

    # backward: the output delta, then the chain rule through model.backward, which leaves each
    # hidden layer's dZ in its buffers, then the gradients
    output_delta = loss.delta(sums[-1], T, weights)
    buffers = new_buffers(layers, len(X))
    found = backward(layers, inputs, sums, output_delta, buffers, masks)
    deltas = [*buffers.dA, output_delta]
    grads = []
    back = []
    for l, (layer, (dW_data, db)) in enumerate(zip(layers, found)):
        extra = penalty_gradient(layer.W, l1, l2)
        dW = dW_data if extra is None else dW_data + extra  # as core.training.gradients adds them
        back.append(BackwardStep(l + 1, deltas[l], dW_data, extra, dW, db))
        grads += [dW, db]

    # the update: the configured optimizer from a fresh state, on copies of the parameters
    after = [Layer(layer.W.copy(), layer.b.copy(), layer.activation) for layer in layers]
    params = parameters(after)
    optimizer = OPTIMIZERS[settings.optimizer]
    optimizer.update(params, grads, optimizer.init(params), settings.learning_rate, settings.hyper)
    updates = [UpdateStep(l + 1, old.W, new.W - old.W, new.W, old.b, new.b - old.b, new.b)
               for l, (old, new) in enumerate(zip(layers, after))]
    later = _loss_parts(loss.value(forward(after, X, masks=masks)[1][-1], T, weights), after, l1, l2)

    dataset = batch.data.dataset
    single_neuron = len(layers) == 1 and layers[0].W.shape[1] == 1
    return Explanation(
        config_name=config.source.stem if config.source else "", start=_start_text(config, layers),
        dtype=str(layers[0].W.dtype), rows=len(X),
        feature_names=tuple(dataset.feature_names), target_names=tuple(dataset.target_names),
        classes=tuple(dataset.classes) if dataset.classes is not None else None,
        X=X, inputs_with_bias=np.hstack([np.ones((len(X), 1), dtype=X.dtype), X]), y=batch.y, T=T,
        row_weights=weights, forward=steps, loss_name=loss.name, l1=l1, l2=l2, loss=before, backward=back,
        optimizer=settings.optimizer, learning_rate=settings.learning_rate, hyper=settings.hyper, update=updates,
        loss_after=later, penalty_example=lecture_example(X.shape[1]) if single_neuron else None,
        target_scaling=_scaling_text(batch.data.preprocessor, dataset.target_names),
    )


def _start_text(config: Config, layers: Sequence[Layer]) -> str:
    """Where the weights of step 1 come from: random draws, by initialiser and seed; biases 0."""
    names = [initializer_name(config.model.init, layer.activation) for layer in layers]
    each = names[0] if len(set(names)) == 1 else ", ".join(f"layer {l} {n}" for l, n in enumerate(names, 1))
    return (f"the weights start random: {each} (model.init: {config.model.init}), drawn with seed {config.seed}; "
            "the biases start at 0")


def _scaling_text(preprocessor, target_names: Sequence[str]) -> str:
    """'y = (spend - 376.4) / 115.9' for z-scored regression targets, '' otherwise."""
    scaling = preprocessor.target
    if scaling is None:
        return ""
    return "; ".join(f"y = ({name} - {mean:.4g}) / {scale:.4g}"
                     for name, mean, scale in zip(target_names, scaling.mean, scaling.scale))


def _loss_parts(data_loss: float, layers: Sequence[Layer], l1: float, l2: float) -> LossParts:
    weights = [layer.W for layer in layers]
    return LossParts(data_loss, penalty(weights, l1, l2), penalty(weights, 1.0, 0.0), penalty(weights, 0.0, 1.0))


# --------------------------------------------------------------------------- the lecture's example


def compare_weights(weights: Sequence[Sequence[float]], x: Sequence[float],
                    names: Sequence[str] | None = None) -> WeightComparison:
    """Score each weight vector w on the input x: the output x . w of a neuron without bias
    (through ``model.logits``) and the penalties sum |w| and sum w^2 (through
    ``regularizers.penalty`` with lambda = 1)."""
    x_row = np.asarray(x, dtype=np.float64).reshape(1, -1)
    scores = []
    for k, w in enumerate(weights):
        W = np.asarray(w, dtype=np.float64).reshape(-1, 1)
        if W.shape[0] != x_row.shape[1]:
            raise ValueError(f"weight vector {k + 1} has {W.shape[0]} entries, x has {x_row.shape[1]}")
        neuron = [Layer(W, np.zeros(1), "identity")]
        name = names[k] if names is not None else f"w{k + 1}"
        scores.append(WeightScore(name, W[:, 0], float(logits(neuron, x_row)[0, 0]),
                                  penalty([W], 1.0, 0.0), penalty([W], 0.0, 1.0)))
    return WeightComparison(x_row[0], scores)


def lecture_example(n_inputs: int = 4) -> WeightComparison:
    """x = [1, ..., 1]; w1 = [1, 0, ..., 0] (concentrated) and w2 = [1/n, ..., 1/n] (spread out).

    For n = 4: both outputs are 1; L2 gives 1 and 0.25 (it prefers w2); L1 gives 1 and 1."""
    concentrated = np.eye(1, n_inputs)[0]
    spread = np.full(n_inputs, 1.0 / n_inputs)
    return compare_weights([concentrated, spread], np.ones(n_inputs))


# --------------------------------------------------------------------------- L1 and L2 in training


@dataclass(frozen=True)
class SpreadRun:
    """A one-output perceptron trained from given start weights with one penalty."""

    name: str  # "no penalty", "L1" or "L2"
    l1: float
    l2: float
    start: Array  # (n_inputs,) weights before training (the bias starts at 0)
    trained: Array  # (n_inputs,) weights after the last epoch
    bias: float  # after the last epoch
    train_loss: float  # data loss + penalty after the last epoch
    val_loss: float | None  # validation data loss after the last epoch (None without validation rows)

    @property
    def spread(self) -> float:
        """max(w) - min(w) of the trained weights: 0 when they are all equal."""
        return float(self.trained.max() - self.trained.min())


def spread_runs(config: Config, start: Sequence[float] | None = None,
                strength: float | None = None) -> list[SpreadRun]:
    """Train the config's perceptron three times from ``start`` (default [1, 0, ..., 0]):
    without a penalty, with L1 and with L2, each of lambda ``strength`` (default: the config's
    l2, else its l1, else 0.05).  Same data, split, shuffling, optimizer and epochs each time.

    On data where many weight vectors fit equally well, L2 moves the weights towards equal
    values (it rates [.25, .25, .25, .25] below [1, 0, 0, 0]); L1 rates both alike and leaves
    them uneven; without a penalty only the data moves them.
    """
    regularization = config.regularization
    lam = strength if strength is not None else (regularization.l2 or regularization.l1 or 0.05)
    runs = []
    for name, l1, l2 in (("no penalty", 0.0, 0.0), ("L1", lam, 0.0), ("L2", 0.0, lam)):
        split_rng, init_rng, shuffle_rng = run.generators(config)
        data = prepare_data(config, split_rng)
        layers = run.build_network(config, data, init_rng)
        if len(layers) != 1 or layers[0].W.shape[1] != 1:
            where = f"{config.source}: " if config.source else ""
            raise ConfigError(f"{where}model.hidden: the weight-spreading example needs a perceptron with one "
                              f"output (hidden: [] and one regression target or two classes)")
        w0 = np.eye(1, layers[0].W.shape[0])[0] if start is None else np.asarray(start, dtype=np.float64)
        if w0.shape != (layers[0].W.shape[0],):
            raise ValueError(f"start has {w0.size} weights, the network has {layers[0].W.shape[0]} inputs")
        layers[0].W[:, 0] = w0
        layers[0].b[:] = 0
        # evaluate_train full: the table pairs the trained weights with their own training loss
        settings = replace(run.settings_of(config), l1=l1, l2=l2, patience=None, target=None, evaluate_train="full")
        validation = (data.X_val, data.y_val) if data.X_val is not None else None
        history = fit(layers, data.X_train, data.y_train, settings, shuffle_rng, validation,
                      sample_weights=data.w_train)
        if history.diverged or not history.records:
            raise TrainingError(f"{name}: {history.stop_reason}; lower optimizer.learning_rate "
                                f"(now {settings.learning_rate:g})")
        last = history.records[-1]
        runs.append(SpreadRun(name, l1, l2, w0, layers[0].W[:, 0].astype(np.float64), float(layers[0].b[0]),
                              last.train.loss, last.validation.data_loss if last.validation else None))
    return runs
