"""``nnctl plot``: training curves as line charts drawn with characters.

Each series has a marker of its own, so plain text (a log) tells the series apart without colour.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text

from nnctl.curves import Curves
from nnctl.views.text import fixed, shown, significant

MARKERS = "ox+*#@%&=~"  # one per series; in plain text the marker tells the series apart
MEET = "•"  # a cell where several series meet: none hides another
RUN_STYLES = ["blue", "red", "green", "magenta", "cyan", "yellow"]  # one colour per run


def line_chart(series: Sequence[tuple[str, np.ndarray, np.ndarray]], width: int = 60, height: int = 12,
               title: str = "", styles: Sequence[str | None] | None = None, x_label: str = "epoch") -> Text:
    """Several (label, xs, ys) series on one grid of ``height`` rows x ``width`` columns of cells.

    Each series gets a marker of ``MARKERS`` (in order).  A column that holds
    points of a series marks the span of their values (so a spike or the minimum
    is never lost when there are more epochs than columns); a column between points
    marks the line between them; a jump from one column to the next is filled in,
    so a steep fall reads as a line.
    A cell that several series pass through shows ``MEET``, so no series hides another.  The y axis is
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
    owner = np.full((height, width), -1)  # the series drawn in each cell; -2 where several meet

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
                if owner[r, column] in (-1, index):
                    cells[r][column], owner[r, column] = (mark, style), index
                else:  # in the colour of the run when the series met are one run's (train and val loss)
                    shared = style if cells[r][column][1] == style else None
                    cells[r][column], owner[r, column] = (MEET, shared), -2
            previous = rows[-1]

    labels = {0: significant(y_hi), (height - 1) // 2: significant((y_hi + y_lo) / 2), height - 1: significant(y_lo)}
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
    first, last = significant(x_lo, 6), significant(x_hi, 6)
    text.append(" " * (pad + 2) + first + last.rjust(width - len(first)) + f"  {x_label}")
    return text


def chart_legend(labels: Sequence[str], styles: Sequence[str | None] | None = None) -> Text:
    """'o label   x label ...': each series' marker and what it is (and, with several, ``MEET``)."""
    styles = list(styles) if styles is not None else [None] * len(labels)
    text = Text()
    for index, (label, style) in enumerate(zip(labels, styles)):
        if index:
            text.append("   ")
        text.append(MARKERS[index % len(MARKERS)], style=style)
        text.append(f" {shown(label)}")
    if len(labels) > 1:
        text.append(f"   {MEET} where lines meet")
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
        val = significant(float(c.val_loss[-1]), 4) if c.val_loss is not None else "-"
        table.add_row(Text(shown(c.name), style=_run_style(index)), str(len(c.epochs)), fixed(c.best_epoch, 0),
                      significant(float(c.train_loss[-1])), val, f"{c.metric_label} {significant(float(c.metric[-1]))}")
    return table


def curves_view(curves: Sequence[Curves], width: int = 60, height: int = 12) -> Group:
    """Everything ``nnctl plot`` shows in the terminal."""
    parts: list[Any] = [loss_chart(curves, width, height)]
    for chart in metric_charts(curves, width, height):
        parts += [Text(""), chart]
    parts += [Text(""), curves_table(curves)]
    return Group(*parts)
