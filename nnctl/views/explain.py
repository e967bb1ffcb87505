"""Rich renderings of ``nnctl explain``, and their plain-dict forms for --json.

Functions here build Rich objects and return them; the CLI prints them.  Every number shown
is a number of the result object, formatted by ``fmt`` (4 significant digits), so a test can
look for ``fmt(value)`` in the rendered text.  Matrices larger than ``max_shown`` rows or
columns show their first ``max_shown`` and a '…'.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from rich import box
from rich.columns import Columns
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from nnctl.core.losses import LOSSES
from nnctl.core.optimizers import OPTIMIZERS
from nnctl.explain import Explanation, SpreadRun, WeightComparison
from nnctl.views.text import shown as escaped, significant as fmt

MAX_SHOWN = 8  # rows and columns of a matrix shown before '…'


def _names(items: Sequence) -> str:
    return ", ".join(str(item) for item in items)


# --------------------------------------------------------------------------- matrices


def matrix(title: str, M: np.ndarray, row_labels: Sequence[str], column_labels: Sequence[str],
           max_shown: int = MAX_SHOWN, max_rows: int | None = None) -> Table:
    """A small matrix with labelled rows and columns, each entry as ``fmt`` shows it: the first
    ``max_shown`` columns and ``max_rows`` (default ``max_shown``) rows."""
    M = np.atleast_2d(M)
    rows, columns = min(M.shape[0], max_rows or max_shown), min(M.shape[1], max_shown)
    table = Table(title=Text(title), title_justify="left", box=box.SIMPLE, pad_edge=False, show_edge=False,
                  min_width=len(title))  # the title on one line
    table.add_column("")
    for label in list(column_labels)[:columns]:
        table.add_column(Text(escaped(label)), justify="right")
    if M.shape[1] > columns:
        table.add_column("…")
    for i in range(rows):
        cells = [Text(escaped(row_labels[i]), style="dim"), *(Text(fmt(v)) for v in M[i, :columns])]
        table.add_row(*cells, *(["…"] if M.shape[1] > columns else []))
    if M.shape[0] > rows:
        table.add_row("…", *(["…"] * (columns + (M.shape[1] > columns))))
    return table


def _units(e: Explanation, layer: int) -> list[str]:
    """Names of the units of layer ``layer`` (0: the inputs)."""
    if layer == 0:
        return list(e.feature_names)
    step = e.forward[layer - 1]
    n = step.Z.shape[1]
    if not step.output:
        return [f"h{layer}.{j + 1}" if len(e.forward) > 2 else f"h{j + 1}" for j in range(n)]
    if e.classes is not None and n == len(e.classes):
        return [str(c) for c in e.classes]
    if e.classes is not None:  # one unit for two classes
        return [f"{e.classes[1]}"]
    return list(e.target_names)


def _rows(e: Explanation) -> list[str]:
    return [f"row {i + 1}" for i in range(e.rows)]


def _with_bias(e: Explanation, layer: int, W: np.ndarray, b: np.ndarray | None, title: str,
               max_shown: int) -> Table:
    """[b; W]: the bias unit's weights as the first row, then one row per input unit."""
    top = np.zeros((1, W.shape[1]), dtype=W.dtype) if b is None else b.reshape(1, -1)
    return matrix(title, np.vstack([top, W]), ["bias (1)", *_units(e, layer - 1)], _units(e, layer), max_shown,
                  max_rows=max_shown + 1)  # the bias row comes on top of max_shown input units


def _section(number: int, title: str, equation: str) -> Text:
    text = Text(f"{number}. {title}", style="bold")
    text.append(f"    {equation}", style="cyan")
    return text


def _side(*tables: RenderableType) -> Columns:
    return Columns(list(tables), padding=(0, 4))


# --------------------------------------------------------------------------- explain

HYPER_SYMBOLS = {"momentum": "mu", "beta1": "b1", "beta2": "b2", "epsilon": "eps"}  # as the update rules write them


