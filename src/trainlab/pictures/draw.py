"""Raster drawing with torch: colour maps, point markers, curves and tiling, as uint8 [3, H, W].

Frequent pictures (every few epochs) are drawn here rather than by a plotting library:
a few tensor operations on the training device, one copy to the host, no figure objects.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from trainlab.files.atomic import write_bytes

WHITE = (255, 255, 255)
DARK = (40, 40, 40)
POINT_GREY = (120, 120, 120)  # a fitted curve's training points
# TensorFlow Playground's two classes (orange: class 0 / negative, blue: class 1 / positive),
# then matplotlib's tab10 for the further classes of a multiclass task.
PALETTE = (
    (245, 147, 34),
    (8, 119, 189),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
)
# Background shades stop short of the full class colour, so markers stay visible.
SHADE = 0.75


def class_colour(k: int) -> tuple[int, int, int]:
    """Class k's colour (the palette repeats after 10 classes)."""
    return PALETTE[k % len(PALETTE)]


def _rgb(colour: tuple[int, int, int], device: torch.device) -> torch.Tensor:
    return torch.tensor(colour, dtype=torch.float32, device=device)


def blend(colours: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """White blended towards ``colours`` [..., 3] by ``t`` [...] in [0, 1]: white + t (c - white)."""
    white = torch.full_like(colours, 255.0)
    return white + t.unsqueeze(-1).clamp(0, 1) * (colours - white)


def diverging(values: torch.Tensor, scale: float | torch.Tensor) -> torch.Tensor:
    """Values [...] to colours [..., 3]: orange below 0, white at 0, blue above, full at |v| = scale."""
    t = (values / scale).clamp(-1, 1).unsqueeze(-1)
    towards_negative = _rgb(class_colour(0), values.device) - 255.0
    towards_positive = _rgb(class_colour(1), values.device) - 255.0
    return 255.0 + t.abs() * torch.where(t < 0, towards_negative, towards_positive)


def class_shades(proba: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Background colours [H, W, 3] and predicted classes [H, W] from probabilities.

    ``proba`` is P(y=1) [H, W] for a binary task (white at 0.5, class 0's colour towards 0,
    class 1's towards 1) or class probabilities [H, W, C]: the predicted class's colour,
    shaded by confidence (white at 1/C, full at 1).
    """
    device = proba.device
    if proba.dim() == 2:
        colours = diverging(2 * proba - 1, 1 / SHADE)
        return colours, (proba > 0.5).long()
    n_classes = proba.shape[-1]
    confidence, predicted = proba.max(-1)
    palette = torch.tensor([class_colour(k) for k in range(n_classes)], dtype=torch.float32, device=device)
    t = SHADE * (confidence - 1 / n_classes) / (1 - 1 / n_classes)
    return blend(palette[predicted], t), predicted


def mark_boundaries(image: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Paint DARK every pixel of ``image`` [H, W, 3] whose label differs from its right or lower
    neighbour's: the decision boundary (for a binary task, the 0.5 contour)."""
    edge = torch.zeros_like(labels, dtype=torch.bool)
    edge[:, :-1] |= labels[:, 1:] != labels[:, :-1]
    edge[:-1, :] |= labels[1:, :] != labels[:-1, :]
    image[edge] = _rgb(DARK, image.device)
    return image


def _disc_offsets(r_inner: float, r_outer: float) -> torch.Tensor:
    r = math.ceil(r_outer)
    d = torch.arange(-r, r + 1)
    dy, dx = torch.meshgrid(d, d, indexing="ij")
    dist = (dx**2 + dy**2).float().sqrt()
    keep = (dist >= r_inner) & (dist <= r_outer)
    return torch.stack([dy[keep], dx[keep]], dim=1)


RING = (1.5, 3.0)  # a point's marker: pixels at these distances take its colour
EDGE = (3.0, 4.2)  # then a white edge around it; inside RING[0], the background shows


def stamp(image: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, colours: torch.Tensor, radii) -> None:
    """Paint ``colours`` [N, 3] on ``image`` [H, W, 3] at the pixels between ``radii`` around
    each point (``rows``, ``cols``: integer pixel positions [N]); later points paint over earlier."""
    height, width = image.shape[:2]
    offsets = _disc_offsets(*radii).to(image.device)
    r = rows.unsqueeze(1) + offsets[:, 0]
    c = cols.unsqueeze(1) + offsets[:, 1]
    inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
    colour = colours.unsqueeze(1).expand(-1, offsets.shape[0], -1)[inside]
    pixel = (r * width + c)[inside]
    # Where stamps overlap, the last point's colour: an indexed write with repeated indices
    # keeps an arbitrary one, so keep each pixel's last write only.
    order = torch.arange(len(pixel), device=image.device)
    last = torch.full((height * width,), -1, dtype=torch.long, device=image.device)
    last = last.scatter_reduce(0, pixel, order, reduce="amax")
    keep = last[pixel] == order
    image.view(height * width, 3)[pixel[keep]] = colour[keep]


def rings(image: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, colours: torch.Tensor) -> torch.Tensor:
    """Hollow ring markers (white-edged) at the given pixels: the point's colour is its true
    class, and the pixels inside the ring keep the background, the model's prediction there."""
    white = _rgb(WHITE, image.device).expand(len(rows), 3)
    stamp(image, rows, cols, white, EDGE)
    stamp(image, rows, cols, colours, RING)
    return image


def polyline(image: torch.Tensor, rows: torch.Tensor, colour: tuple[int, int, int], width: int = 2) -> torch.Tensor:
    """A curve through one point per column: column j gets ``rows[j]``, and the vertical run to
    the next column's row, so the line has no gaps; ``width`` pixels thick."""
    height, n = image.shape[0], image.shape[1]
    lo = torch.minimum(rows[:-1], rows[1:])
    hi = torch.maximum(rows[:-1], rows[1:])
    r = torch.arange(height, device=image.device).unsqueeze(1)  # [H, 1]
    mask = torch.zeros(height, n, dtype=torch.bool, device=image.device)
    half = width // 2
    mask[:, :-1] = (r >= lo - half) & (r <= hi + (width - 1 - half))
    mask[:, -1] = (r[:, 0] >= rows[-1] - half) & (r[:, 0] <= rows[-1] + (width - 1 - half))
    image[mask] = _rgb(colour, image.device)
    return image


def to_uint8_chw(image: torch.Tensor) -> torch.Tensor:
    """[H, W, 3] float in [0, 255] to uint8 [3, H, W] on the CPU (TensorBoard's CHW layout)."""
    return image.round().clamp(0, 255).to(torch.uint8).permute(2, 0, 1).contiguous().cpu()


def tile(images: list[torch.Tensor], columns: int, gap: int = 2) -> torch.Tensor:
    """Same-size uint8 images [3, h, w] in a grid of ``columns``, ``gap`` grey pixels apart."""
    _, h, w = images[0].shape
    rows = math.ceil(len(images) / columns)
    grid = torch.full((3, rows * h + (rows - 1) * gap, columns * w + (columns - 1) * gap), 160, dtype=torch.uint8)
    for k, img in enumerate(images):
        i, j = divmod(k, columns)
        grid[:, i * (h + gap) : i * (h + gap) + h, j * (w + gap) : j * (w + gap) + w] = img
    return grid


def save_png(image: torch.Tensor, path: Path) -> Path:
    """Write a uint8 [3, H, W] image as a PNG, atomically (``trainlab.files.atomic``)."""
    return write_bytes(path, png_bytes(image, compress_level=6))


def png_bytes(image: torch.Tensor, compress_level: int = 1) -> bytes:
    """A uint8 [3, H, W] image as PNG bytes (zlib level 1: several times faster than the
    default 6, for files a little larger)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image.permute(1, 2, 0).numpy()).save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()
