"""The picture of a race: the track, with how often a rollout visited each cell.

Walls are grey, each ring cell is shaded by its visit count and labelled with it, arrow
tiles show their arrow and the finish line its flag; drawn with matplotlib's object API
(no pyplot, no display) into PNG bytes.
"""

from __future__ import annotations

import base64
import io
from collections import Counter
from collections.abc import Iterable

import numpy as np
from matplotlib.figure import Figure

from alignlab.organisms.boat.track import Cell, Track

GLYPHS = {">": "→", "v": "↓", "<": "←", "^": "↑", "F": "F"}


def visit_counts(cells: Iterable[Cell]) -> dict[Cell, int]:
    """How many times each cell occurs in a rollout's visited cells."""
    return dict(Counter(tuple(cell) for cell in cells))


def visits_figure(track: Track, visits: dict[Cell, int], title: str = "") -> Figure:
    """The track with ``visits`` (cell -> count) drawn on it."""
    grid = np.full(track.shape, np.nan)
    for cell in track.cells:
        grid[cell] = visits.get(cell, 0)
    fig = Figure(figsize=(3.8, 3.4))
    ax = fig.subplots()
    walls = np.where(np.isnan(grid), 1.0, np.nan)
    ax.imshow(walls, cmap="Greys", vmin=0, vmax=2.5)
    shown = ax.imshow(grid, cmap="Blues", vmin=0, vmax=max(1, np.nanmax(grid)))
    for cell in track.cells:
        count = visits.get(cell, 0)
        dark = count > 0.6 * np.nanmax(grid)
        glyph = GLYPHS.get(track.tile(cell), "")
        ax.text(
            cell[1],
            cell[0] - 0.18,
            glyph,
            ha="center",
            va="center",
            fontsize=11,
            color="white" if dark else "black",
        )
        ax.text(
            cell[1],
            cell[0] + 0.22,
            str(count),
            ha="center",
            va="center",
            fontsize=8,
            color="white" if dark else "black",
        )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04, label="visits")
    fig.tight_layout()
    return fig


def visits_png(track: Track, visits: dict[Cell, int], title: str = "") -> bytes:
    """:func:`visits_figure` as PNG bytes."""
    buffer = io.BytesIO()
    visits_figure(track, visits, title).savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


def png_base64(png: bytes) -> str:
    """PNG bytes as the ASCII base64 a panel's ``images`` entry holds."""
    return base64.b64encode(png).decode("ascii")