def explanation_view(e: Explanation, max_shown: int = MAX_SHOWN) -> Group:
    """The worked step, section by section in the order of the math, each with its equation."""
    L = len(e.forward)
    parts: list[RenderableType] = []
    number = 0

    def section(title: str, equation: str) -> None:
        nonlocal number
        number += 1
        parts.append(Text(""))
        parts.append(_section(number, title, equation))

    sizes = " -> ".join(str(n) for n in [e.X.shape[1], *(s.Z.shape[1] for s in e.forward)])
    parts.append(Text(f"one training step of {e.config_name or 'the config'}: network {sizes}, loss {e.loss_name}, "
                      f"{e.optimizer} with eta = {fmt(e.learning_rate)}, {e.dtype}, on the first {e.rows} "
                      f"training row{'s' if e.rows > 1 else ''}"))
    parts.append(Text(e.start))

    section("inputs, with the bias unit", "A0 = X (the rows as training sees them); the bias unit is a constant 1; "
                                          "T: the targets as the loss reads them"
                                          + (f"; regression targets z-scored: {e.target_scaling}" if e.target_scaling
                                             else ""))
    targets = e.y if e.classes is None else np.asarray(e.y).reshape(-1, 1)
    target_labels = list(e.target_names)
    tables: list[RenderableType] = [matrix("[1 | X]", e.inputs_with_bias, _rows(e), ["1 (bias)", *e.feature_names],
                                           max_shown)]
    if e.classes is not None:
        labels = Table(title="targets y", title_justify="left", box=box.SIMPLE, pad_edge=False, show_edge=False)
        labels.add_column("")
        labels.add_column(Text(escaped(target_labels[0])), justify="right")
        for row, index in zip(_rows(e), np.asarray(e.y).reshape(-1)):
            labels.add_row(Text(row, style="dim"), Text(escaped(e.classes[int(index)])))
        tables.append(labels)
    else:
        title = "targets y (z-scored)" if e.target_scaling else "targets y"
        tables.append(matrix(title, targets, _rows(e), target_labels, max_shown))
    tables.append(matrix("T", e.T, _rows(e), _units(e, L), max_shown))
    if e.row_weights is not None:
        tables.append(matrix("row weights", e.row_weights.reshape(-1, 1), _rows(e), ["w"], max_shown))
    parts.append(_side(*tables))

    for step in e.forward:
        l = step.layer
        name = f"layer {l}" + (" (output)" if step.output else "")
        section(f"{name}: weighted sums", f"Z{l} = A{l - 1} W{l} + b{l}  =  [1 | A{l - 1}] [b{l}; W{l}]")
        shown = [_with_bias(e, l, step.W, step.b, f"[b{l}; W{l}]", max_shown)]
        if l > 1:
            shown.insert(0, matrix(f"A{l - 1}", step.A_in, _rows(e), _units(e, l - 1), max_shown))
        logits = step.output and step.activation in ("sigmoid", "softmax")  # identity: Z is the prediction itself
        shown.append(matrix(f"Z{l}" + (" (logits)" if logits else ""), step.Z, _rows(e), _units(e, l),
                            max_shown))
        parts.append(_side(*shown))
        what = "output activation (fixed by the loss)" if step.output else "activations"
        if step.mask is None:
            section(f"{name}: {what}", f"A{l} = {step.activation}(Z{l})")
            parts.append(matrix(f"A{l}" + (" = output" if step.output else ""), step.A, _rows(e),
                                _units(e, l), max_shown))
            continue
        p = fmt(step.dropout)
        section(f"{name}: {what}, with dropout {p}",
                f"A{l} = {step.activation}(Z{l}) * M{l};  M{l} = 0 for a dropped unit (a share {p}), "
                f"1 / (1 - {p}) = {fmt(1 / (1 - step.dropout))} for a kept one, so E[A{l}] = "
                f"{step.activation}(Z{l}); each training step draws a new M{l}, predictions use none")
        parts.append(_side(matrix(f"{step.activation}(Z{l})", step.f_Z, _rows(e), _units(e, l), max_shown),
                           matrix(f"M{l}", step.mask, _rows(e), _units(e, l), max_shown),
                           matrix(f"A{l}", step.A, _rows(e), _units(e, l), max_shown)))

    section("loss", "L = data loss + l1 sum |W| + l2 sum W^2")
    loss = LOSSES[e.loss_name]
    lines = [f"data loss: {loss.equation.format(L=L)}" + (" (weighted by the rows' weights)"
             if e.row_weights is not None else ""), f"data loss = {fmt(e.loss.data)}"]
    penalty_terms = ([f"{fmt(e.l1)} * {fmt(e.loss.sum_abs)}"] if e.l1 else []) + \
                    ([f"{fmt(e.l2)} * {fmt(e.loss.sum_squares)}"] if e.l2 else [])
    lines.append(f"penalty = {' + '.join(penalty_terms) + ' = ' if penalty_terms else ''}{fmt(e.loss.penalty)}"
                 + ("" if penalty_terms else " (no L1 or L2 in this config)"))
    lines.append(f"L = {fmt(e.loss.data)} + {fmt(e.loss.penalty)} = {fmt(e.loss.total)}")
    parts += [Text(line) for line in lines]

    section("output delta", f"dZ{L} = dL/dZ{L} = {loss.delta_equation.format(L=L)}" + (", times each row's weight"
                                                                        if e.row_weights is not None else ""))
    parts.append(matrix(f"dZ{L}", e.output_delta, _rows(e), _units(e, L), max_shown))

    if L > 1:
        dropped = " (* Ml where layer l drops units: a dropped unit passes no gradient)" if any(
            step.mask is not None for step in e.forward) else ""
        section("deltas by the chain rule", f"dZl = (dZ(l+1) W(l+1)^T) * f'(Zl){dropped}, from the output layer down")
        for step in reversed(e.backward[:-1]):
            l = step.layer
            mask = f" * M{l}" if e.forward[l - 1].mask is not None else ""
            parts.append(Text(f"dZ{l} = (dZ{l + 1} W{l + 1}^T){mask} * {e.forward[l - 1].activation}'(Z{l})",
                              style="cyan"))
            parts.append(matrix(f"dZ{l}", step.dZ, _rows(e), _units(e, l), max_shown))

    penalty_equation = " + penalty gradient (l1 sign(W) + 2 l2 W; none on b)" if (e.l1 or e.l2) else ""
    section("gradients", f"dWl = A(l-1)^T dZl{penalty_equation};  dbl = sum over rows of dZl")
    for step in reversed(e.backward):
        l = step.layer
        shown = [_with_bias(e, l, step.dW_data, step.db, f"data: [db{l}; A{l - 1}^T dZ{l}]", max_shown)]
        if step.dW_penalty is not None:
            shown.append(_with_bias(e, l, step.dW_penalty, None, f"penalty: dW{l}", max_shown))
            shown.append(_with_bias(e, l, step.dW, step.db, f"total: [db{l}; dW{l}]", max_shown))
        parts.append(_side(*shown))

    rule = OPTIMIZERS[e.optimizer]
    hyper = "".join(f", {HYPER_SYMBOLS.get(name, name)} = {_hyper_value(getattr(e.hyper, name))}" for name in rule.hyper)
    section(f"update ({e.optimizer}, eta = {fmt(e.learning_rate)}{hyper})", rule.equation)
    step_name = "-eta dW" if e.optimizer == "sgd" else "step"
    for step in e.update:
        l = step.layer
        parts.append(_side(
            _with_bias(e, l, step.W_before, step.b_before, f"[b{l}; W{l}] before", max_shown),
            _with_bias(e, l, step.W_step, step.b_step, f"{step_name} of layer {l}", max_shown),
            _with_bias(e, l, step.W_after, step.b_after, f"[b{l}; W{l}] after", max_shown),
        ))

    masked = any(step.mask is not None for step in e.forward)
    section("loss after the step", "the same rows" + (" and dropout masks" if masked else "") + ", the new weights")
    change = e.loss_after.total - e.loss.total
    parts.append(Text(f"L = {fmt(e.loss_after.data)} + {fmt(e.loss_after.penalty)} = {fmt(e.loss_after.total)}"
                      f"  (before: {fmt(e.loss.total)}; change {fmt(change)})"))
    if change > 0:
        parts.append(Text(rose_note(e), style="yellow"))

    if e.penalty_example is not None:
        section("why L2 spreads the weights (the lecture's example)", "same output x . w, different penalties")
        parts += [comparison_table(e.penalty_example), comparison_verdict(e.penalty_example)]
    return Group(*parts)


