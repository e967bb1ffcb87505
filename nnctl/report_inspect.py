"""Rich renderings of ``nnctl inspect``, ``nnctl evaluate`` and ``nnctl plot``.

Like ``report.py``: functions build Rich objects and return them; the CLI prints
them.  Text drawings (the network's columns of units, the line charts) use
characters that tell things apart without colour, so logs read the same.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text

from nnctl import report
from nnctl.curves import Curves
from nnctl.evaluation import Evaluation
from nnctl.files import display_path
from nnctl.inspection import SMALL, ArrayStats, Inspection

# --- inspect -------------------------------------------------------------------------

BIAS = "[1]"  # the bias unit: a constant 1, whose weights are the next layer's b
MAX_UNITS = 6  # a wider layer shows its first MAX_UNITS - 2 units, "...", and its last
NAME_WIDTH = 12  # longer unit names are cut with "~"


def _unit(name: str) -> str:
    return f"({name if len(name) <= NAME_WIDTH else name[: NAME_WIDTH - 1] + '~'})"


def _shown(names: list[str], max_units: int) -> list[str]:
    if len(names) <= max_units:
        return [_unit(n) for n in names]
    return [_unit(n) for n in names[: max_units - 2]] + ["...", _unit(names[-1])]


def _columns(ins: Inspection, max_units: int) -> list[tuple[str, str, list[str]]]:
    """(title, subtitle, cells) of each layer of units, input to output."""
    sizes = ins.layer_sizes
    columns = [("input", f"{sizes[0]} + bias", _shown(ins.feature_names, max_units) + [BIAS])]
    for l, (size, activation) in enumerate(zip(sizes[1:-1], ins.activations[:-1]), start=1):
        units = [f"h{j}" for j in range(1, size + 1)]
        columns.append((f"hidden {l}", f"{size} {activation} + bias", _shown(units, max_units) + [BIAS]))
    columns.append(("output", f"{sizes[-1]} {ins.activations[-1]}", _shown(ins.output_units, max_units)))
    return columns


def architecture_text(ins: Inspection, max_units: int = MAX_UNITS) -> Text:
    """The network as columns of units, input to output, each with its bias unit ``[1]``.

    Between two columns: the layer's arrays and their parameter count,
    ``(inputs + 1) x outputs``.  A layer wider than ``max_units`` shows its first
    units, ``...`` and its last (the subtitle gives the count)::

        input      hidden 1             output
        2 + bias   8 sigmoid + bias     2 softmax
        (x1)       W1, b1    (h1)       W2, b2    (0)
        (x2)       3x8 = 24  (h2)       9x2 = 18  (1)
        [1]        ------->  (h3)       ------->
                             (h4)
                             ...
                             (h8)
                             [1]
    """
    columns = _columns(ins, max_units)
    gutters = [[f"W{l.index}, b{l.index}", f"{l.inputs + 1}x{l.outputs} = {l.parameters}"] for l in ins.layers]
    for gutter in gutters:
        gutter.append("-" * (max(len(g) for g in gutter) - 1) + ">")
    height = max(len(cells) for _, _, cells in columns)
    blocks: list[list[str]] = []
    for index, (title, subtitle, cells) in enumerate(columns):
        blocks.append([title, subtitle, *cells, *[""] * (height - len(cells))])
        if index < len(gutters):
            blocks.append(["", "", *gutters[index], *[""] * (height - len(gutters[index]))])
    widths = [max(len(line) for line in block) for block in blocks]
    lines = ["   ".join(block[row].ljust(width) for block, width in zip(blocks, widths)).rstrip()
             for row in range(height + 2)]
    text = Text("\n".join(lines))
    text.stylize("bold", 0, len(lines[0]))
    text.highlight_regex(r"\[1\]", "yellow")
    text.highlight_regex(r"-+>", "dim")
    return text


def architecture_legend() -> Text:
    return Text(f"{BIAS} is the bias unit, a constant 1; its weights are the next layer's b, so a layer of n inputs "
                f"and m outputs holds (n + 1) x m parameters", style="dim")


def _num(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}g}"


def _share(value: float) -> str:
    return f"{100 * value:.1f}%"


def parameters_table(ins: Inspection) -> Table:
    """Per layer: inputs + bias -> outputs, activation, weights, biases and parameters."""
    table = Table("layer", "inputs + bias -> outputs", "activation", "weights W", "biases b", "parameters",
                  title="parameters: (inputs + 1) x outputs per layer", title_justify="left")
    for layer in ins.layers:
        table.add_row(str(layer.index), f"{layer.inputs} + 1 -> {layer.outputs}", layer.activation,
                      f"{layer.inputs}x{layer.outputs} = {layer.inputs * layer.outputs}", str(layer.outputs),
                      str(layer.parameters))
    table.add_row("total", "", "", "", "", str(ins.parameters), style="bold")
    return table


def weight_stats_table(ins: Inspection) -> Table:
    """Mean, std, min, max and the shares of zeros and near-zeros of each W and b."""
    table = Table("array", "count", "mean", "std", "min", "max", "zeros", f"|w| < {SMALL:g}",
                  title="weight statistics (std over all entries, ddof=0)", title_justify="left")

    def row(name: str, s: ArrayStats) -> None:
        table.add_row(name, str(s.count), _num(s.mean), _num(s.std), _num(s.min), _num(s.max), _share(s.zeros),
                      _share(s.small))

    for layer in ins.layers:
        row(f"W{layer.index}", layer.weights)
        row(f"b{layer.index}", layer.biases)
    return table


def _value(value: Any) -> str:
    """A metadata value as YAML would show it: text as is, floats short, the rest as JSON (null, true, [8])."""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:.6g}"
    return json.dumps(value)


def _plain(value: Any) -> Text:
    """A table cell that is shown as written: names from files are never read as Rich markup."""
    return Text(value if isinstance(value, str) else _value(value))


def _preprocessing_rows(pre: dict) -> list[tuple[str, str]]:
    """What the stored preprocessor does: fill values, one-hot slots, target scaling."""
    rows = []
    fills = [f"{c['name']} {_num(c['fill'])}" for c in pre.get("numeric", []) if c["fill"] is not None]
    if fills:
        rows.append(("missing numbers", "filled with " + "; ".join(fills)))
    for column in pre.get("categorical", []):
        slots = [*column["categories"], *(["(missing)"] if column["missing"] else []),
                 *(["(other)"] if column["other"] else [])]
        rows.append((f"one-hot {column['name']}", ", ".join(slots)))
    target = pre.get("target")
    if target:
        rows.append(("target scaling", "trained on (y - mean) / scale: " + "; ".join(
            f"mean {_num(m)} scale {_num(s)}" for m, s in zip(target["mean"], target["scale"]))))
    return rows


def metadata_table(ins: Inspection) -> Table:
    """The stored metadata: file, versions, loss, names, classes, epoch and its metrics, seed, scaling."""
    table = Table(show_header=False, title="metadata", title_justify="left", box=None, padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("file", _plain(display_path(ins.path)))
    table.add_row("format version", str(ins.format_version))
    table.add_row("nnctl version", str(ins.nnctl_version))
    table.add_row("loss", f"{ins.loss} ({ins.task}, output {ins.activations[-1]})")
    table.add_row("inputs", _plain(ins.inputs))
    table.add_row("features", _plain(", ".join(ins.feature_names)))
    for name, text in _preprocessing_rows(ins.preprocessing or {}):
        table.add_row(name, _plain(text))
    table.add_row("targets", _plain(", ".join(ins.target_names)))
    if ins.classes is not None:
        table.add_row("classes", _plain(", ".join(map(str, ins.classes))))
    table.add_row("seed", _value(ins.seed))
    table.add_row("epoch", _value(ins.epoch))
    for name, value in ins.metrics.items():
        table.add_row(f"  {name.replace('_', ' ')}", _num(value))
    scaling = "; ".join(f"{name} mean {_num(m)} scale {_num(s)}"
                        for name, m, s in zip(ins.feature_names, ins.scaler_mean, ins.scaler_scale))
    table.add_row("standardisation", _plain(scaling))
    if ins.training_state is not None:
        table.add_row("training state", _plain(", ".join(f"{key.replace('_', ' ')} {_value(value)}"
                                                          for key, value in ins.training_state.items())))
    return table


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        return [pair for key, item in value.items() for pair in _flatten(item, f"{prefix}{key}.")]
    return [(prefix.rstrip("."), value)]


def config_table(ins: Inspection) -> Table:
    """The resolved config the checkpoint was trained with, one ``key.path  value`` per line."""
    table = Table(show_header=False, title="config", title_justify="left", box=None, padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for key, value in _flatten(ins.config) if ins.config else [("(none stored)", "")]:
        table.add_row(_plain(key), _plain(value))
    return table


def inspection_view(ins: Inspection, max_units: int = MAX_UNITS) -> Group:
    """Everything ``nnctl inspect`` shows, top to bottom."""
    return Group(architecture_text(ins, max_units), architecture_legend(), Text(""), parameters_table(ins),
                 weight_stats_table(ins), metadata_table(ins), Text(""), config_table(ins))


# --- evaluate ------------------------------------------------------------------------

def evaluation_header(ev: Evaluation) -> Text:
    epoch = f" (epoch {ev.epoch})" if ev.epoch is not None else ""
    return Text(f"{ev.rows} row{'s' if ev.rows != 1 else ''} of {display_path(ev.data)} scored with "
                f"{display_path(ev.checkpoint)}{epoch}")


def per_class_table(ev: Evaluation) -> Table:
    """Precision, recall, F1 and support of each class, and their macro averages (0/0 counts as 0)."""
    table = Table("class", "precision", "recall", "F1", "support", title="per class", title_justify="left")
    for s in ev.per_class:
        table.add_row(_plain(str(s.label)), f"{s.precision:.4f}", f"{s.recall:.4f}", f"{s.f1:.4f}", str(s.support))
    m = ev.metrics
    table.add_row("macro average", f"{m['macro_precision']:.4f}", f"{m['macro_recall']:.4f}", f"{m['macro_f1']:.4f}",
                  str(sum(s.support for s in ev.per_class)), style="bold")
    return table


def per_target_table(ev: Evaluation) -> Table:
    """MSE, RMSE, MAE and R^2 of each target, and over all targets."""
    table = Table("target", "MSE", "RMSE", "MAE", "R^2", title="per target", title_justify="left")
    for s in ev.per_target:
        table.add_row(_plain(s.name), f"{s.mse:.4f}", f"{s.rmse:.4f}", f"{s.mae:.4f}", f"{s.r2:.4f}")
    m = ev.metrics
    table.add_row("all targets", f"{m['mse']:.4f}", f"{m['rmse']:.4f}", f"{m['mae']:.4f}", f"{m['r2']:.4f}",
                  style="bold")
    return table


def evaluation_view(ev: Evaluation) -> Group:
    """Everything ``nnctl evaluate`` shows: the metrics, then the confusion matrix and per-class
    table (classification) or the per-target table (regression, when there are several targets)."""
    parts: list[Any] = [evaluation_header(ev)]
    if ev.ignored_columns:
        parts.append(report.note_text(f"ignored columns not used by the model: {', '.join(ev.ignored_columns)}"))
    parts.append(report.metrics_table(ev.metrics))
    if ev.task == "classification":
        parts += [report.confusion_table(ev.confusion, ev.classes), per_class_table(ev)]
    elif len(ev.per_target) > 1:
        parts.append(per_target_table(ev))
    parts += [report.note_text(note) for note in ev.notes]
    return Group(*parts)


# --- plot: line charts drawn with characters -------------------------------------------

MARKERS = "ox+*#@%&=~"  # one per series; in plain text the marker tells the series apart
RUN_STYLES = ["blue", "red", "green", "magenta", "cyan", "yellow"]  # one colour per run


def line_chart(series: Sequence[tuple[str, np.ndarray, np.ndarray]], width: int = 60, height: int = 12,
               title: str = "", styles: Sequence[str | None] | None = None, x_label: str = "epoch") -> Text:
    """Several (label, xs, ys) series on one grid of ``height`` rows x ``width`` columns of cells.

    Each series gets a marker of ``MARKERS`` (in order).  A column that holds
    points of a series marks the span of their values (so a spike or the minimum
    is never lost when there are more epochs than columns); a column between points
    marks the line between them; a jump from one column to the next is filled in,
    so a steep fall reads as a line.
    A later series overwrites an earlier one where they meet.  The y axis is
    labelled with the maximum (top row), the middle and the minimum (bottom row);
    the x axis with its first and last value.  Non-finite values are skipped.
    """
    if width < 2 or height < 2:
        raise ValueError(f"a chart needs at least 2 x 2 cells, got {width} x {height}")
    styles = list(styles) if styles is not None else [None] * len(series)
    clean = []
    for label, xs, ys in series:
        xs, ys = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
        keep = np.isfinite(xs) & np.isfinite(ys)
        order = np.argsort(xs[keep], kind="stable")
        clean.append((label, xs[keep][order], ys[keep][order]))
    drawn = [c for c in clean if len(c[1])]
    x_lo = min((c[1][0] for c in drawn), default=0.0)
    x_hi = max((c[1][-1] for c in drawn), default=1.0)
    y_lo = min((c[2].min() for c in drawn), default=0.0)
    y_hi = max((c[2].max() for c in drawn), default=1.0)
    if y_hi == y_lo:  # a flat line sits in the middle
        pad = abs(y_hi) * 0.05 or 0.5
        y_lo, y_hi = y_lo - pad, y_hi + pad

    cells: list[list[tuple[str, str | None]]] = [[(" ", None)] * width for _ in range(height)]

    def row_of(y: float) -> int:
        return int(round((y_hi - y) / (y_hi - y_lo) * (height - 1)))

    def column_of(x: np.ndarray) -> np.ndarray:
        if x_hi == x_lo:
            return np.zeros(len(x), dtype=np.int64)
        return np.rint((x - x_lo) / (x_hi - x_lo) * (width - 1)).astype(np.int64)

    for index, (label, xs, ys) in enumerate(clean):
        if not len(xs):
            continue
        mark, style = MARKERS[index % len(MARKERS)], styles[index]
        columns, previous = column_of(xs), None
        for column in range(columns[0], columns[-1] + 1):
            here = ys[columns == column]
            if not len(here):  # no point in this column: the line between its neighbours
                x = x_lo + (x_hi - x_lo) * column / (width - 1)
                here = np.array([np.interp(x, xs, ys)])
            rows = [row_of(float(y)) for y in here]  # several points in one column: their whole span
            low, high = min(rows), max(rows)
            if previous is not None:  # fill the jump from the previous column's last point
                low, high = min(low, previous + 1), max(high, previous - 1)
            for r in range(low, high + 1):
                cells[r][column] = (mark, style)
            previous = rows[-1]

    labels = {0: _num(y_hi), (height - 1) // 2: _num((y_hi + y_lo) / 2), height - 1: _num(y_lo)}
    pad = max(len(v) for v in labels.values())
    text = Text()
    if title:
        text.append(title + "\n", style="bold")
    for r in range(height):
        label = labels.get(r)
        text.append(f"{label.rjust(pad)} ┤" if label is not None else f"{' ' * pad} │")
        for char, style in cells[r]:
            text.append(char, style=style)
        text.append("\n")
    text.append(" " * pad + " └" + "─" * width + "\n")
    first, last = _num(x_lo, 6), _num(x_hi, 6)
    text.append(" " * (pad + 2) + first + last.rjust(width - len(first)) + f"  {x_label}")
    return text


def chart_legend(labels: Sequence[str], styles: Sequence[str | None] | None = None) -> Text:
    """'o label   x label ...': each series' marker and what it is."""
    styles = list(styles) if styles is not None else [None] * len(labels)
    text = Text()
    for index, (label, style) in enumerate(zip(labels, styles)):
        if index:
            text.append("   ")
        text.append(MARKERS[index % len(MARKERS)], style=style)
        text.append(f" {label}")
    return text


