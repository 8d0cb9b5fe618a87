"""What a model computes over its input plane: decision boundaries, fitted curves, neurons.

Each function takes the model in eval mode and data on the model's device, and returns
uint8 pixels on the CPU: the rasters that ``trainlab.pictures.inputs`` frames with axes,
legend and title. Inputs are the model's own (preprocessed) features; the plane spans the
training points with a 10% margin, x1 to the right and x2 upwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from trainlab.models.dense import Dense
from trainlab.pictures import draw

Scores = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Plane:
    """A ``size`` x ``size`` pixel view of [lo_1, hi_1] x [lo_2, hi_2] (one axis for 1-D inputs)."""

    lo: tuple[float, ...]
    hi: tuple[float, ...]
    size: int

    @classmethod
    def around(cls, x: torch.Tensor, size: int, margin: float = 0.1) -> Plane:
        lo, hi = x.min(0).values, x.max(0).values
        pad = ((hi - lo) * margin).clamp_min(1e-3)
        return cls(tuple((lo - pad).tolist()), tuple((hi + pad).tolist()), size)

    def axis(self, d: int, device: torch.device) -> torch.Tensor:
        """The ``size`` pixel centres along input ``d``."""
        step = (self.hi[d] - self.lo[d]) / self.size
        return self.lo[d] + (torch.arange(self.size, device=device, dtype=torch.float32) + 0.5) * step

    def grid(self, device: torch.device) -> torch.Tensor:
        """Pixel centres [size * size, 2], row by row from the top (x2 largest) down."""
        x1 = self.axis(0, device)
        x2 = self.axis(1, device).flip(0)
        rows, cols = torch.meshgrid(x2, x1, indexing="ij")
        return torch.stack([cols.reshape(-1), rows.reshape(-1)], dim=1)

    def pixel(self, values: torch.Tensor, d: int, upwards: bool = False) -> torch.Tensor:
        """The pixel index of ``values`` along input ``d`` (counted from the top when ``upwards``)."""
        t = (values - self.lo[d]) / (self.hi[d] - self.lo[d])
        index = (t * self.size).floor().long().clamp(0, self.size - 1)
        return self.size - 1 - index if upwards else index


def _over_plane(model: nn.Module, scores: Scores, plane: Plane) -> torch.Tensor:
    """The model's scores at every pixel: [size, size] (P(y=1), or a value) or [size, size, C].

    The network runs on a grid of half the resolution (a quarter of the points) and the
    scores are interpolated bilinearly to full size: smooth, and four times cheaper.
    """
    coarse = Plane(plane.lo, plane.hi, max(plane.size // 2, 16))
    out = scores(model(coarse.grid(_device(model))))
    channels = out.reshape(coarse.size, coarse.size, -1).permute(2, 0, 1).unsqueeze(0)
    fine = F.interpolate(channels, size=(plane.size, plane.size), mode="bilinear", align_corners=False)
    fine = fine[0].permute(1, 2, 0)
    return fine[..., 0] if out.dim() == 1 else fine


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _points(x: torch.Tensor, y: torch.Tensor, max_points: int) -> tuple[torch.Tensor, torch.Tensor]:
    return x[:max_points], y[:max_points]


def value_scale(y: torch.Tensor, max_points: int = 1000) -> tuple[float, float]:
    """Regression colours: (centre, scale) of the targets ``y`` drawn (the first ``max_points``):
    white at the centre (their mean), full colour at ``scale / draw.SHADE`` from it."""
    y = y[:max_points].float()
    centre = y.mean()
    return float(centre), float((y - centre).abs().max().clamp_min(1e-12))


def value_range(y: torch.Tensor, max_points: int = 1000, margin: float = 0.1) -> tuple[float, float]:
    """The vertical span of a fitted curve: the targets drawn, with a ``margin`` on each side
    (fixed by the data, so the axis does not move between epochs; the curve is clipped to it)."""
    y = y[:max_points].float()
    lo, hi = float(y.min()), float(y.max())
    pad = max((hi - lo) * margin, 1e-3)
    return lo - pad, hi + pad


@torch.no_grad()
def decision_boundary(
    model: nn.Module,
    scores: Scores,
    x: torch.Tensor,
    y: torch.Tensor,
    task: str,
    size: int = 256,
    max_points: int = 1000,
) -> torch.Tensor:
    """The model's prediction over the plane of 2-D inputs ``x``, with the points drawn on it:
    uint8 [3, size, size].

    Classification: each pixel is shaded by the predicted class (binary: white at P = 0.5,
    towards class 0's or class 1's colour as P(y=1) nears 0 or 1; multiclass: the class's
    colour by confidence), the boundary between predicted classes is a dark line, and each
    point is a ring in its true class's colour whose centre shows the prediction there.
    Regression (``y`` in the target's units): the predicted value on a diverging scale
    (``value_scale``: centred on the targets' mean), each ring in the colour of its true value.
    """
    plane = Plane.around(x, size)
    predicted = _over_plane(model, scores, plane)
    x, y = _points(x, y, max_points)
    rows, cols = plane.pixel(x[:, 1], 1, upwards=True), plane.pixel(x[:, 0], 0)
    if task == "regression":
        centre, scale = value_scale(y, max_points)
        image = draw.diverging(predicted - centre, scale / draw.SHADE)
        return draw.to_uint8_chw(draw.rings(image, rows, cols, draw.diverging(y - centre, scale)))
    image, labels = draw.class_shades(predicted)
    draw.mark_boundaries(image, labels)
    palette = torch.tensor([draw.class_colour(k) for k in range(int(y.max()) + 1)], dtype=torch.float32)
    return draw.to_uint8_chw(draw.rings(image, rows, cols, palette.to(x.device)[y]))


@torch.no_grad()
def fitted_curve(
    model: nn.Module, scores: Scores, x: torch.Tensor, y: torch.Tensor, size: int = 256, max_points: int = 1000
) -> torch.Tensor:
    """Regression on one input: the points (x, y) in grey and the model's curve in orange,
    uint8 [3, size, size]; vertically ``value_range(y)`` (the curve is clipped to it)."""
    plane = Plane.around(x, size)
    curve = scores(model(plane.axis(0, x.device).unsqueeze(1))).reshape(-1)
    lo, hi = value_range(y, max_points)
    vertical = Plane((lo,), (hi,), size)
    x, y = _points(x, y, max_points)
    image = torch.full((size, size, 3), 255.0, device=x.device)
    grey = torch.tensor(draw.POINT_GREY, dtype=torch.float32, device=x.device).expand(len(x), 3)
    draw.stamp(image, vertical.pixel(y, 0, upwards=True), plane.pixel(x[:, 0], 0), grey, (0.0, 2.0))
    draw.polyline(image, vertical.pixel(curve, 0, upwards=True), draw.class_colour(0), width=3)
    return draw.to_uint8_chw(image)


def first_hidden_layer(model: nn.Module) -> Dense | None:
    """The first Dense layer of a network that has more than one (None for a perceptron)."""
    dense = [m for m in model.modules() if isinstance(m, Dense)]
    return dense[0] if len(dense) > 1 else None


DEAD_GREY = (190, 190, 190)


@dataclass(frozen=True)
class NeuronTiles:
    """What each unit of the first hidden layer computes over the plane: ``images`` uint8
    [n_units, 3, tile, tile] and ``dead`` bool [n_units], a unit whose activation is exactly 0
    at every pixel (a dead ReLU), drawn as a plain ``DEAD_GREY`` tile."""

    images: torch.Tensor
    dead: torch.Tensor

    @property
    def n_units(self) -> int:
        return len(self.dead)


@torch.no_grad()
def neuron_tiles(model: nn.Module, x: torch.Tensor, tile: int = 64) -> NeuronTiles | None:
    """What each neuron of the first hidden layer computes over the plane of 2-D inputs, as
    TensorFlow Playground draws inside each neuron: a(x) = g(x @ W + b)[:, j], one tile per
    neuron, orange below 0, white at 0, blue above (each tile scaled by its largest |a|), or
    grey when the unit is dead. None when the model has no hidden layer."""
    layer = first_hidden_layer(model)
    if layer is None:
        return None
    plane = Plane.around(x, tile)
    activations = layer(plane.grid(x.device))  # [tile * tile, n_neurons]
    largest = activations.abs().amax(0)
    dead = largest == 0
    colours = draw.diverging(activations / largest.clamp_min(1e-12), 1.0)  # [tile * tile, n, 3]
    colours[:, dead] = torch.tensor(DEAD_GREY, dtype=colours.dtype, device=colours.device)
    n = activations.shape[1]
    images = colours.reshape(tile, tile, n, 3).permute(2, 3, 0, 1).round().clamp(0, 255).to(torch.uint8)
    return NeuronTiles(images.cpu(), dead.cpu())


@torch.no_grad()
def score(model: nn.Module, scores: Scores, x: torch.Tensor, y: torch.Tensor, task: str) -> float:
    """How well the model does on (``x``, ``y``): the fraction correct for classification,
    the mean absolute error (in the target's units, as ``y``) for regression."""
    predicted = scores(model(x))
    if task == "regression":
        return float((predicted.reshape(y.shape) - y).abs().mean())
    labels = (predicted > 0.5).long() if task == "binary" else predicted.argmax(-1)
    return float((labels == y).float().mean())
