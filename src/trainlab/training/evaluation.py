"""A split's loss and metrics, computed once from the whole split's outputs."""

from __future__ import annotations

import torch

from trainlab.data.loader import EVAL_BATCH
from trainlab.training.losses import Loss
from trainlab.training.metrics import task_metrics


class Evaluation:
    """``{stage}/loss`` (the mean loss over the split's rows) and ``{stage}/{metric}``
    (``trainlab.training.metrics``) of one split.

    ``update`` keeps a batch's outputs (detached, on their device); ``compute`` concatenates
    them, computes every value at once, reads them from the device in one transfer and
    starts over. ``evaluate`` does both for a split already on the device.
    """

    def __init__(self, loss: Loss, n_classes: int | None = None) -> None:
        self.loss, self.n_classes = loss, n_classes
        self._outputs: list[torch.Tensor] = []
        self._targets: list[torch.Tensor] = []

    def update(self, output: torch.Tensor, y: torch.Tensor) -> None:
        self._outputs.append(output.detach())
        self._targets.append(y)

    def compute(self, stage: str) -> dict[str, float]:
        if not self._outputs:
            return {}
        output, y = torch.cat(self._outputs), torch.cat(self._targets)
        self._outputs, self._targets = [], []
        values = self.values(output, y)
        floats = torch.stack(list(values.values())).tolist()  # one wait for the device
        return {f"{stage}/{name}": value for name, value in zip(values, floats, strict=True)}

    @torch.no_grad()
    def values(self, output: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """The loss and metrics of ``output`` against ``y``, as float32 0-d tensors on their
        device (nothing is read back: a caller can read many evaluations at once)."""
        metrics = task_metrics(self.loss.task, self.loss.scores(output), self.loss.targets(y), self.n_classes)
        return {name: value.to(torch.float32) for name, value in {"loss": self.loss(output, y), **metrics}.items()}

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, stage: str) -> dict[str, float]:
        """``model`` (in eval mode: dropout off; back in training mode after) on all of ``x``, ``y``."""
        model.eval()
        for start in range(0, len(x), EVAL_BATCH):
            self.update(model(x[start : start + EVAL_BATCH]), y[start : start + EVAL_BATCH])
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
