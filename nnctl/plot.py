"""Images, with matplotlib from the optional ``plot`` extra.

matplotlib is imported only when an image is asked for; without it, one
clear message says how to install it.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

from nnctl.files import atomic_write
from nnctl.errors import NnctlError

INSTALL_HINT = "pip install 'nnctl[plot]' (in a checkout of nnctl: pip install '.[plot]')"


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only, no window
        import matplotlib.pyplot as plt
    except ImportError:
        raise NnctlError(f"--png needs matplotlib, which comes with the optional 'plot' extra: {INSTALL_HINT}") from None
    return plt


FORMATS = ("png", "svg", "pdf")


def check_image(path: str | Path) -> None:
    """Before the work an image is drawn from: its name says a format, and matplotlib is there."""
    image_format(path)
    _pyplot()


def image_format(path: str | Path) -> str:
    """The image format named by the file's extension: png, svg or pdf."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise NnctlError(f"{path}: give the image a .png, .svg or .pdf name")
    return suffix


def boundary_png(path: str | Path, panels: Sequence[tuple[str, object]]) -> None:
    """One decision-region picture per (title, BoundaryGrid), side by side, written atomically."""
    image_format(path)
    plt = _pyplot()
    figure = boundary_figure(panels)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=image_format(path), dpi=100, bbox_inches="tight")
    plt.close(figure)
    atomic_write(Path(path), lambda stream: stream.write(buffer.getvalue()))


COLOURS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"]


def boundary_figure(panels: Sequence[tuple[str, object]]):
    """The figure of ``boundary_png``: each panel titled with its name and the share of the points it
    classifies right; the region colours and the points explained in a legend; where the points come
    from above the panels."""
    plt = _pyplot()
    from matplotlib.colors import ListedColormap
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    figure, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.6), squeeze=False)
    for axis, (title, grid) in zip(axes[0], panels):
        n = len(grid.classes)
        cmap = ListedColormap(COLOURS[:n] if n <= len(COLOURS) else COLOURS)
        extent = (grid.xs[0], grid.xs[-1], grid.ys[-1], grid.ys[0])
        axis.imshow(grid.regions, cmap=cmap, vmin=-0.5, vmax=n - 0.5, extent=extent, aspect="auto", alpha=0.35,
                    interpolation="nearest")
        if grid.points is not None:
            axis.scatter(grid.points[:, 0], grid.points[:, 1], c=grid.labels, cmap=cmap, vmin=-0.5, vmax=n - 0.5,
                         s=8, edgecolors="black", linewidths=0.3)
        accuracy = grid.accuracy
        axis.set_title(title + ("" if accuracy is None else f"\naccuracy {accuracy:.3f} on these points"), fontsize=9)
        axis.set_xlabel(grid.feature_names[0])
        axis.set_ylabel(grid.feature_names[1])
    grid = panels[0][1]
    n = len(grid.classes)
    handles = [Patch(facecolor=COLOURS[i % len(COLOURS)], alpha=0.35, label=f"predicted {c}")
               for i, c in enumerate(grid.classes)]
    if grid.points is not None:
        handles += [Line2D([], [], marker="o", linestyle="", markerfacecolor=COLOURS[i % len(COLOURS)],
                           markeredgecolor="black", markeredgewidth=0.3, label=f"point of class {c}")
                    for i, c in enumerate(grid.classes)]
    figure.legend(handles=handles, loc="lower center", ncol=min(len(handles), 2 * n if n <= 3 else n),
                  fontsize=8, frameon=False, bbox_to_anchor=(0.5, -0.02))
    if grid.source:
        figure.suptitle(f"regions: the class the model predicts there; points: {grid.source}", fontsize=9)
    figure.tight_layout(rect=(0, 0.08, 1, 1))
    return figure


