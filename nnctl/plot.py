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

INSTALL_HINT = "pip install 'nnctl[plot]'"


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only, no window
        import matplotlib.pyplot as plt
    except ImportError:
        raise NnctlError(f"--png needs matplotlib, which comes with the optional 'plot' extra: {INSTALL_HINT}") from None
    return plt


FORMATS = ("png", "svg", "pdf")


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
    from matplotlib.colors import ListedColormap

    colours = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"]
    figure, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.2), squeeze=False)
    for axis, (title, grid) in zip(axes[0], panels):
        n = len(grid.classes)
        cmap = ListedColormap(colours[:n] if n <= len(colours) else colours)
        extent = (grid.xs[0], grid.xs[-1], grid.ys[-1], grid.ys[0])
        axis.imshow(grid.regions, cmap=cmap, vmin=-0.5, vmax=n - 0.5, extent=extent, aspect="auto", alpha=0.35,
                    interpolation="nearest")
        if grid.points is not None:
            axis.scatter(grid.points[:, 0], grid.points[:, 1], c=grid.labels, cmap=cmap, vmin=-0.5, vmax=n - 0.5,
                         s=8, edgecolors="black", linewidths=0.3)
        axis.set_title(title, fontsize=9)
        axis.set_xlabel(grid.feature_names[0])
        axis.set_ylabel(grid.feature_names[1])
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format=image_format(path), dpi=100)
    plt.close(figure)
    atomic_write(Path(path), lambda stream: stream.write(buffer.getvalue()))


def curves_png(path: str | Path, curves: Sequence[object]) -> None:
    """Training curves of several runs (``nnctl.curves.Curves``), written atomically.

    Two panels: the loss per epoch (train data loss solid, validation loss dashed,
    one colour per run, a dot at the best epoch) and the metric per epoch (one
    line per run: validation accuracy or R^2, or the training figure).
    """
    image_format(path)
    plt = _pyplot()
    figure, (loss_axis, metric_axis) = plt.subplots(1, 2, figsize=(10, 4))
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

    for axis in (loss_axis, metric_axis):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    loss_axis.set_ylabel("loss")
    metric_axis.set_ylabel(" / ".join(labels))
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format=image_format(path), dpi=100)
    plt.close(figure)
    atomic_write(Path(path), lambda stream: stream.write(buffer.getvalue()))
