"""``nnctl boundary`` (and ``sweep-hidden --boundary``): decision regions drawn with characters."""

from __future__ import annotations

from rich.text import Text

from nnctl.views.text import shown

REGION_STYLES = ["on blue", "on red", "on green", "on magenta", "on cyan", "on yellow"]
POINT_STYLES = ["bold bright_white on blue", "bold bright_white on red", "bold bright_white on green",
                "bold bright_white on magenta", "bold bright_white on cyan", "bold black on yellow"]
REGION_CHARS = ".:-=~'"  # in plain text the region of each class is a pattern of its own
POINT_CHARS = "oxv^*#"


def _style(styles: list[str], index: int) -> str:
    return styles[index % len(styles)]


def boundary_text(grid) -> Text:
    """The predicted class of every grid cell, with the data points on top.

    A cell's background colour (and, without colour, its character) shows the
    predicted class; a point's character shows its true class, so a point of
    one class inside the other's region is misclassified.
    """
    from nnctl.boundary import cell_of

    height, width = grid.regions.shape
    chars = [[REGION_CHARS[c % len(REGION_CHARS)] for c in row] for row in grid.regions]
    point_class = {}
    if grid.points is not None:
        for point, label in zip(grid.points, grid.labels):
            row, column = cell_of(grid, point)
            chars[row][column] = POINT_CHARS[label % len(POINT_CHARS)]
            point_class[(row, column)] = label
    text = Text()
    for r in range(height):
        for c in range(width):
            predicted = grid.regions[r, c]
            style = _style(POINT_STYLES if (r, c) in point_class else REGION_STYLES, predicted)
            text.append(chars[r][c], style=style)
        if r < height - 1:
            text.append("\n")
    return text


def boundary_legend(grid) -> Text:
    parts = []
    for index, label in enumerate(grid.classes):
        parts.append(f"class {shown(label)}: region '{REGION_CHARS[index % len(REGION_CHARS)]}' "
                     f"points '{POINT_CHARS[index % len(POINT_CHARS)]}'")
    axes = (f"{shown(grid.feature_names[0])} {grid.xs[0]:.2f} .. {grid.xs[-1]:.2f} across, "
            f"{shown(grid.feature_names[1])} {grid.ys[-1]:.2f} .. {grid.ys[0]:.2f} up")
    return Text("; ".join(parts) + "\n" + axes)


def boundary_panel(grid, title: str):
    from rich.panel import Panel

    return Panel(boundary_text(grid), title=title, expand=False, padding=0)