def _run_style(index: int) -> str:
    return RUN_STYLES[index % len(RUN_STYLES)]


def loss_chart(curves: Sequence[Curves], width: int = 60, height: int = 12) -> Group:
    """Train data loss and validation loss per epoch, every run overlaid."""
    series, styles = [], []
    for index, c in enumerate(curves):
        series.append((f"{c.name} train data loss", c.epochs, c.train_data_loss))
        styles.append(_run_style(index))
        if c.val_loss is not None:
            series.append((f"{c.name} val loss", c.epochs, c.val_loss))
            styles.append(_run_style(index))
    title = "loss per epoch (train: data loss without the penalty, as the validation loss)"
    return Group(line_chart(series, width, height, title, styles), chart_legend([s[0] for s in series], styles))


def metric_charts(curves: Sequence[Curves], width: int = 60, height: int = 12) -> list[Group]:
    """The metric per epoch, one chart per task (accuracy and R^2 do not share an axis)."""
    charts = []
    for task in ("classification", "regression"):
        group = [(index, c) for index, c in enumerate(curves) if c.task == task]
        if not group:
            continue
        series = [(f"{c.name} {c.metric_label}", c.epochs, c.metric) for _, c in group]
        styles = [_run_style(index) for index, _ in group]
        title = "accuracy per epoch" if task == "classification" else "R^2 per epoch"
        charts.append(Group(line_chart(series, width, height, title, styles),
                            chart_legend([s[0] for s in series], styles)))
    return charts


def curves_table(curves: Sequence[Curves]) -> Table:
    """Per run: epochs, best epoch, and the last epoch's losses and metric."""
    table = Table("run", "epochs", "best epoch", "last train loss", "last val loss", "last metric",
                  title="runs", title_justify="left")
    for index, c in enumerate(curves):
        val = _num(float(c.val_loss[-1]), 4) if c.val_loss is not None else "-"
        table.add_row(Text(c.name, style=_run_style(index)), str(len(c.epochs)), _value(c.best_epoch),
                      _num(float(c.train_loss[-1])), val, f"{c.metric_label} {_num(float(c.metric[-1]))}")
    return table


def curves_view(curves: Sequence[Curves], width: int = 60, height: int = 12) -> Group:
    """Everything ``nnctl plot`` shows in the terminal."""
    parts: list[Any] = [loss_chart(curves, width, height)]
    for chart in metric_charts(curves, width, height):
        parts += [Text(""), chart]
    parts += [Text(""), curves_table(curves)]
    return Group(*parts)
