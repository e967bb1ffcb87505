"""What several commands show alike: numbers, notes and errors, metric and confusion tables."""

from __future__ import annotations

from typing import Any, Sequence

from rich.table import Table
from rich.text import Text


def fixed(value: float | None, digits: int = 4) -> str:
    """A figure with ``digits`` decimals ('0.9825'); '-' when there is none; from 1e15 on, in
    powers of ten ('5e+299'), not three hundred digits."""
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if not abs(value) >= 1e15 else f"{value:.{digits}g}"


def significant(value: float | None, digits: int = 4) -> str:
    """A number with ``digits`` significant digits ('0.7006', '-1.25e-05', '3'); '-' when there is none.
    A negative zero (a dropped unit's -0.25 * 0) reads 0."""
    return "-" if value is None else f"{float(value) + 0.0:.{digits}g}"


CONTROLS = {**{code: f"\\x{code:02x}" for code in (*range(32), *range(127, 160))},
            ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}


def shown(value: Any) -> str:
    """Text from a data file or a checkpoint as it may be shown: control characters written as
    escapes (``\\x1b``, ``\\n``), so a class label or a column name cannot move the cursor, change
    colours or the title of a terminal, or break a table's row in two."""
    return str(value).translate(CONTROLS)


def plain(value: Any) -> Text:
    """A table cell shown as written: names from files are never read as Rich markup, and their
    control characters are escaped (``shown``)."""
    return Text(shown(value))


def metrics_table(values: dict[str, float], title: str = "metrics") -> Table:
    table = Table("metric", "value", title=title, title_justify="left")
    for name, value in values.items():
        table.add_row(name, fixed(value))
    return table


def confusion_table(matrix, classes: Sequence) -> Table:
    """Rows: true class; columns: predicted class."""
    table = Table("true \\ predicted", title="confusion matrix", title_justify="left")
    for c in classes:
        table.add_column(plain(c))
    for label, row in zip(classes, matrix):
        table.add_row(plain(label), *(str(int(count)) for count in row))
    return table


def error_text(message: str) -> Text:
    return Text(f"error: {shown(message)}", style="bold red")


def note_text(message: str) -> Text:
    return Text(f"note: {shown(message)}", style="yellow")


def baselines_lines(found) -> list[str]:
    """The network's figure beside the constant guess and the linear model (baselines.Baselines), and the verdict."""
    name = "accuracy" if found.metric == "accuracy" else "R^2"
    parts = [f"{found.constant_name} {found.constant:.4f}"]
    if found.hidden:
        linear = "-" if found.linear is None else f"{found.linear:.4f}"
        epochs = f"{found.linear_epochs} epoch{'s' if found.linear_epochs != 1 else ''}"
        parts.append(f"linear model {linear} (model.hidden: [], {epochs})")
    parts.append(f"this network {found.network:.4f}")
    return [f"baselines ({name} on the {found.on} rows): {', '.join(parts)}", found.verdict()]
