"""``nnctl inspect``: the network's columns of units, its parameters, weight statistics and metadata.

The drawing of the network uses characters that tell things apart without colour, so logs read
the same.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from nnctl.files import display_path
from nnctl.inspection import SMALL, ArrayStats, Inspection
from nnctl.views.text import shown, significant

BIAS = "[1]"  # the bias unit: a constant 1, whose weights are the next layer's b
MAX_UNITS = 6  # a wider layer shows its first MAX_UNITS - 2 units, "...", and its last
NAME_WIDTH = 12  # longer unit names are cut with "~"


def _unit(name: str) -> str:
    name = shown(name)
    return f"({name if len(name) <= NAME_WIDTH else name[: NAME_WIDTH - 1] + '~'})"


def _shown(names: list[str], max_units: int) -> list[str]:
    if len(names) <= max_units:
        return [_unit(n) for n in names]
    return [_unit(n) for n in names[: max_units - 2]] + ["...", _unit(names[-1])]


def _columns(ins: Inspection, max_units: int) -> list[tuple[str, str, list[str]]]:
    """(title, subtitle, cells) of each layer of units, input to output."""
    sizes = ins.layer_sizes
    columns = [("input", f"{sizes[0]} + bias", _shown(ins.feature_names, max_units) + [BIAS])]
    for l, (size, activation, layer) in enumerate(zip(sizes[1:-1], ins.activations[:-1], ins.layers), start=1):
        units = [f"h{j}" for j in range(1, size + 1)]
        dropped = f", dropout {significant(layer.dropout)}" if layer.dropout else ""
        columns.append((f"hidden {l}", f"{size} {activation} + bias{dropped}", _shown(units, max_units) + [BIAS]))
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


def architecture_legend(ins: Inspection | None = None) -> Text:
    text = (f"{BIAS} is the bias unit, a constant 1; its weights are the next layer's b, so a layer of n inputs "
            f"and m outputs holds (n + 1) x m parameters")
    if ins is not None and any(layer.dropout for layer in ins.layers):
        text += ("; dropout p: in each training step a share p of the layer's outputs is set to 0 and the rest "
                 "scaled by 1 / (1 - p); predictions use every unit")
    return Text(text, style="dim")


def _share(value: float) -> str:
    return f"{100 * value:.1f}%"


def parameters_table(ins: Inspection) -> Table:
    """Per layer: inputs + bias -> outputs, activation, (dropout,) weights, biases and parameters."""
    dropout = any(layer.dropout for layer in ins.layers)
    table = Table("layer", "inputs + bias -> outputs", "activation", *(["dropout (training)"] if dropout else []),
                  "weights W", "biases b", "parameters",
                  title="parameters: (inputs + 1) x outputs per layer", title_justify="left")
    for layer in ins.layers:
        output = layer.index == len(ins.layers)  # the output layer drops nothing
        rate = ["-" if output else significant(layer.dropout)] if dropout else []
        table.add_row(str(layer.index), f"{layer.inputs} + 1 -> {layer.outputs}", layer.activation, *rate,
                      f"{layer.inputs}x{layer.outputs} = {layer.inputs * layer.outputs}", str(layer.outputs),
                      str(layer.parameters))
    table.add_row("total", "", "", *([""] if dropout else []), "", "", str(ins.parameters), style="bold")
    return table


def weight_stats_table(ins: Inspection) -> Table:
    """Mean, std, min, max and the shares of zeros and near-zeros of each W and b."""
    table = Table("array", "count", "mean", "std", "min", "max", "zeros", f"|w| < {SMALL:g}",
                  title="weight statistics (std over all entries, ddof=0)", title_justify="left")

    def row(name: str, s: ArrayStats) -> None:
        table.add_row(name, str(s.count), significant(s.mean), significant(s.std), significant(s.min), significant(s.max), _share(s.zeros),
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
    return Text(shown(value if isinstance(value, str) else _value(value)))


def _preprocessing_rows(pre: dict) -> list[tuple[str, str]]:
    """What the stored preprocessor does: fill values, one-hot slots, target scaling."""
    rows = []
    fills = [f"{c['name']} {significant(c['fill'])}" for c in pre.get("numeric", []) if c["fill"] is not None]
    if fills:
        rows.append(("missing numbers", "filled with " + "; ".join(fills)))
    for column in pre.get("categorical", []):
        slots = [*column["categories"], *(["(missing)"] if column["missing"] else []),
                 *(["(other)"] if column["other"] else [])]
        rows.append((f"one-hot {column['name']}", ", ".join(slots)))
    target = pre.get("target")
    if target:
        rows.append(("target scaling", "trained on (y - mean) / scale: " + "; ".join(
            f"mean {significant(m)} scale {significant(s)}" for m, s in zip(target["mean"], target["scale"]))))
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
        table.add_row(f"  {name.replace('_', ' ')}", significant(value))
    scaling = "; ".join(f"{name} mean {significant(m)} scale {significant(s)}"
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
    return Group(architecture_text(ins, max_units), architecture_legend(ins), Text(""), parameters_table(ins),
                 weight_stats_table(ins), metadata_table(ins), Text(""), config_table(ins))
