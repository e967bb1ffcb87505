"""``nnctl importance``: each column's permutation importance as a ranked table of bars."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from nnctl.files import display_path
from nnctl.importance import Importance
from nnctl.views.text import plain

BAR_WIDTH = 30  # characters of the longest bar


def importance_table(found: Importance) -> Table:
    """Columns ranked by the metric's mean drop when shuffled, with its spread and a bar."""
    metric = "accuracy" if found.metric == "accuracy" else "R^2"
    title = (f"permutation importance: drop of {metric} ({found.baseline:.4f} on {found.rows} rows of "
             f"{display_path(found.data)}) when a column is shuffled, mean +- std over {found.repeats} shuffles")
    table = Table("rank", "column", f"{metric} drop", "+- std", "", title=title, title_justify="left")
    largest = max([abs(c.mean) for c in found.columns] + [1e-12])
    for rank, c in enumerate(found.columns, start=1):
        length = round(BAR_WIDTH * max(c.mean, 0.0) / largest)
        bar = Text("█" * length, style="green") if c.mean > 0 else Text("·", style="dim")
        table.add_row(str(rank), plain(c.column), f"{c.mean:.4f}", f"{c.std:.4f}", bar)
    return table


def importance_caption() -> Text:
    return Text("a column the model does not use reads about 0; a negative mean: shuffling it helped by chance",
                style="dim")
