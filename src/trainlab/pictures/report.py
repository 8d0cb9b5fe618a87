"""The pictures a finished run leaves in its directory (and in TensorBoard, when it logs there)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter
from torchmetrics.functional import confusion_matrix

from trainlab.data import TabularData
from trainlab.files.rundir import RunDir
from trainlab.pictures import figures
from trainlab.pictures.draw import save_png
from trainlab.pictures.inputs import InputPictures
from trainlab.pictures.labels import PlaneLabels
from trainlab.pictures.plane import score


class Scoring(Protocol):
    """How a network's outputs are read (``trainlab.training.losses.Loss`` is one)."""

    def scores(self, output: torch.Tensor) -> torch.Tensor:
        """P(y=1) [N] for binary, class probabilities [N, C] for multiclass, values for regression."""

    def targets(self, target: torch.Tensor) -> torch.Tensor:
        """The targets as ``scores`` are compared with (regression: in the target's units)."""


def save_input_pictures(
    model: nn.Module,
    loss: Scoring,
    data: TabularData,
    out_dir: Path,
    size: int = 256,
    neurons: bool = True,
    epoch: int | None = None,
    best: bool = True,
) -> list[Path]:
    """decision_boundary.png and neurons.png (2-D inputs) or fitted_curve.png (regression on
    one input) of ``model`` as it is now (after fit: the best weights, ``best``) over the
    training points, labelled from ``data`` (``PlaneLabels.of``). The title holds ``epoch``
    ("best weights" without one) and the accuracy (regression: mean absolute error) on the
    training and the validation split."""
    device = next(model.parameters()).device
    x, y = data.x_train.to(device), loss.targets(data.y_train.to(device))
    pictures = InputPictures(x, y, data.task, loss.scores, PlaneLabels.of(data), size, neurons)
    if pictures.kind is None:
        return []
    validation = None
    if len(data.x_val):
        x_val, y_val = data.x_val.to(device), loss.targets(data.y_val.to(device))
        was_training = model.training
        model.eval()
        validation = score(model, loss.scores, x_val, y_val, data.task)
        model.train(was_training)
    images = pictures.draw(model, epoch, best, validation)
    out = RunDir(out_dir)
    return [save_png(image, out / f"{name}.png") for name, image in images.items()]


@torch.no_grad()
def save_test_pictures(
    model: nn.Module, loss: Scoring, data: TabularData, out_dir: Path, writer: SummaryWriter | None, step: int
) -> list[Path]:
    """At test: for classification, confusion_matrix.csv (counts; row: true class, column:
    predicted) and confusion_matrix.png; for regression, predicted_vs_true.png (in the
    target's units). Each picture is also logged to ``writer`` as ``test/<name>`` at ``step``."""
    if not len(data.x_test):
        return []
    out = RunDir(out_dir)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    scores = loss.scores(model(data.x_test.to(device))).cpu()
    model.train(was_training)
    if data.task == "regression":
        name = "predicted_vs_true"
        fig = figures.predicted_vs_true_figure(scores, loss.targets(data.y_test))
        paths = []
    else:
        name = "confusion_matrix"
        n_classes = data.n_classes or 2
        predicted = (scores > 0.5).long() if data.task == "binary" else scores.argmax(-1)
        counts = confusion_matrix(predicted, data.y_test, task="multiclass", num_classes=n_classes)
        names = [str(c) for c in (data.class_names or range(n_classes))]
        paths = [_write_counts(counts, names, out)]
        fig = figures.confusion_matrix_figure(counts, names)
    paths.append(figures.save(fig, out / f"{name}.png"))
    image = figures.to_image(fig)
    if writer is not None:
        writer.add_image(f"test/{name}", image, global_step=step, dataformats="CHW")
    return paths


def _write_counts(counts: torch.Tensor, names: list[str], out: RunDir) -> Path:
    import pandas as pd

    frame = pd.DataFrame(counts.numpy(), index=pd.Index(names, name="true"), columns=names)
    return out.write_csv(out.CONFUSION_MATRIX_CSV, frame, index=True)
