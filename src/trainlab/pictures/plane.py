"""What a model computes over its input plane: decision boundaries, fitted curves, neurons.

Each function takes the model in eval mode and data on the model's device, and returns a
uint8 image [3, H, W] on the CPU. Inputs are the model's own (preprocessed) features; the
plane spans the training points with a 10% margin, x1 to the right and x2 upwards.
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
    """The model's prediction over the plane of 2-D inputs ``x``, with the points drawn on it.

    Classification: each pixel is shaded by the predicted class (binary: white at P = 0.5,
    towards class 0's or class 1's colour as P(y=1) nears 0 or 1; multiclass: the class's
    colour by confidence), the boundary between predicted classes is a dark line, and each
    point is a ring in its true class's colour whose centre shows the prediction there.
    Regression (``y`` in the target's units): the predicted value on a diverging scale
    centred on the targets' mean, each ring in the colour of its true value.
    """
    plane = Plane.around(x, size)
    predicted = _over_plane(model, scores, plane)
    x, y = _points(x, y, max_points)
    rows, cols = plane.pixel(x[:, 1], 1, upwards=True), plane.pixel(x[:, 0], 0)
    if task == "regression":
        centre = y.mean()
        scale = (y - centre).abs().max().clamp_min(1e-12)
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
    """Regression on one input: the points (x, y) in grey and the model's curve in orange."""
    plane = Plane.around(x, size)
    curve = scores(model(plane.axis(0, x.device).unsqueeze(1))).reshape(-1)
    x, y = _points(x, y, max_points)
    values = torch.cat([y, curve])
    lo, hi = float(values.min()), float(values.max())
    pad = max((hi - lo) * 0.1, 1e-3)
    vertical = Plane((lo - pad,), (hi + pad,), size)
    image = torch.full((size, size, 3), 255.0, device=x.device)
    grey = torch.tensor([120.0, 120.0, 120.0], device=x.device).expand(len(x), 3)
    draw.stamp(image, vertical.pixel(y, 0, upwards=True), plane.pixel(x[:, 0], 0), grey, (0.0, 2.0))
    draw.polyline(image, vertical.pixel(curve, 0, upwards=True), draw.class_colour(0), width=3)
    return draw.to_uint8_chw(image)


def first_hidden_layer(model: nn.Module) -> Dense | None:
    """The first Dense layer of a network that has more than one (None for a perceptron)."""
    dense = [m for m in model.modules() if isinstance(m, Dense)]
    return dense[0] if len(dense) > 1 else None


@torch.no_grad()
def neurons(model: nn.Module, x: torch.Tensor, tile: int = 64, columns: int = 8) -> torch.Tensor | None:
    """What each neuron of the first hidden layer computes over the plane of 2-D inputs, as
    TensorFlow Playground draws inside each neuron: a(x) = g(x @ W + b)[:, j], one tile per
    neuron, orange below 0, white at 0, blue above (each tile scaled by its largest |a|).
    None when the model has no hidden layer."""
    layer = first_hidden_layer(model)
    if layer is None:
        return None
    plane = Plane.around(x, tile)
    activations = layer(plane.grid(x.device))  # [tile * tile, n_neurons]
    scale = activations.abs().amax(0).clamp_min(1e-12)
    colours = draw.diverging(activations / scale, 1.0)  # [tile * tile, n, 3]
    n = activations.shape[1]
    images = colours.reshape(tile, tile, n, 3).permute(2, 3, 0, 1).round().clamp(0, 255).to(torch.uint8).cpu()
    return draw.tile(list(images), min(columns, n))


def input_pictures(
    model: nn.Module, scores: Scores, x: torch.Tensor, y: torch.Tensor, task: str, size: int = 256, neuron_tiles=True
) -> dict[str, torch.Tensor]:
    """The pictures that apply to inputs ``x`` (``y`` in the target's units), by name:
    ``decision_boundary`` and ``neurons`` for 2-D inputs, ``fitted_curve`` for regression
    on one input; none for other inputs. The model is put in eval mode while drawing."""
    n_features = x.shape[1]
    if n_features not in (1, 2) or (n_features == 1 and task != "regression"):
        return {}
    was_training = model.training
    model.eval()
    try:
        if n_features == 1:
            return {"fitted_curve": fitted_curve(model, scores, x, y, size)}
        images = {"decision_boundary": decision_boundary(model, scores, x, y, task, size)}
        if neuron_tiles and (picture := neurons(model, x)) is not None:
            images["neurons"] = picture
        return images
    finally:
        model.train(was_training)
