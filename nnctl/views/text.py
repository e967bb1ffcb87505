"""What several commands show alike: numbers, notes and errors, metric and confusion tables."""

from __future__ import annotations

from typing import Any, Sequence

from rich.table import Table
from rich.text import Text


def fixed(value: float | None, digits: int = 4) -> str:
    """A figure with ``digits`` decimals ('0.9825'); '-' when there is none."""
    return "-" if value is None else f"{value:.{digits}f}"


def significant(value: float | None, digits: int = 4) -> str:
    """A number with ``digits`` significant digits ('0.7006', '-1.25e-05', '3'); '-' when there is none."""
    return "-" if value is None else f"{float(value):.{digits}g}"


def plain(value: Any) -> Text:
    """A table cell shown as written: names from files are never read as Rich markup."""
    return Text(str(value))


def metrics_table(values: dict[str, float], title: str = "metrics") -> Table:
    table = Table("metric", "value", title=title, title_justify="left")
    for name, value in values.items():
        table.add_row(name, f"{value:.4f}")
    return table


def confusion_table(matrix, classes: Sequence) -> Table:
    """Rows: true class; columns: predicted class."""
    table = Table("true \\ predicted", *(str(c) for c in classes), title="confusion matrix", title_justify="left")
    for label, row in zip(classes, matrix):
        table.add_row(str(label), *(str(int(count)) for count in row))
    return table


def error_text(message: str) -> Text:
    return Text(f"error: {message}", style="bold red")


def note_text(message: str) -> Text:
    return Text(f"note: {message}", style="yellow")
