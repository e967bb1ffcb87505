"""The network: fully connected layers as plain data, forward and backward passes.

A layer l holds a weight matrix ``W: (fan_in, fan_out)`` and a bias vector
``b: (fan_out,)``.  The bias holds the weights of a bias unit, a constant 1
beside the input layer and beside every hidden layer; the output layer feeds
nothing, so no bias unit sits beside it.  For ``X: (n_samples, n_features)``:

    A_0 = X
    Z_l = A_{l-1} W_l + b_l          (weighted sums: one matrix product per layer)
    A_l = f_l(Z_l)                   (hidden activation, element by element)

The last layer's Z is the network's logits; the output activation (identity,
sigmoid or softmax) follows from the loss and is applied only to report
predictions, since each loss works on the logits directly (see losses.py).
Input units = number of features; output units = number of targets/classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from nnctl.core.activations import ACTIVATIONS, OUTPUT_ACTIVATIONS

Array = np.ndarray


@dataclass
class Layer:
    """One fully connected layer: Z = A_prev W + b, then A = activation(Z)."""

    W: Array  # (fan_in, fan_out) weights
    b: Array  # (fan_out,) weights of the bias unit
    activation: str  # a key of ACTIVATIONS, or of OUTPUT_ACTIVATIONS for the last layer


# --- initialisation -----------------------------------------------------------

def glorot_uniform(fan_in: int, fan_out: int, rng: np.random.Generator) -> Array:
    """U(-r, r) with r = sqrt(6 / (fan_in + fan_out))  (Glorot & Bengio 2010)."""
    r = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-r, r, size=(fan_in, fan_out))


def glorot_normal(fan_in: int, fan_out: int, rng: np.random.Generator) -> Array:
    """N(0, s^2) with s = sqrt(2 / (fan_in + fan_out))."""
    return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=(fan_in, fan_out))


def he_uniform(fan_in: int, fan_out: int, rng: np.random.Generator) -> Array:
    """U(-r, r) with r = sqrt(6 / fan_in)  (He et al. 2015, for relu-like units)."""
    r = np.sqrt(6.0 / fan_in)
    return rng.uniform(-r, r, size=(fan_in, fan_out))


def he_normal(fan_in: int, fan_out: int, rng: np.random.Generator) -> Array:
    """N(0, s^2) with s = sqrt(2 / fan_in)."""
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))


INITIALIZERS: dict[str, Callable[[int, int, np.random.Generator], Array] | None] = {
    "auto": None,  # He for relu-like layers, Glorot otherwise
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
}
"""Weight initialisers by config name; biases always start at 0."""


def _auto_initializer(activation: str) -> Callable:
    return he_uniform if activation in ("relu", "leaky_relu") else glorot_uniform


def initializer_name(init: str, activation: str) -> str:
    """The initialiser a layer with this activation draws its weights from: ``init``, or for
    "auto" He uniform (relu-like) or Glorot uniform (every other activation)."""
    return init if INITIALIZERS[init] is not None else _auto_initializer(activation).__name__


def init_network(
    sizes: Sequence[int],
    hidden_activations: Sequence[str],
    output_activation: str,
    rng: np.random.Generator,
    init: str = "auto",
    dtype=np.float32,
) -> list[Layer]:
    """Random layers for ``sizes = [n_inputs, *hidden, n_outputs]``.

    ``hidden_activations`` has one name per hidden layer; ``sizes`` of length
    2 (no hidden layer) is the single-layer perceptron.  Layers are drawn in
    order from ``rng``, so the same seed gives the same weights.
    """
    if len(hidden_activations) != len(sizes) - 2:
        raise ValueError("need one activation per hidden layer")
    activations = [*hidden_activations, output_activation]
    layers = []
    for fan_in, fan_out, activation in zip(sizes[:-1], sizes[1:], activations):
        draw = INITIALIZERS[init] or _auto_initializer(activation)
        W = draw(fan_in, fan_out, rng).astype(dtype)
        layers.append(Layer(W=W, b=np.zeros(fan_out, dtype=dtype), activation=activation))
    return layers


def layer_sizes(layers: Sequence[Layer]) -> list[int]:
    """[n_inputs, *hidden, n_outputs]."""
    return [layers[0].W.shape[0], *(layer.W.shape[1] for layer in layers)]


def parameter_count(layers: Sequence[Layer]) -> int:
    """Sum over layers of (inputs + 1 bias unit) x outputs."""
    return count_parameters(layer_sizes(layers))


def count_parameters(sizes: Sequence[int]) -> int:
    """Parameters of a network with ``sizes = [n_inputs, *hidden, n_outputs]``."""
    return sum((fan_in + 1) * fan_out for fan_in, fan_out in zip(sizes[:-1], sizes[1:]))


# --- forward and backward -------------------------------------------------------
# The one forward and one backward pass of nnctl: training (workspace.py), stacked seeds,
# evaluation (training.forward_all), gradcheck and explain all run these two functions.
# Every array may carry a leading stack axis (S networks of one shape, W_l: (S, fan_in,
# fan_out), X: (S, m, n_inputs)): each product is then one batched matmul.


@dataclass
class Buffers:
    """Arrays a pass may write into instead of allocating, one per layer, for m rows:
    ``Z[l], A[l], dA[l], fprime[l]: (..., m, fan_out_l)`` (A, dA and fprime for the hidden
    layers only); ``dW[l], db[l]``: the gradients' shapes."""

    Z: list[Array]
    A: list[Array]
    dA: list[Array]
    fprime: list[Array]
    dW: list[Array] | None = None
    db: list[Array] | None = None


