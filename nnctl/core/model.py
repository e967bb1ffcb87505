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

def forward(layers: Sequence[Layer], X: Array) -> tuple[list[Array], list[Array]]:
    """Run the batch through the network, keeping what backward needs.

    Returns ``(inputs, sums)``: ``inputs[l]`` is A_{l} fed into layer l
    (``inputs[0] = X``) and ``sums[l]`` is that layer's Z.  ``sums[-1]`` are
    the logits.
    """
    inputs, sums = [X], []
    A = X
    last = len(layers) - 1
    for index, layer in enumerate(layers):
        Z = A @ layer.W + layer.b
        sums.append(Z)
        if index < last:
            A = ACTIVATIONS[layer.activation].forward(Z)
            inputs.append(A)
    return inputs, sums


def logits(layers: Sequence[Layer], X: Array) -> Array:
    """The output layer's pre-activations Z_L: (n_samples, n_outputs)."""
    return forward(layers, X)[1][-1]


def predict_output(layers: Sequence[Layer], X: Array) -> Array:
    """The network's output: the output activation applied to the logits."""
    return OUTPUT_ACTIVATIONS[layers[-1].activation](logits(layers, X))


def backward(
    layers: Sequence[Layer], inputs: Sequence[Array], sums: Sequence[Array], delta_out: Array
) -> list[tuple[Array, Array]]:
    """Gradients (dW_l, db_l) of the data loss for every layer, by the chain rule.

    ``delta_out`` is dL/dZ_L from the loss.  Going back through layer l:

        dW_l = A_{l-1}^T dZ_l               (fan_in, fan_out)
        db_l = sum over samples of dZ_l     (the bias unit's input is 1)
        dA_{l-1} = dZ_l W_l^T
        dZ_{l-1} = dA_{l-1} * f'_{l-1}(Z_{l-1})

    The input layer's gradient dA_0 is never needed and never computed.
    """
    grads: list[tuple[Array, Array]] = [None] * len(layers)  # type: ignore[list-item]
    dZ = delta_out
    for l in range(len(layers) - 1, -1, -1):
        grads[l] = (inputs[l].T @ dZ, dZ.sum(axis=0))
        if l > 0:
            dA = dZ @ layers[l].W.T
            below = layers[l - 1]
            dZ = dA * ACTIVATIONS[below.activation].derivative(sums[l - 1], inputs[l])
    return grads
