"""The neurons' picture: one tile per unit of a layer, in a grid, each labelled (``framed``'s frames)."""

from __future__ import annotations

import math
import textwrap

import numpy as np
import torch

from trainlab.pictures import draw
from trainlab.pictures.framed import (
    GREY,
    SMALL,
    TINY,
    Frame,
    Region,
    axes_at,
    fit_to_contents,
    new_figure,
    rgb,
    title_of,
)

TILE_LABEL_BAND = 13  # pixels above each tile for its label
TILE_GAP = (6, 4)  # pixels between tiles across, and between rows (above the label band)


def tile_layout(n_units: int, tile: int, columns: int) -> tuple[list[Region], int, int]:
    """Where each unit's tile of ``tile`` pixels goes in a grid of ``columns`` (fewer for
    fewer units), below its label band: the regions, and the grid's height and width."""
    columns = max(1, min(columns, n_units))
    rows = math.ceil(n_units / columns)
    across, down = TILE_GAP
    cell = TILE_LABEL_BAND + tile + down
    regions = []
    for j in range(n_units):
        row, column = divmod(j, columns)
        regions.append((row * cell + TILE_LABEL_BAND, column * (tile + across), tile, tile))
    return regions, rows * cell - down, columns * tile + (columns - 1) * across


def tile_grid(images: torch.Tensor, columns: int) -> torch.Tensor:
    """Tiles uint8 [n, 3, t, t] on white, as ``tile_layout`` places them: uint8 [3, H, W]."""
    n, _, tile, _ = images.shape
    regions, height, width = tile_layout(n, tile, columns)
    grid = torch.full((3, height, width), 255, dtype=torch.uint8)
    for (top, left, h, w), image in zip(regions, images, strict=True):
        grid[:, top : top + h, left : left + w] = image
    return grid


def neurons_frame(n_units: int, tile: int, columns: int, caption: str, placeholder: str, layer: int = 1) -> Frame:
    """The neurons' frame: a grid of tiles (``tile_layout``; its raster is ``tile_grid``'s),
    each labelled ``L<layer> u<unit>`` (units counted from 1) above it and with a hidden "dead"
    mark on it (``frame.dynamic[1 + j]`` for unit j: shown by the caller for dead units); the
    title (``frame.dynamic[0]``) and a ``caption`` below."""
    regions, height, width = tile_layout(n_units, tile, columns)
    fig = new_figure(width + 100, height + 150)
    ax = axes_at(fig, 50, 75, width, height)
    blank = np.full((height, width, 3), 255, dtype=np.uint8)
    image = ax.imshow(blank, extent=(0, width, height, 0), aspect="auto", interpolation="nearest", origin="upper")
    dead_marks = []
    for j, (top, left, h, w) in enumerate(regions):
        ax.text(left, top - 2, f"L{layer} u{j + 1}", fontsize=TINY, ha="left", va="bottom", color=rgb(draw.DARK))
        mark = ax.text(left + w / 2, top + h / 2, "dead", fontsize=SMALL, ha="center", va="center",
                       color=rgb(draw.DARK), fontweight="bold", visible=False)  # fmt: skip
        dead_marks.append(mark)
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_axis_off()
    wrapped = "\n".join(textwrap.wrap(caption, max(24, int(width / 4.4))))
    ax.text(0, height + 4, wrapped, fontsize=TINY, ha="left", va="top", color=GREY)
    title = title_of(ax, placeholder)
    fit_to_contents(fig)
    title.set_text("")
    return Frame(fig, [image], [title, *dead_marks], [regions])
