"""The arrays of a training step, allocated once per fit and reused.

All the parameters of a network live in one flat vector ``theta`` (each
layer's W and b are views into it) and all their gradients in one flat vector
``grad`` of the same layout.  An optimizer step is then a few whole-vector
operations, and "is every weight still finite?" one reduction.  The passes
write into buffers sized for one batch of m rows:

    Z_l = A_{l-1} W_l + b_l                    -> Z[l]
    A_l = f_l(Z_l)                             -> A[l]  (hidden layers)
    dZ_L = dL/dZ_L                             from the loss
    dW_l = A_{l-1}^T dZ_l                      -> a view of g
    db_l = sum over the m rows of dZ_l         -> a view of g
    dZ_{l-1} = (dZ_l W_l^T) * f'_{l-1}(Z_{l-1})  -> dA[l-1], scaled in place

by ``model.forward`` and ``model.backward`` themselves, given these buffers.  The same code trains S
networks of one shape at once (``stack=True``): every array gains a leading
axis of length S, and each product becomes a batched matrix product, one BLAS
call per network, so the S results are those of S separate runs.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from nnctl.core.dropout import active as dropout_active
from nnctl.core.dropout import new_masks, step_masks
from nnctl.core.losses import Loss
from nnctl.core.model import Buffers, Layer, backward, forward, new_buffers
from nnctl.core.regularizers import penalty_gradient

Array = np.ndarray


class Workspace:
    """Packed parameters, gradients and step buffers for networks of one shape.

    ``nets`` are lists of layers; their W and b are copied into ``theta`` and
    then rebound to views of it, so the callers' ``Layer`` objects see every
    update.  Without ``stack`` there is one network and no leading axis.
    """

    def __init__(self, nets: Sequence[list[Layer]], batch_size: int, stack: bool = False, scratch: int = 2,
                 dropout: Sequence[float] = ()):
        if not stack and len(nets) != 1:
            raise ValueError("several networks need stack=True")
        first = nets[0]
        self.dtype = first[0].W.dtype
        self.activations = [layer.activation for layer in first]
        self.lead = (len(nets),) if stack else ()
        self.shapes = [layer.W.shape for layer in first]
        self.spans = []  # (start, end) of each parameter in the flat vector: W_0, b_0, W_1, ...
        start = 0
        for fan_in, fan_out in self.shapes:
            self.spans += [(start, start + fan_in * fan_out), (start + fan_in * fan_out, start + (fan_in + 1) * fan_out)]
            start += (fan_in + 1) * fan_out
        self.size = start
        self.theta = np.empty(self.lead + (self.size,), self.dtype)
        self.grad = np.zeros_like(self.theta)
        # scratch vectors for the optimizer's intermediate results (as many as its rule needs: the
        # second is made on first use otherwise) and, with a penalty, the penalty's gradient
        self.work = tuple([np.empty_like(self.theta) if i < scratch else None] for i in range(2))
        self.W, self.b = self._layer_views(self.theta)
        self.dW, self.db = self._layer_views(self.grad)
        for index, layers in enumerate(nets):
            self.adopt(layers, index if stack else None)
        self.layers = [Layer(W, b, name) for W, b, name in zip(self.W, self.b, self.activations)]  # views of theta
        self.buffers = replace(new_buffers(self.layers, batch_size, self.lead), dW=self.dW, db=self.db)
        self._views_by_rows: dict[int, Buffers] = {}  # views of the buffers for a batch of m rows, by m
        # dropout masks of a step, for the hidden layers that drop units (dropout.py)
        self.dropout = tuple(dropout) if dropout_active(dropout) else ()
        widths = [fan_out for _, fan_out in self.shapes[:-1]]
        self.masks = new_masks(self.dropout, widths, self.lead + (batch_size,), self.dtype)

    def _layer_views(self, flat: Array) -> tuple[list[Array], list[Array]]:
        """(weights, biases) of every layer as views of a flat vector (or stack of them)."""
        weights, biases = [], []
        lead = flat.shape[:-1]
        for (fan_in, fan_out), (w_span, b_span) in zip(self.shapes, zip(self.spans[0::2], self.spans[1::2])):
            weights.append(flat[..., w_span[0]:w_span[1]].reshape(lead + (fan_in, fan_out)))
            biases.append(flat[..., b_span[0]:b_span[1]])
        return weights, biases

    def adopt(self, layers: list[Layer], index: int | None = None) -> None:
        """Copy a network's arrays into theta (at ``index`` of the stack) and make its
        layers views of theta."""
        flat = self.theta if index is None else self.theta[index]
        for layer, (w_span, b_span) in zip(layers, zip(self.spans[0::2], self.spans[1::2])):
            W = flat[w_span[0]:w_span[1]].reshape(layer.W.shape)
            b = flat[b_span[0]:b_span[1]]
            np.copyto(W, layer.W)
            np.copyto(b, layer.b)
            layer.W, layer.b = W, b

    def pack(self, arrays: list[Array], into: Array | None = None) -> Array:
        """One flat vector (``into``, or a new one) holding per-parameter arrays (W_0, b_0,
        ...), laid out as theta is; the list's items become views of it.  For the
        optimizer's state."""
        flat = np.empty(self.size, self.dtype) if into is None else into
        for i, (array, (start, end)) in enumerate(zip(arrays, self.spans)):
            view = flat[start:end].reshape(array.shape)
            np.copyto(view, array)
            arrays[i] = view
        return flat

    def unpack(self, flat: Array) -> list[Array]:
        """Per-parameter views (W_0, b_0, ...) of a flat vector laid out as theta is (or of
        a stack of them)."""
        weights, biases = self._layer_views(flat)
        return [array for pair in zip(weights, biases) for array in pair]

    def draw_masks(self, keys: int | Sequence[int], step: int, m: int) -> list[Array | None]:
        """The dropout masks of a step of m rows: from the epoch's key (one per network of a
        stack), as ``dropout.step_masks`` draws them."""
        rows = [None if mask is None else mask[..., :m, :] for mask in self.masks]
        if not self.lead:
            return step_masks(self.dropout, keys, step, rows)
        for index, key in enumerate(keys):
            step_masks(self.dropout, key, step, [None if mask is None else mask[index] for mask in rows])
        return rows

    def gradients(self, loss: Loss, X: Array, T: Array, weights: Array | None, l1: float, l2: float,
                  masks: Sequence[Array | None] | None = None) -> Buffers:
        """g <- dL/dtheta for the batch ``X: (..., m, n_inputs)`` with targets T (and the
        hidden layers' dropout ``masks``, while training with dropout).

        L is the (weighted) mean data loss over the m rows plus the weight penalty.
        Returns the step's buffers (Z, A, dA and f'(Z) of every layer, valid until the next
        step): the epoch's training figures are taken from them.
        """
        buffers = self._buffers(X.shape[-2])
        inputs, sums = forward(self.layers, X, buffers, masks)
        backward(self.layers, inputs, sums, loss.delta(sums[-1], T, weights), buffers, masks)
        if l1 or l2:
            if self.work[1][0] is None:
                self.work[1][0] = np.empty_like(self.theta)
            first, second = self._layer_views(self.work[0][0]), self._layer_views(self.work[1][0])
            for dW, W, extra, term in zip(self.dW, self.W, first[0], second[0]):
                dW += penalty_gradient(W, l1, l2, out=extra, term=term)
        return buffers

    def _buffers(self, m: int) -> Buffers:
        """Views of the buffers for a batch of m rows (every batch but the last has the same m)."""
        if m not in self._views_by_rows:
            whole = self.buffers
            rows = lambda group: [buffer[..., :m, :] for buffer in group]  # noqa: E731
            self._views_by_rows[m] = Buffers(rows(whole.Z), rows(whole.A), rows(whole.dA), rows(whole.fprime),
                                             whole.dW, whole.db)
        return self._views_by_rows[m]

    @staticmethod
    def finite(flat: Array) -> Array | bool:
        """Whether every entry is finite, per network of the stack: one sum each, which an
        inf or NaN anywhere makes non-finite.  The sum is in the parameters' dtype (half the
        time of a float64 one on a large net), so finite weights that add up beyond ~3e38 in
        float32 count as diverged too, as they are in any practical sense."""
        return np.isfinite(np.add.reduce(flat, axis=-1))

    def output_bias_gradient(self) -> Array:
        """db_L, which sums the output delta: not finite when the loss broke."""
        return self.db[-1]
