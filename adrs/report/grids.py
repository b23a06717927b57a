"""MAP-Elites cells laid out for a heat map: rows and columns from the problem's fixed bin edges.

Owns: turning an island's occupied cells into a matrix (NaN where a cell is empty) over the first
two features (a third and later feature is folded by keeping the best elite across it), and the
tick labels of a feature's bins. Pure Python, so the HTML page can use it without matplotlib.

Must not: draw or read the archive.
"""

from __future__ import annotations

from adrs.problem import Feature
from adrs.report.data import IslandGrid


def tick_labels(feature: Feature) -> list[str]:
    edges = [f"{edge:g}" for edge in feature.bins]
    return [f"<{edges[0]}"] + [f"{a}–{b}" for a, b in zip(edges, edges[1:], strict=False)] + [f"≥{edges[-1]}"]


def cell_matrix(grid: IslandGrid) -> tuple[list[list[float]], Feature, Feature | None]:
    """matrix[row][col]: row = cell of the second feature (one row if there is none), col = the first."""
    x_feature = grid.features[0]
    y_feature = grid.features[1] if len(grid.features) > 1 else None
    rows = y_feature.cells if y_feature is not None else 1
    matrix = [[float("nan")] * x_feature.cells for _ in range(rows)]
    for cell, score in grid.elite_scores.items():
        if any(index < 0 for index in cell):
            continue  # a program without a value for some descriptor has no place on the map
        col = cell[0]
        row = cell[1] if y_feature is not None else 0
        current = matrix[row][col]
        if current != current or score > current:  # NaN check: the cell is empty
            matrix[row][col] = score
    return matrix, x_feature, y_feature


def folded(grid: IslandGrid) -> bool:
    """Whether the heat map hides features beyond the first two."""
    return len(grid.features) > 2
