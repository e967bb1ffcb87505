"""``nnctl data describe``: one row per column of a CSV file."""

from __future__ import annotations

from rich.table import Table

from nnctl.views.text import plain


def describe_table(reports, title: str) -> Table:
    """``nnctl data describe``: one row per column (prep.describe.ColumnReport)."""
    table = Table("column", "type", "missing", "distinct", "values", "with features: all", title=title,
                  title_justify="left")
    for r in reports:
        if r.type == "numeric":
            values = f"{r.min:.4g} .. {r.max:.4g}, mean {r.mean:.4g}"
        else:  # a category may hold a line break: shown as \n, so that each row stays a row
            values = ", ".join(f"{text} ({count})" for text, count in r.top)
        use = r.use + (f": {r.why}" if r.why else "")
        table.add_row(plain(r.name), r.type, str(r.missing), str(r.distinct), plain(values), plain(use))
    return table
