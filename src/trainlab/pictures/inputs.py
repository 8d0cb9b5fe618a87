"""The labelled pictures of a model over its inputs: ``plane``'s rasters in ``framed``'s frames.

For 2-D inputs, ``decision_boundary`` (the prediction over the plane, axes in the data's
units, a legend of the classes or a colour bar of the value, the epoch and the accuracy in
the title) and ``neurons`` (one tile per unit of the first hidden layer, labelled ``L1 u3``,
dead units grey and marked "dead"); for regression on one input, ``fitted_curve``; none for
other inputs. The TensorBoard callback and the run's picture files draw them alike.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from trainlab.pictures.framed import Frame, curve_frame, plane_frame
from trainlab.pictures.labels import PlaneLabels
from trainlab.pictures.plane import (
    Plane,
    Scores,
    decision_boundary,
    fitted_curve,
    neuron_tiles,
    score,
    value_range,
    value_scale,
)
from trainlab.pictures.tiles import neurons_frame, tile_grid

if TYPE_CHECKING:
    from matplotlib.figure import Figure

NEURON_TILE = 64  # pixels a side
NEURON_COLUMNS = 8


def heading(epoch: int | None, best: bool = False) -> str:
    """``epoch 12``, ``epoch 12 (best)``, or without an epoch ``best weights`` / ``final weights``."""
    if epoch is None:
        return "best weights" if best else "final weights"
    return f"epoch {epoch} (best)" if best else f"epoch {epoch}"


def metric_line(task: str, training: float, validation: float | None = None) -> str:
    """``accuracy: training 93.1%, validation 92.0%`` (classification) or ``mean absolute
    error: training 0.12, validation 0.13`` (regression, in the target's units)."""
    if task == "regression":
        line = f"mean absolute error: training {training:.3g}"
        return line if validation is None else f"{line}, validation {validation:.3g}"
    line = f"accuracy: training {training:.1%}"
    return line if validation is None else f"{line}, validation {validation:.1%}"


FRAMES_KEPT = 8
_FRAMES: OrderedDict[tuple[Any, ...], Frame] = OrderedDict()
_LOCK = threading.RLock()


def _shared(key: tuple[Any, ...], build: Callable[[], Frame]) -> Frame:
    """The frame built by ``build`` for ``key`` (everything it depends on), built once and
    kept among the last ``FRAMES_KEPT`` used."""
    with _LOCK:
        frame = _FRAMES.pop(key, None)
        if frame is None:
            frame = build()
        _FRAMES[key] = frame
        while len(_FRAMES) > FRAMES_KEPT:
            _FRAMES.popitem(last=False)
        return frame


def neurons_title(head: str, n_units: int, n_dead: int) -> str:
    """``epoch 12: layer L1, 32 units, 3 dead`` (no dead count when none is)."""
    return f"{head}: layer L1, {n_units} units" + (f", {n_dead} dead" if n_dead else "")


class InputPictures:
    """The input pictures of models trained on the points ``x`` (the model's units) with
    targets ``y`` (class indices, or values in the target's units), named by ``labels``.

    ``draw`` returns them as uint8 [3, H, W] images by name; the frames (matplotlib figures)
    are built at the first draw and kept (the last ``FRAMES_KEPT`` in the process, shared by
    every InputPictures that needs the same frame: the callback's and the run's files, a
    sweep's jobs), so a draw costs the rasters, one title and a paste. ``figures`` holds each
    picture's Figure as this object last drew it (a shared Figure: read it before another draw).
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        task: str,
        scores: Scores,
        labels: PlaneLabels | None = None,
        size: int = 256,
        neurons: bool = True,
        max_points: int = 1000,
    ) -> None:
        self.x, self.y, self.task, self.scores = x, y, task, scores
        self.size, self.neurons, self.max_points = size, neurons, max_points
        n_features = x.shape[1]
        if labels is None:
            labels = PlaneLabels.plain(n_features, None if task == "regression" else int(y.max()) + 1)
        self.labels = labels
        names = labels.class_names
        self.n_classes = 0 if task == "regression" else max(len(names or ()), int(y.max()) + 1)
        self.kind = "plane" if n_features == 2 else "curve" if n_features == 1 and task == "regression" else None
        self.frames: dict[str, Frame] = {}

    @property
    def figures(self) -> dict[str, Figure]:
        return {name: frame.fig for name, frame in self.frames.items()}

    def _placeholder(self) -> str:
        worst = -1.23e100 if self.task == "regression" else 1.0
        return f"{heading(99999, best=True)}\n{metric_line(self.task, worst, worst)}"

    @torch.no_grad()
    def draw(
        self, model: nn.Module, epoch: int | None = None, best: bool = False, validation: float | None = None
    ) -> dict[str, torch.Tensor]:
        """The pictures of ``model`` as it is now, by name (empty when none applies), titled
        ``heading(epoch, best)`` with its accuracy (or mean absolute error) on the training
        points and ``validation``'s, when given. The model is put in eval mode while drawing."""
        if self.kind is None:
            return {}
        device = next(model.parameters()).device
        x, y = self.x.to(device), self.y.to(device)
        was_training = model.training
        model.eval()
        try:
            with _LOCK:  # frames are shared: one draw at a time
                head = heading(epoch, best)
                title = f"{head}\n{metric_line(self.task, score(model, self.scores, x, y, self.task), validation)}"
                if self.kind == "curve":
                    return {"fitted_curve": self._curve(model, x, y, title)}
                images = {"decision_boundary": self._boundary(model, x, y, title)}
                if self.neurons and (picture := self._neurons(model, x, head)) is not None:
                    images["neurons"] = picture
                return images
        finally:
            model.train(was_training)

    def _frame(self, name: str, key: tuple[Any, ...], build: Callable[..., Frame]) -> Frame:
        self.frames[name] = frame = _shared(key, build)
        return frame

    def _boundary(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, title: str) -> torch.Tensor:
        raster = decision_boundary(model, self.scores, x, y, self.task, self.size, self.max_points)
        plane = Plane.around(x, self.size)
        values = value_scale(y, self.max_points) if self.task == "regression" else None
        args = (self.labels, plane.lo, plane.hi, self.size, self.task, self.n_classes, self._placeholder(), values)
        frame = self._frame("decision_boundary", ("plane", *args), lambda: plane_frame(*args))
        frame.dynamic[0].set_text(title)
        return frame.render([raster])

    def _curve(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, title: str) -> torch.Tensor:
        raster = fitted_curve(model, self.scores, x, y, self.size, self.max_points)
        plane = Plane.around(x, self.size)
        lo, hi = value_range(y, self.max_points)
        args = (self.labels, plane.lo[0], plane.hi[0], lo, hi, self.size, self._placeholder())
        frame = self._frame("fitted_curve", ("curve", *args), lambda: curve_frame(*args))
        frame.dynamic[0].set_text(title)
        return frame.render([raster])

    def _neurons(self, model: nn.Module, x: torch.Tensor, head: str) -> torch.Tensor | None:
        tiles = neuron_tiles(model, x, NEURON_TILE)
        if tiles is None:
            return None
        n = tiles.n_units
        args = (n, NEURON_TILE, NEURON_COLUMNS, self._caption(), neurons_title(heading(99999, best=True), n, n))
        frame = self._frame("neurons", ("neurons", *args), lambda: neurons_frame(*args))
        dead = tiles.dead.tolist()
        for mark, is_dead in zip(frame.dynamic[1:], dead, strict=True):
            mark.set_visible(is_dead)
        frame.dynamic[0].set_text(neurons_title(head, n, sum(dead)))
        return frame.render([tile_grid(tiles.images, NEURON_COLUMNS)])

    def _caption(self) -> str:
        across, upwards = (axis.label for axis in self.labels.axes[:2])
        return (
            f"Each tile: a unit's output over the decision boundary's plane ({across} across, {upwards} up): "
            f"white 0, blue > 0, orange < 0. Dead: 0 everywhere."
        )
