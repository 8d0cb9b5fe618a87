"""matplotlib frames around the torch rasters: axes in the data's units, legend, titles.

A picture drawn every few epochs has to stay cheap, and a matplotlib draw of a labelled
figure costs tens of milliseconds (ticks, text, image resampling). So a ``Frame`` draws the
figure's static parts once (axes, ticks, axis labels, legend, colour bar, tile labels) into
a background; each picture then restores that background, pastes its rasters pixel for pixel
into their boxes (no resampling) and draws only what changes (the title, the dead-unit marks).

The Figure stays complete and current: its images hold the latest rasters and its texts the
latest words, so ``Frame.fig.savefig`` draws the same picture, and tests read its labels.
matplotlib is imported when a frame is first built, never at ``import trainlab``; no pyplot
(no global figure registry): each Figure has its own Agg canvas.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from trainlab.pictures import draw
from trainlab.pictures.labels import PlaneLabels

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.image import AxesImage

DPI = 100
FONT = 9  # axis labels, titles
SMALL = 8  # ticks, legends
TINY = 7  # tile labels, captions
PAD = 6  # white pixels around everything drawn
GREY = (0.45, 0.45, 0.45)


def rgb(colour: tuple[int, int, int]) -> tuple[float, ...]:
    return tuple(c / 255 for c in colour)


Region = tuple[int, int, int, int]  # top, left, height, width in pixels


class Frame:
    """A matplotlib Figure with raster ``images`` (AxesImages, each over a box of whole pixels
    the size of its raster) and ``dynamic`` artists (drawn at every ``render``, over the rasters;
    the others are drawn once, into the background). ``windows``, per image: the regions of
    its raster that are pasted (None: all of it); the background shows elsewhere."""

    def __init__(
        self,
        fig: Figure,
        images: Sequence[AxesImage],
        dynamic: Sequence[Artist],
        windows: Sequence[Sequence[Region] | None] | None = None,
    ) -> None:
        self.fig = fig
        self.images = list(images)
        self.dynamic = list(dynamic)
        self.windows = list(windows) if windows is not None else [None] * len(self.images)
        self._background: Any = None
        self.boxes: list[Region] = []  # each image's box in the figure, once rendered

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the picture in pixels."""
        return round(self.fig.bbox.width), round(self.fig.bbox.height)

    def _capture(self) -> None:
        shown = [a for a in (*self.images, *self.dynamic) if a.get_visible()]
        for artist in shown:
            artist.set_visible(False)
        canvas = self.fig.canvas
        canvas.draw()
        self._background = canvas.copy_from_bbox(self.fig.bbox)
        height = self.size[1]
        renderer = canvas.get_renderer()
        self.boxes = []
        for image in self.images:
            box = image.get_window_extent(renderer)
            self.boxes.append((height - round(box.ymax), round(box.xmin), round(box.height), round(box.width)))
        for artist in shown:
            artist.set_visible(True)

    def render(self, rasters: Sequence[torch.Tensor]) -> torch.Tensor:
        """The picture, uint8 [3, H, W] on the CPU, of ``rasters`` (uint8 [3, h, w], one per
        image, in order, each the size of its box) in the frame, with the dynamic artists as
        they are now drawn over them. The static parts are drawn at the first call."""
        if self._background is None:
            self._capture()
        canvas = self.fig.canvas
        canvas.restore_region(self._background)
        buffer = np.asarray(canvas.buffer_rgba())
        for image, (top, left, height, width), windows, raster in zip(
            self.images, self.boxes, self.windows, rasters, strict=True
        ):
            pixels = raster.permute(1, 2, 0).numpy()
            if pixels.shape[:2] != (height, width):
                raise ValueError(f"a raster of {pixels.shape[:2]} pixels for a box of {(height, width)}")
            for r, c, h, w in windows or [(0, 0, height, width)]:
                buffer[top + r : top + r + h, left + c : left + c + w, :3] = pixels[r : r + h, c : c + w]
            image.set_data(pixels)
        for artist in self.dynamic:
            if artist.get_visible():
                self.fig.draw_artist(artist)
        return torch.from_numpy(buffer[..., :3].copy()).permute(2, 0, 1).contiguous()


def new_figure(width: int, height: int) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def axes_at(fig: Figure, left: int, bottom: int, width: int, height: int) -> Axes:
    """Axes over a box of whole pixels (from the figure's lower left corner)."""
    fig_width, fig_height = fig.bbox.width, fig.bbox.height
    return fig.add_axes((left / fig_width, bottom / fig_height, width / fig_width, height / fig_height))


def fit_to_contents(fig: Figure) -> None:
    """Resize ``fig`` to what is drawn on it with PAD pixels around, moving every axes by
    whole pixels (their sizes in pixels unchanged)."""
    renderer = fig.canvas.get_renderer()
    tight = fig.get_tightbbox(renderer)  # inches
    x0, y0 = math.floor(tight.x0 * DPI), math.floor(tight.y0 * DPI)
    x1, y1 = math.ceil(tight.x1 * DPI), math.ceil(tight.y1 * DPI)
    old_width, old_height = fig.bbox.width, fig.bbox.height
    width, height = x1 - x0 + 2 * PAD, y1 - y0 + 2 * PAD
    positions = [(ax, ax.get_position()) for ax in fig.axes]
    fig.set_size_inches(width / DPI, height / DPI)
    for ax, p in positions:
        left, bottom = round(p.x0 * old_width) - x0 + PAD, round(p.y0 * old_height) - y0 + PAD
        w, h = round(p.width * old_width), round(p.height * old_height)
        ax.set_position((left / width, bottom / height, w / width, h / height))


