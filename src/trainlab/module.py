"""The LightningModule: a model, a loss, metrics per stage, an optimizer and a scheduler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch import nn
from torchmetrics import MeanMetric

from trainlab.losses import Loss
from trainlab.metrics import task_metrics

STAGES = ("train", "val", "test")


class TrainingModule(L.LightningModule):
    """Trains ``model`` on ``loss`` with the optimizer from ``optimizer(params)``.

    Loss and metrics accumulate on the device during an epoch and are logged once at
    its end as ``{stage}/loss`` and ``{stage}/{metric}``; the learning rate as ``lr``.
    ``checkpoint_extra`` (plain data: the model spec, the preprocessing) is stored in each
    checkpoint under ``"trainlab"``, so a checkpoint alone can predict.
    ``history`` holds one dict per finished training epoch (epoch counted from 1, train and val
    metrics, lr), like Keras's History.
    """

    def __init__(
        self,
        model: nn.Module,
        loss: Loss,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        monitor: str = "val/loss",
        n_classes: int | None = None,
        n_targets: int = 1,
        checkpoint_extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.loss = loss
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.monitor = monitor
        # Keyed "train_", "val_", "test_": nn.Module already has an attribute named train.
        self.metrics = nn.ModuleDict({f"{s}_": task_metrics(loss.task, s, n_classes, n_targets) for s in STAGES})
        self.mean_loss = nn.ModuleDict({f"{s}_": MeanMetric() for s in STAGES})
        self.checkpoint_extra = checkpoint_extra or {}
        self.history: list[dict[str, float]] = []
        self._val_row: dict[str, float] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        x, y = batch
        output = self.model(x)
        loss = self.loss(output, y)
        self.mean_loss[f"{stage}_"].update(loss.detach(), weight=len(x))
        self.metrics[f"{stage}_"].update(self.loss.scores(output.detach()), self.loss.targets(y))
        return loss

    def _epoch_values(self, stage: str) -> dict[str, float]:
        mean_loss, metrics = self.mean_loss[f"{stage}_"], self.metrics[f"{stage}_"]
        values = {f"{stage}/loss": mean_loss.compute(), **metrics.compute()}
        mean_loss.reset()
        metrics.reset()
        self.log_dict(values)
        return {k: float(v) for k, v in values.items()}

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "test")

    def on_validation_epoch_end(self) -> None:
        self._val_row = self._epoch_values("val")

    def on_test_epoch_end(self) -> None:
        self._epoch_values("test")

    def on_train_epoch_end(self) -> None:
        row: dict[str, float] = {"epoch": self.current_epoch + 1, **self._epoch_values("train"), **self._val_row}
        row["lr"] = self.trainer.optimizers[0].param_groups[0]["lr"]
        self.log("lr", row["lr"])
        self.history.append(row)
        self._val_row = {}

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(self.model.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "epoch", "monitor": self.monitor},
        }

    @torch.no_grad()
    def predict_scores(self, x: torch.Tensor) -> torch.Tensor:
        """P(y=1) for binary, class probabilities for multiclass, values for regression."""
        return self.loss.scores(self.model(x))

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["history"] = self.history
        checkpoint["trainlab"] = self.checkpoint_extra

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.history = list(checkpoint.get("history", []))
