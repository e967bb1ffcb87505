"""``nnctl evaluate``: a checkpoint's figures on labelled rows."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from nnctl.evaluation import Evaluation
from nnctl.files import display_path
from nnctl.views.text import baselines_lines, confusion_table, metrics_table, note_text, plain

def evaluation_header(ev: Evaluation) -> Text:
    epoch = f" (epoch {ev.epoch})" if ev.epoch is not None else ""
    return Text(f"{ev.rows} row{'s' if ev.rows != 1 else ''} of {display_path(ev.data)} scored with "
                f"{display_path(ev.checkpoint)}{epoch}")


def per_class_table(ev: Evaluation) -> Table:
    """Precision, recall, F1 and support of each class, and their macro averages (0/0 counts as 0)."""
    table = Table("class", "precision", "recall", "F1", "support", title="per class", title_justify="left")
    for s in ev.per_class:
        table.add_row(plain(str(s.label)), f"{s.precision:.4f}", f"{s.recall:.4f}", f"{s.f1:.4f}", str(s.support))
    m = ev.metrics
    table.add_row("macro average", f"{m['macro_precision']:.4f}", f"{m['macro_recall']:.4f}", f"{m['macro_f1']:.4f}",
                  str(sum(s.support for s in ev.per_class)), style="bold")
    return table


def per_target_table(ev: Evaluation) -> Table:
    """MSE, RMSE, MAE and R^2 of each target, and over all targets."""
    table = Table("target", "MSE", "RMSE", "MAE", "R^2", title="per target", title_justify="left")
    for s in ev.per_target:
        table.add_row(plain(s.name), f"{s.mse:.4f}", f"{s.rmse:.4f}", f"{s.mae:.4f}", f"{s.r2:.4f}")
    m = ev.metrics
    table.add_row("all targets", f"{m['mse']:.4f}", f"{m['rmse']:.4f}", f"{m['mae']:.4f}", f"{m['r2']:.4f}",
                  style="bold")
    return table


def evaluation_view(ev: Evaluation) -> Group:
    """Everything ``nnctl evaluate`` shows: the metrics, then the confusion matrix and per-class
    table (classification) or the per-target table (regression, when there are several targets)."""
    parts: list[Any] = [evaluation_header(ev)]
    if ev.ignored_columns:
        parts.append(note_text(f"ignored columns not used by the model: {', '.join(ev.ignored_columns)}"))
    parts.append(metrics_table(ev.metrics))
    if ev.task == "classification":
        parts += [confusion_table(ev.confusion, ev.classes), per_class_table(ev)]
    elif len(ev.per_target) > 1:
        parts.append(per_target_table(ev))
    if ev.baselines is not None:
        parts += [Text(line) for line in baselines_lines(ev.baselines)]
    parts += [note_text(note) for note in ev.notes]
    return Group(*parts)
