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