def _plot(size: int, extent: tuple[float, float, float, float], xlabel: str, ylabel: str) -> tuple[Any, ...]:
    """A figure with one square axes of ``size`` pixels holding one image over ``extent``
    (data units), labelled; returns (fig, ax, image)."""
    fig = new_figure(size + 400, size + 200)
    ax = axes_at(fig, 100, 80, size, size)
    blank = np.full((size, size, 3), 255, dtype=np.uint8)
    image = ax.imshow(blank, extent=extent, aspect="auto", interpolation="nearest", origin="upper")
    for spine in ax.spines.values():  # the raster is pasted over the axes box: no frame line
        spine.set_visible(False)
    ax.set_xlabel(xlabel, fontsize=FONT)
    ax.set_ylabel(ylabel, fontsize=FONT)
    ax.tick_params(labelsize=SMALL)
    return fig, ax, image


def title_of(ax: Axes, placeholder: str) -> Artist:
    """The axes' title, sized for the layout by ``placeholder`` (the longest it will be)."""
    return ax.set_title(placeholder, fontsize=FONT, y=1.0)  # y given: no automatic placement


def _finish(fig: Figure, images: Sequence[AxesImage], title: Artist, extra: Sequence[Artist] = ()) -> Frame:
    fit_to_contents(fig)
    title.set_text("")
    return Frame(fig, images, [title, *extra])


def plane_frame(
    labels: PlaneLabels,
    lo: Sequence[float],
    hi: Sequence[float],
    size: int,
    task: str,
    n_classes: int,
    placeholder: str,
    values: tuple[float, float] | None = None,
) -> Frame:
    """The decision boundary's frame: the plane [lo, hi] (the model's units) drawn in the
    data's units, each axis named (``labels.axes``); a legend of the classes' colours (named
    ``labels.class_names``), the rings and the boundary line, or, for regression, a colour
    bar of the value (``values``: its centre and scale, ``plane.value_scale``). The title
    (``frame.dynamic[0]``) is set before each render."""
    from matplotlib.colors import ListedColormap, Normalize
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    x_axis, y_axis = labels.axes[0], labels.axes[1]
    extent = (x_axis.to_data(lo[0]), x_axis.to_data(hi[0]), y_axis.to_data(lo[1]), y_axis.to_data(hi[1]))
    fig, ax, image = _plot(size, extent, x_axis.label, y_axis.label)
    title = title_of(ax, placeholder)
    if task == "regression":
        centre, scale = values if values is not None else (0.0, 1.0)
        full = scale / draw.SHADE
        colours = draw.diverging(torch.linspace(-1, 1, 256), 1.0).numpy() / 255
        mappable = _scalar_mappable(ListedColormap(colours), Normalize(centre - full, centre + full))
        cax = axes_at(fig, 100 + size + 12, 80, 12, size)
        bar = fig.colorbar(mappable, cax=cax)
        bar.set_label(f"{labels.target}: predicted (background),\ntrue (rings)", fontsize=FONT)
        bar.ax.tick_params(labelsize=SMALL)
        return _finish(fig, [image], title)
    handles: list[Artist] = [
        Patch(facecolor=rgb(draw.class_colour(k)), edgecolor="none", label=labels.class_name(k))
        for k in range(n_classes)
    ]
    handles += [
        Patch(facecolor="white", edgecolor=GREY, linewidth=0.6, label="white: unsure"),
        Line2D([], [], linestyle="none", marker="o", markersize=7, markerfacecolor="white", markeredgecolor=GREY,
               markeredgewidth=2, label="a training point:\nring = its class,\ncentre = predicted"),
        Line2D([], [], color=rgb(draw.DARK), linewidth=1.5, label="decision boundary"),
    ]  # fmt: skip
    ax.legend(
        handles=handles,
        title="colour = class",
        loc="upper left",
        bbox_to_anchor=(1 + 10 / size, 1.0),
        borderaxespad=0,
        fontsize=SMALL,
        title_fontsize=SMALL,
        frameon=False,
        alignment="left",
    )
    return _finish(fig, [image], title)


def curve_frame(
    labels: PlaneLabels, lo: float, hi: float, value_lo: float, value_hi: float, size: int, placeholder: str
) -> Frame:
    """The fitted curve's frame: the input [lo, hi] (the model's units) in the data's units
    across, the target from ``value_lo`` to ``value_hi`` (its units) upwards, with a legend."""
    from matplotlib.lines import Line2D

    axis = labels.axes[0]
    fig, ax, image = _plot(size, (axis.to_data(lo), axis.to_data(hi), value_lo, value_hi), axis.label, labels.target)
    title = title_of(ax, placeholder)
    handles = [
        Line2D([], [], linestyle="none", marker="o", markersize=4, color=rgb(draw.POINT_GREY), label="training point"),
        Line2D([], [], color=rgb(draw.class_colour(0)), linewidth=2, label="the model's prediction"),
    ]
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1 + 10 / size, 1.0), borderaxespad=0, fontsize=SMALL,
        frameon=False,
    )  # fmt: skip
    return _finish(fig, [image], title)


def _scalar_mappable(cmap: Any, norm: Any) -> Any:
    from matplotlib.cm import ScalarMappable

    mappable = ScalarMappable(norm=norm, cmap=cmap)
    mappable.set_array([])
    return mappable
