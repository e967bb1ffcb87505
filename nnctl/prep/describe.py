"""``nnctl data describe``: one row per column of a table, and what ``features: all`` would do with it.

Pure: parsed columns in, plain data out; the same rules as training (columns.py),
so what it says a column becomes is what ``nnctl train`` makes of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nnctl.prep.columns import AUTO, CATEGORICAL, ParsedColumn, plan_column, top_categories

TOP = 3  # categories shown per text column


@dataclass(frozen=True)
class ColumnReport:
    name: str
    type: str  # numeric, text, or empty (every cell missing)
    missing: int  # cells that are missing
    distinct: int  # distinct values among the others
    min: float | None = None  # numeric columns
    mean: float | None = None
    max: float | None = None
    top: tuple[tuple[str, int], ...] = ()  # text columns: the most frequent values and their counts
    use: str = ""  # what features: all does with it: used, one-hot with k slots, excluded, refused
    why: str = ""  # why a column is excluded or refused


def describe_column(column: ParsedColumn, target: Sequence[str], max_categories: int = 50,
                    na_values: Sequence[str] = (), lines: Sequence[int] | None = None) -> ColumnReport:
    """What a column holds and what training with ``features: all`` (and ``categorical: auto``) does with it;
    ``lines``: each cell's line in its file, to name where a problem is."""
    missing = int(column.missing.sum())
    present = ~column.missing
    kind = "empty" if not present.any() else "text" if column.text.any() else "numeric"
    values = column.values[present]
    if kind == "numeric":
        report = dict(distinct=len(np.unique(values)), min=float(values.min()), mean=float(values.mean()),
                      max=float(values.max()))
    else:
        texts = column.categories()[present]
        report = dict(distinct=len(set(texts)), top=tuple(top_categories(texts, TOP)))
    if column.name in target:
        use, why = "target", ""
    else:
        plan = plan_column(column, AUTO, na_values)
        if plan.kind is None:
            at = "" if plan.row is None else f"line {lines[plan.row]}: " if lines else f"row {plan.row + 1}: "
            use, why = "refused", at + plan.problem
        elif plan.kind == CATEGORICAL:
            slots = min(report["distinct"], max_categories) + (1 if missing else 0)
            use, why = f"one-hot, {slots} slot{'' if slots == 1 else 's'}", "" if report["distinct"] <= max_categories else \
                f"the {report['distinct'] - max_categories + 1} rarest values share one '(other)' slot"
        elif _row_numbers(values, len(column.cells)):
            use, why = "used", "every value a distinct whole number: a row number or an ID? add it to data.exclude"
        else:
            use, why = "used", "missing cells get the training median" if missing else ""
    return ColumnReport(column.name, kind, missing, use=use, why=why, **report)


def _row_numbers(values: np.ndarray, n_cells: int) -> bool:
    """Whether a numeric column's values are all distinct whole numbers, one per row, as IDs are."""
    return n_cells >= 20 and len(values) == n_cells and bool(np.all(values == np.round(values))) \
        and len(np.unique(values)) == n_cells
