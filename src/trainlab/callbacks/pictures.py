"""Pictures and histograms in TensorBoard every N epochs (Keras's histogram_freq, and more)."""

from __future__ import annotations

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from torch.utils.tensorboard import SummaryWriter

from trainlab.internals import add_png_summary
from trainlab.pictures import draw
from trainlab.pictures.plane import Scores, input_pictures

# 64 equal bins: a third of the cost of TensorBoard's default ("tensorflow", ~exponential bins).
HISTOGRAM_BINS = 64


def log_image(writer: SummaryWriter, tag: str, image: torch.Tensor, step: int) -> None:
    """Log a uint8 [3, H, W] image as it is, PNG-encoded once (see ``add_png_summary``)."""
    _, height, width = image.shape
    add_png_summary(writer, tag, draw.png_bytes(image), height, width, step)


def tensorboard_writer(trainer: L.Trainer) -> SummaryWriter | None:
    """The run's TensorBoard SummaryWriter, or None when it logs elsewhere (csv, none)."""
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            return logger.experiment
    return None


class _EveryNEpochs(L.Callback):
    """Logs at epochs N, 2N, ... (counted from 1); subclasses choose the hook that calls ``_maybe_log``."""

    def __init__(self, every_n_epochs: int) -> None:
        if every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be >= 1, got {every_n_epochs}")
        self.every_n_epochs = every_n_epochs

    def _maybe_log(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        writer = tensorboard_writer(trainer)
        if epoch % self.every_n_epochs == 0 and writer is not None and not trainer.sanity_checking:
            self.log_epoch(writer, pl_module, epoch)

    def log_epoch(self, writer: SummaryWriter, pl_module: L.LightningModule, epoch: int) -> None:
        raise NotImplementedError


class Pictures(_EveryNEpochs):
    """Logs ``pictures/decision_boundary`` and ``pictures/neurons`` (2-D inputs) or
    ``pictures/fitted_curve`` (regression on one input) at step = epoch; see
    ``trainlab.pictures.plane``. ``x``, ``y``: the training points (``y`` in the target's
    units), ``scores``: the model's output to probabilities or values."""

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        task: str,
        scores: Scores,
        every_n_epochs: int,
        size: int = 256,
        neurons: bool = True,
    ) -> None:
        super().__init__(every_n_epochs)
        self.x, self.y, self.task, self.scores = x, y, task, scores
        self.size, self.neurons = size, neurons

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.x, self.y = self.x.to(pl_module.device), self.y.to(pl_module.device)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._maybe_log(trainer, pl_module)  # after validation

    def log_epoch(self, writer: SummaryWriter, pl_module: L.LightningModule, epoch: int) -> None:
        images = input_pictures(pl_module.model, self.scores, self.x, self.y, self.task, self.size, self.neurons)
        for name, image in images.items():
            log_image(writer, f"pictures/{name}", image, epoch)


class Histograms(_EveryNEpochs):
    """Logs ``weights/<parameter>`` and ``gradients/<parameter>`` histograms of every
    parameter (``layers.0.W``, ``layers.0.b``, ...) at step = epoch; the gradients are
    those of the epoch's last optimizer step: they are read after the epoch's last training
    batch, before validation (where Lightning frees the gradients)."""

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: object, batch: object, batch_idx: int
    ) -> None:
        if batch_idx + 1 >= trainer.num_training_batches:  # the epoch's last Lightning step
            self._maybe_log(trainer, pl_module)

    def log_epoch(self, writer: SummaryWriter, pl_module: L.LightningModule, epoch: int) -> None:
        for name, parameter in pl_module.model.named_parameters():
            writer.add_histogram(f"weights/{name}", parameter.detach().float().cpu(), epoch, bins=HISTOGRAM_BINS)
            if parameter.grad is not None:
                gradient = parameter.grad.detach().float().cpu()
                writer.add_histogram(f"gradients/{name}", gradient, epoch, bins=HISTOGRAM_BINS)