def _hyper_value(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e-4 else fmt(value)  # eps = 1e-08, as configs write it


def rose_note(e: Explanation) -> str:
    """What a rise of the loss after one step on the same rows says: the step overshot."""
    return (f"note: the loss rose: on the same rows a small enough step down the gradient lowers it, so this one "
            f"overshot; eta = {fmt(e.learning_rate)} is too large for this loss here (optimizer.learning_rate)")


def _vector(values: np.ndarray) -> str:
    return "[" + ", ".join(fmt(v) for v in values) + "]"


def comparison_table(comparison: WeightComparison) -> Table:
    """Each weight vector: its output on x and its L1 and L2 penalties (lambda = 1)."""
    table = Table(title="one neuron, two weight vectors", title_justify="left", box=box.SIMPLE_HEAD)
    for header in ("weights", f"output x . w (x = {_vector(comparison.x)})", "L1: sum |w|", "L2: sum w^2"):
        table.add_column(Text(header))
    for score in comparison.scores:
        table.add_row(Text(f"{score.name} = {_vector(score.w)}"), fmt(score.output), fmt(score.l1), fmt(score.l2))
    return table


def comparison_verdict(comparison: WeightComparison) -> Text:
    """Which vector each penalty prefers, in words, from the numbers."""
    scores = comparison.scores
    same = len({fmt(s.output) for s in scores}) == 1
    l2 = min(scores, key=lambda s: s.l2)
    l1_all_equal = len({fmt(s.l1) for s in scores}) == 1
    text = "same output; " if same else "different outputs; "
    text += f"L2 prefers {l2.name} ({_names(fmt(s.l2) for s in scores)}): many small weights cost less than one large; "
    text += ("L1 rates them alike (" + _names(fmt(s.l1) for s in scores) + ")") if l1_all_equal else \
            f"L1 prefers {min(scores, key=lambda s: s.l1).name} ({_names(fmt(s.l1) for s in scores)})"
    return Text(text)


def spread_table(runs: Sequence[SpreadRun]) -> Table:
    """Start and trained weights per penalty, with their spread (max - min)."""
    table = Table("penalty", "start w", "trained w", "spread (max - min)", "bias", "train loss", "val loss",
                  title="trained from concentrated weights", title_justify="left", box=box.SIMPLE_HEAD)
    for r in runs:
        name = r.name if not (r.l1 or r.l2) else f"{r.name} (lambda {fmt(r.l1 or r.l2)})"
        table.add_row(name, Text(_vector(r.start)), Text(_vector(r.trained)), fmt(r.spread), fmt(r.bias),
                      fmt(r.train_loss), "-" if r.val_loss is None else fmt(r.val_loss))
    return table


# --------------------------------------------------------------------------- JSON


def _array(a: np.ndarray | None) -> Any:
    return None if a is None else np.asarray(a).tolist()


def comparison_to_dict(comparison: WeightComparison) -> dict[str, Any]:
    return {"x": _array(comparison.x),
            "weights": [{"name": s.name, "w": _array(s.w), "output": s.output, "l1": s.l1, "l2": s.l2}
                        for s in comparison.scores]}


def spread_to_dict(runs: Sequence[SpreadRun]) -> list[dict[str, Any]]:
    return [{"name": r.name, "l1": r.l1, "l2": r.l2, "start": _array(r.start), "trained": _array(r.trained),
             "spread": r.spread, "bias": r.bias, "train_loss": r.train_loss, "val_loss": r.val_loss} for r in runs]


def explanation_to_dict(e: Explanation) -> dict[str, Any]:
    """Every number of the explanation, arrays as nested lists, in the order of the math."""
    loss = lambda parts: {"data": parts.data, "penalty": parts.penalty, "total": parts.total,  # noqa: E731
                          "sum_abs": parts.sum_abs, "sum_squares": parts.sum_squares}
    return {
        "config": e.config_name, "start": e.start, "dtype": e.dtype, "rows": e.rows,
        "feature_names": list(e.feature_names), "target_names": list(e.target_names),
        "classes": list(e.classes) if e.classes is not None else None,
        "inputs_with_bias": _array(e.inputs_with_bias), "y": _array(e.y), "T": _array(e.T),
        "row_weights": _array(e.row_weights),
        "forward": [{"layer": s.layer, "activation": s.activation, "output": s.output, "W": _array(s.W),
                     "b": _array(s.b), "Z": _array(s.Z), "A": _array(s.A), "dropout": s.dropout,
                     "mask": _array(s.mask), "f_Z": _array(s.f_Z)} for s in e.forward],
        "loss_name": e.loss_name, "l1": e.l1, "l2": e.l2, "loss": loss(e.loss),
        "output_delta": _array(e.output_delta),
        "backward": [{"layer": s.layer, "dZ": _array(s.dZ), "dW_data": _array(s.dW_data),
                      "dW_penalty": _array(s.dW_penalty), "dW": _array(s.dW), "db": _array(s.db)}
                     for s in e.backward],
        "optimizer": e.optimizer, "learning_rate": e.learning_rate,
        "hyper": {"momentum": e.hyper.momentum, "beta1": e.hyper.beta1, "beta2": e.hyper.beta2,
                  "epsilon": e.hyper.epsilon},
        "update": [{"layer": s.layer, "W_before": _array(s.W_before), "W_step": _array(s.W_step),
                    "W_after": _array(s.W_after), "b_before": _array(s.b_before), "b_step": _array(s.b_step),
                    "b_after": _array(s.b_after)} for s in e.update],
        "loss_after": loss(e.loss_after),
        "penalty_example": comparison_to_dict(e.penalty_example) if e.penalty_example is not None else None,
    }
