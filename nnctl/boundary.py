"""Decision boundaries: the class a network predicts at every point of a grid.

Only for classifiers of two features, where the plane is the whole input
space.  A perceptron's regions are split by a straight line; hidden units bend
it.  No printing and no drawing here: ``views.boundary.boundary_panel`` renders a
grid in the terminal and ``plot.boundary_png`` as an image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnctl.checkpoint import Checkpoint
from nnctl.core.losses import LOSSES
from nnctl.core.model import logits
from nnctl.prep.rows import model_rows
from nnctl.errors import NnctlError
from nnctl.files import display_path


@dataclass(frozen=True)
class BoundaryGrid:
    xs: np.ndarray  # (width,) first-feature value of each column
    ys: np.ndarray  # (height,) second-feature value of each row, top row first (largest)
    regions: np.ndarray  # (height, width) predicted class index per cell
    classes: list
    feature_names: tuple[str, str]
    points: np.ndarray | None  # (n, 2) data points in raw feature units
    labels: np.ndarray | None  # (n,) their true class indices
    predicted: np.ndarray | None = None  # (n,) the class the model gives each point
    source: str = ""  # the file the points come from

    @property
    def accuracy(self) -> float | None:
        """The share of the points the model classifies right (None without labelled points)."""
        if self.labels is None or self.predicted is None or not len(self.labels):
            return None
        return float(np.mean(self.predicted == self.labels))


def grid_document(grid: BoundaryGrid) -> dict:
    """The grid as plain data (``boundary --json``): the feature values of its columns and rows, the
    class predicted in each cell, and the points with their true classes and how many are right."""
    # The classes as the training file wrote them (numbers as numbers), as predict --json gives them.
    document = {"feature_names": list(grid.feature_names), "classes": list(grid.classes),
                "xs": grid.xs.tolist(), "ys": grid.ys.tolist(), "regions": grid.regions.tolist()}
    if grid.points is not None:
        document["points"] = grid.points.tolist()
        document["labels"] = grid.labels.tolist()
    return document


def check_drawable(ckpt: Checkpoint, where: str) -> None:
    """Refuse models whose decision regions are not a picture in the plane."""
    meta = ckpt.meta
    if meta["task"] != "classification":
        raise NnctlError(f"{where}: a decision boundary needs a classifier; this model does regression")
    if not ckpt.preprocessor.is_identity:
        raise NnctlError(f"{where}: a decision boundary is drawn in the plane of 2 numeric features; this model's "
                         f"inputs are {ckpt.preprocessor.summary()}")
    if meta["layer_sizes"][0] != 2:
        names = ", ".join(meta["feature_names"])
        raise NnctlError(f"{where}: a decision boundary is drawn for 2 features; this model has "
                         f"{meta['layer_sizes'][0]} ({names})")


def points_source(ckpt: Checkpoint, data: str | Path | None) -> str:
    """The file ``load_points`` reads: DATA, or the training file named in the checkpoint."""
    found = data if data is not None else (ckpt.meta.get("config") or {}).get("data", {}).get("train")
    return display_path(found) if found else ""


def load_points(ckpt: Checkpoint, data: str | Path | None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The rows of DATA (or of the training file named in the checkpoint, when it still exists)."""
    meta = ckpt.meta
    if data is None:
        train = (meta.get("config") or {}).get("data", {}).get("train")
        if not train or not Path(train).is_file():
            return None, None
        data = train
    found = model_rows(ckpt.preprocessor, data, tuple(meta["target_names"]), "classification",
                       tuple(meta["classes"]), meta["loss"])
    if found.y is None:  # points are drawn in their true class's colour: without classes, nothing to draw
        raise NnctlError(f"{data}: no column {', '.join(map(repr, meta['target_names']))} with the points' classes; "
                         "boundary draws labelled rows (leave DATA out to draw the training rows)")
    return found.scored(found.X), found.y


def predict_grid(ckpt: Checkpoint, points: np.ndarray | None, labels: np.ndarray | None,
                 width: int = 64, height: int = 24, margin: float = 0.1, source: str = "") -> BoundaryGrid:
    """Predicted classes over a ``height x width`` grid spanning the points (plus a margin),
    or, without points, 2.5 standard deviations of the training rows around their mean; also the
    class predicted for each point (``source``: the file they come from)."""
    if points is not None and len(points):
        low, high = points.min(axis=0), points.max(axis=0)
        pad = (high - low) * margin + 1e-9
        low, high = low - pad, high + pad
    else:
        low, high = ckpt.scaler.mean - 2.5 * ckpt.scaler.scale, ckpt.scaler.mean + 2.5 * ckpt.scaler.scale
    xs = np.linspace(low[0], high[0], width)
    ys = np.linspace(high[1], low[1], height)
    gx, gy = np.meshgrid(xs, ys)
    cells = np.column_stack([gx.ravel(), gy.ravel()])
    loss = LOSSES[ckpt.meta["loss"]]
    regions = loss.decide(_logits_at(ckpt, cells)).reshape(height, width)
    predicted = None if points is None or not len(points) else loss.decide(_logits_at(ckpt, points))
    names = tuple(ckpt.meta["feature_names"])
    return BoundaryGrid(xs, ys, regions, list(ckpt.meta["classes"]), (names[0], names[1]), points, labels, predicted,
                        source)


def _logits_at(ckpt: Checkpoint, X: np.ndarray) -> np.ndarray:
    return logits(ckpt.layers, ckpt.scaler.transform(X).astype(ckpt.layers[0].W.dtype))


def cell_of(grid: BoundaryGrid, point: np.ndarray) -> tuple[int, int]:
    """(row, column) of the grid cell nearest to a point."""
    column = int(np.clip(np.rint(np.interp(point[0], grid.xs, np.arange(len(grid.xs)))), 0, len(grid.xs) - 1))
    # ys decreases down the rows; interp needs increasing x, so flip it.
    row_from_bottom = np.interp(point[1], grid.ys[::-1], np.arange(len(grid.ys)))
    row = len(grid.ys) - 1 - int(np.clip(np.rint(row_from_bottom), 0, len(grid.ys) - 1))
    return row, column
