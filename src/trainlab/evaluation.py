"""A split's loss and metrics: torchmetrics accumulated over batches, read once."""

from __future__ import annotations

import torch
from torch import nn

from trainlab.data.loader import EVAL_BATCH
from trainlab.losses import Loss
from trainlab.metrics import task_metrics

STAGES = ("val", "test")


class Evaluation(nn.Module):
    """``{stage}/loss`` (the mean loss over the split's rows) and ``{stage}/{metric}``
    (``trainlab.metrics``) for stage in val and test.

    ``update`` adds a batch's outputs; ``compute`` reads the whole split's values from the
    device at once and resets. ``evaluate`` does both for tensors already on the device.
    """

    def __init__(self, loss: Loss, n_classes: int | None = None, n_targets: int = 1) -> None:
        super().__init__()
        self.loss = loss
        # Keyed "val_", "test_": nn.Module already has an attribute named train.
        self.metrics = nn.ModuleDict({f"{s}_": task_metrics(loss.task, s, n_classes, n_targets) for s in STAGES})
        self._loss_sum: torch.Tensor | float = 0.0
        self._rows = 0

    def update(self, output: torch.Tensor, y: torch.Tensor, stage: str) -> None:
        self.metrics[f"{stage}_"].update(self.loss.scores(output), self.loss.targets(y))
        self._loss_sum = self._loss_sum + self.loss(output, y).detach() * len(y)
        self._rows += len(y)

    def compute(self, stage: str) -> dict[str, float]:
        metrics = self.metrics[f"{stage}_"]
        values = {f"{stage}/loss": self._loss_sum / self._rows, **metrics.compute()}
        metrics.reset()
        self._loss_sum, self._rows = 0.0, 0
        floats = torch.stack([torch.as_tensor(v, dtype=torch.float32) for v in values.values()]).tolist()
        return dict(zip(values, floats, strict=True))

    @torch.no_grad()
    def evaluate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, stage: str) -> dict[str, float]:
        """``model`` (in eval mode: dropout off; back in training mode after) on all of ``x``, ``y``."""
        model.eval()
        for start in range(0, len(x), EVAL_BATCH):
            self.update(model(x[start : start + EVAL_BATCH]), y[start : start + EVAL_BATCH], stage)
        model.train()
        return self.compute(stage)


def limited_rows(n: int, limit: float | int | None) -> int:
    """How many of ``n`` rows ``trainer.limit_val_batches`` leaves: all for None, a fraction
    for a float, that many batches of ``EVAL_BATCH`` rows for an int."""
    if limit is None:
        return n
    if isinstance(limit, float):
        return int(n * limit)
    return min(n, limit * EVAL_BATCH)