def new_buffers(layers: Sequence[Layer], rows: int, lead: tuple[int, ...] = (), dtype=None) -> Buffers:
    """Empty buffers for a pass of ``rows`` rows (and a stack of ``lead`` networks), without
    gradient buffers: ``backward`` then returns new dW and db arrays."""
    dtype = dtype or layers[0].W.dtype
    shape = lambda layer: lead + (rows, layer.W.shape[-1])  # noqa: E731
    hidden = layers[:-1]
    return Buffers(Z=[np.empty(shape(layer), dtype) for layer in layers],
                   A=[np.empty(shape(layer), dtype) for layer in hidden],
                   dA=[np.empty(shape(layer), dtype) for layer in hidden],
                   fprime=[np.empty(shape(layer), dtype) for layer in hidden])


def forward(layers: Sequence[Layer], X: Array, buffers: Buffers | None = None,
            masks: Sequence[Array | None] | None = None) -> tuple[list[Array], list[Array]]:
    """Run the batch through the network, keeping what backward needs.

        A_0 = X
        Z_l = A_{l-1} W_l + b_l          (one matrix product per layer, then the bias unit's weights)
        A_l = f_l(Z_l)                   (hidden layers; the last Z is the logits)
        A_l = f_l(Z_l) * M_l             (while training with dropout: see dropout.py)

    Returns ``(inputs, sums)``: ``inputs[l]`` is A_l fed into layer l + 1
    (``inputs[0] = X``) and ``sums[l]`` is layer l + 1's Z; ``sums[-1]`` are
    the logits.  With ``buffers``, Z and A are written into them.  ``masks``
    holds a dropout mask per hidden layer (None: that layer drops nothing).
    """
    inputs, sums = [X], []
    last = len(layers) - 1
    for l, layer in enumerate(layers):
        Z = np.matmul(inputs[l], layer.W, out=None if buffers is None else buffers.Z[l])  # A_{l-1} W_l
        Z += layer.b[..., None, :]  # + b_l, on every row
        sums.append(Z)
        if l < last:
            A = ACTIVATIONS[layer.activation].forward(Z, out=None if buffers is None else buffers.A[l])
            if masks is not None and masks[l] is not None:
                A = np.multiply(A, masks[l], out=None if A is Z else A)  # f(Z) * M (identity's A is Z itself)
            inputs.append(A)
    return inputs, sums


def logits(layers: Sequence[Layer], X: Array) -> Array:
    """The output layer's pre-activations Z_L: (n_samples, n_outputs)."""
    return forward(layers, X)[1][-1]


def predict_output(layers: Sequence[Layer], X: Array) -> Array:
    """The network's output: the output activation applied to the logits."""
    return OUTPUT_ACTIVATIONS[layers[-1].activation](logits(layers, X))


def backward(
    layers: Sequence[Layer], inputs: Sequence[Array], sums: Sequence[Array], delta_out: Array,
    buffers: Buffers | None = None, masks: Sequence[Array | None] | None = None,
) -> list[tuple[Array, Array]]:
    """Gradients (dW_l, db_l) of the data loss for every layer, by the chain rule.

    ``delta_out`` is dL/dZ_L from the loss.  Going back through layer l:

        dW_l = A_{l-1}^T dZ_l               (fan_in, fan_out)
        db_l = sum over samples of dZ_l     (the bias unit's input is 1)
        dA_{l-1} = dZ_l W_l^T
        dZ_{l-1} = dA_{l-1} * f'_{l-1}(Z_{l-1})
        dZ_{l-1} = dA_{l-1} * M_{l-1} * f'_{l-1}(Z_{l-1})     (with the dropout masks forward used)

    The input layer's gradient dA_0 is never needed and never computed.  With
    ``buffers``, dW and db (when it has them), dA and f'(Z) are written into them,
    and ``buffers.dA[l]`` ends up holding dZ of hidden layer l + 1.
    """
    grads: list[tuple[Array, Array]] = [None] * len(layers)  # type: ignore[list-item]
    dZ = delta_out
    for l in range(len(layers) - 1, -1, -1):
        into = (None, None) if buffers is None or buffers.dW is None else (buffers.dW[l], buffers.db[l])
        dW = np.matmul(inputs[l].swapaxes(-1, -2), dZ, out=into[0])  # A_{l-1}^T dZ_l
        db = np.add.reduce(dZ, axis=-2, out=into[1])  # sum over the rows of dZ_l
        grads[l] = (dW, db)
        if l > 0:
            dA = np.matmul(dZ, layers[l].W.swapaxes(-1, -2), out=None if buffers is None else buffers.dA[l - 1])
            below = ACTIVATIONS[layers[l - 1].activation]
            A = inputs[l]
            if masks is not None and masks[l - 1] is not None:
                dA *= masks[l - 1]  # a dropped unit passes no gradient; a kept one, scaled as its output was
                A = below.forward(sums[l - 1])  # f(Z) before the mask, for f'(Z) (inputs[l] holds f(Z) * M)
            if below.name != "identity":  # f' = 1: nothing to scale
                dA *= below.derivative(sums[l - 1], A, out=None if buffers is None else buffers.fprime[l - 1])
            dZ = dA  # dZ_{l-1} = dA_{l-1} * f'(Z_{l-1}), in place
    return grads
