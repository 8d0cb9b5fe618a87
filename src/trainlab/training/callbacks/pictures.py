"""Pictures and histograms in TensorBoard every N epochs (Keras's histogram_freq, and more);
the pictures also at the last epoch and, with the best weights, at the best epoch."""

from __future__ import annotations

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from torch.utils.tensorboard import SummaryWriter

from trainlab.data import TabularData
from trainlab.internals import add_png_summary
from trainlab.pictures import draw
from trainlab.pictures.inputs import InputPictures
from trainlab.pictures.labels import PlaneLabels
from trainlab.pictures.plane import Scores

# 64 equal bins: a third of the cost of TensorBoard's default ("tensorflow", ~exponential bins).
HISTOGRAM_BINS = 64


def log_image(writer: SummaryWriter, tag: str, image: torch.Tensor, step: int) -> None:
    """Log a uint8 [3, H, W] image as it is, PNG-encoded once (see ``add_png_summary``)."""
    _, height, width = image.shape
    add_png_summary(writer, tag, draw.png_bytes(image), height, width, step)


def tensorboard_writer(trainer: L.Trainer) -> SummaryWriter | None:
    """The run's TensorBoard SummaryWriter, or None when it logs elsewhere (csv, none) or
    this process is not global rank 0 (on several devices rank 0 alone draws and writes)."""
    if not trainer.is_global_zero:
        return None
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            return logger.experiment
    return None


def epoch_pictures(
    pictures: InputPictures, model: torch.nn.Module, history: list[dict], task: str, epoch: int, best: bool = False
) -> dict[str, torch.Tensor]:
    """``model``'s pictures at ``epoch`` by their TensorBoard tag (``pictures/<name>``, or
    ``pictures/best/<name>`` for the best weights), each titled with that epoch's validation
    accuracy (mean absolute error for regression) from ``history``. A lone run's callback and a
    stack's member (``trainlab.lifecycle.member_files``) log the same."""
    metric = "val/mae" if task == "regression" else "val/acc"
    row = next((r for r in reversed(history) if r.get("epoch") == epoch), {})
    prefix = "pictures/best" if best else "pictures"
    return {f"{prefix}/{name}": image for name, image in pictures.draw(model, epoch, best, row.get(metric)).items()}


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
    ``pictures/fitted_curve`` (regression on one input), labelled (``trainlab.pictures.inputs``),
    at step = epoch: every ``every_n_epochs`` epochs and at the last epoch, however training
    ended (max_epochs, early stopping, max_steps, max_time). Then, with the best weights
    restored, the same pictures of the best epoch (the module's record's ``best_epoch``) as
    ``pictures/best/<name>`` at step = best epoch: a tag of their own, since TensorBoard drops
    a series' records from any step it sees again (a later step logged first would vanish).

    ``x``, ``y``: the training points (``y`` in the target's units), ``scores``: the model's
    output to probabilities or values. The axes, classes and target are named from the
    trainer's DataModule's data (``PlaneLabels.of``), else ``PlaneLabels.plain``; each title
    holds the epoch, the accuracy (mean absolute error for regression) on the training points
    and the epoch's validation value from the module's ``history`` when it has one (so a
    periodic epoch is drawn at the next epoch's start, after the module has recorded it, with
    the same weights).
    """

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
        self.pictures: InputPictures | None = None
        self._drawn: set[int] = set()  # epochs logged under pictures/
        self._last_epoch: int | None = None
        self._pending: int | None = None  # an epoch to draw at the next hook

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.x, self.y = self.x.to(pl_module.device), self.y.to(pl_module.device)
        data = getattr(trainer.datamodule, "data", None)
        labels = PlaneLabels.of(data) if isinstance(data, TabularData) else None
        self.pictures = InputPictures(self.x, self.y, self.task, self.scores, labels, self.size, self.neurons)
        self._drawn, self._last_epoch, self._pending = set(), None, None

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Lightning calls this before the module's on_train_epoch_end, which validates and
        # records the epoch: the epoch is drawn at the next hook, with the same weights.
        if trainer.sanity_checking:
            return
        self._last_epoch = trainer.current_epoch + 1
        if self._last_epoch % self.every_n_epochs == 0:
            self._pending = self._last_epoch

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._draw_pending(trainer, pl_module)  # no optimizer step since the epoch ended

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """The pending epoch's pictures, then the last epoch's (its weights are still the
        model's) unless just drawn."""
        self._draw_pending(trainer, pl_module)
        writer = tensorboard_writer(trainer)
        epoch = self._last_epoch
        if writer is not None and epoch is not None and epoch not in self._drawn:
            self.log_epoch(writer, pl_module, epoch)

    def _draw_pending(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch, self._pending = self._pending, None
        writer = tensorboard_writer(trainer)
        if epoch is not None and writer is not None:
            self.log_epoch(writer, pl_module, epoch)

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        """The best epoch's pictures: after the fit, whose end put the best weights back
        (``TrainingModule``: its record names the best epoch)."""
        writer = tensorboard_writer(trainer)
        records = getattr(pl_module, "records", None)
        best_epoch = records[0].best_epoch if records else None
        if stage != "fit" or writer is None or best_epoch is None:
            return
        if self._last_epoch is None:  # no epoch trained in this fit (a resumed, finished run)
            return
        self.log_epoch(writer, pl_module, best_epoch, True)

    def log_epoch(self, writer: SummaryWriter, pl_module: L.LightningModule, epoch: int, best: bool = False) -> None:
        # best is positional where passed: bench.py's timing wrapper forwards positional arguments only
        if self.pictures is None:
            return
        history = getattr(pl_module, "history", [])
        for tag, image in epoch_pictures(self.pictures, pl_module.model, history, self.task, epoch, best).items():
            log_image(writer, tag, image, epoch)
        if not best:
            self._drawn.add(epoch)


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