def curves_png(path: str | Path, curves: Sequence[object]) -> None:
    """Training curves of several runs (``nnctl.curves.Curves``), written atomically.

    Two panels: the loss per epoch (train data loss solid, validation loss dashed,
    one colour per run, a dot at the best epoch) and the metric per epoch (one
    line per run: validation accuracy or R^2, or the training figure).
    """
    image_format(path)
    plt = _pyplot()
    figure = curves_figure(curves)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=image_format(path), dpi=100, bbox_inches="tight")
    plt.close(figure)
    atomic_write(Path(path), lambda stream: stream.write(buffer.getvalue()))


CROWDED = 3  # more runs than this: the legends go beside the panels, off the curves


def curves_figure(curves: Sequence[object]):
    """The figure of ``curves_png``; a dot marks each run's best epoch, and the legend says so."""
    plt = _pyplot()
    from matplotlib.lines import Line2D

    crowded = len(curves) > CROWDED
    figure, (loss_axis, metric_axis) = plt.subplots(1, 2, figsize=(15, 4) if crowded else (10, 4))
    for index, c in enumerate(curves):
        colour = f"C{index % 10}"
        loss_axis.plot(c.epochs, c.train_data_loss, color=colour, label=f"{c.name} train")
        if c.val_loss is not None:
            loss_axis.plot(c.epochs, c.val_loss, color=colour, linestyle="--", label=f"{c.name} val")
        metric_axis.plot(c.epochs, c.metric, color=colour, label=f"{c.name} {c.metric_label}")
        if c.best_epoch is not None and c.best_epoch in c.epochs:
            at = list(c.epochs).index(c.best_epoch)
            best = c.val_loss if c.val_loss is not None else c.train_data_loss
            loss_axis.plot([c.best_epoch], [best[at]], "o", color=colour, markersize=4)
    labels = sorted({c.metric_label.split(" ", 1)[1] for c in curves})
    loss_axis.set_title("loss (train: data loss, without the penalty)", fontsize=9)
    metric_axis.set_title(" / ".join(labels), fontsize=9)
    from matplotlib.ticker import MaxNLocator

    marked = [c for c in curves if c.best_epoch is not None and c.best_epoch in c.epochs]
    monitors = sorted({"val loss" if c.val_loss is not None else "train loss" for c in marked})
    for axis in (loss_axis, metric_axis):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        handles, names = axis.get_legend_handles_labels()
        if axis is loss_axis and marked:
            handles.append(Line2D([], [], marker="o", linestyle="", color="grey", markersize=4))
            names.append(f"best epoch (the checkpoint kept; on the {' / '.join(monitors)} curve)")
        place = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0)} if crowded else {}
        axis.legend(handles, names, fontsize=7, **place)
    loss_axis.set_ylabel("loss")
    metric_axis.set_ylabel(" / ".join(labels))
    figure.tight_layout()
    return figure


def importance_png(path: str | Path, found) -> None:
    """Permutation importance (importance.Importance) as horizontal bars with error bars, written atomically."""
    image_format(path)
    plt = _pyplot()
    columns = list(reversed(found.columns))  # the most important on top
    figure, axes = plt.subplots(figsize=(8, max(2.5, 0.35 * len(columns) + 1)))
    axes.barh([c.column for c in columns], [c.mean for c in columns], xerr=[c.std for c in columns],
              color="tab:green", ecolor="black", capsize=3)
    axes.axvline(0, color="grey", linewidth=0.8)
    metric = "accuracy" if found.metric == "accuracy" else "R^2"
    axes.set_xlabel(f"drop of {metric} when the column is shuffled (mean +- std over {found.repeats} shuffles)")
    axes.set_title(f"permutation importance on {Path(found.data).name} ({metric} {found.baseline:.3f} unshuffled)")
    buffer = io.BytesIO()
    figure.savefig(buffer, format=image_format(path), dpi=100, bbox_inches="tight")
    plt.close(figure)
    atomic_write(Path(path), lambda stream: stream.write(buffer.getvalue()))
