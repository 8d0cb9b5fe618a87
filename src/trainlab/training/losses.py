"""Loss functions by name, and the task each one serves; each written once for one model and a stack.

Tasks: ``binary`` (labels 0/1), ``multiclass`` (labels 0..C-1), ``regression`` (real targets).

- ``bce``: binary cross-entropy on one logit z per sample,
  J = -mean[y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))]; binary tasks only.
- ``cross_entropy``: softmax cross-entropy on C logits, J = -mean log softmax(z)_y;
  binary (C = 2) and multiclass tasks.
- ``mse``: J = mean (y_hat - y)^2; for regression y_hat is the output, for classification
  it is the predicted probability (sigmoid or softmax) and y the one-hot label.
- ``auto``: bce for binary, cross_entropy for multiclass, mse for regression.

Networks output logits; the loss applies the sigmoid/softmax itself, in the stable
log-sum-exp form.

**The member axis.** Outputs are [B, K] for one model or [M, B, K] for a stack of M members
(targets [B, ...] or [M, B, ...]). A stack's values are per member ([M]): member m's is what
one model gives for output[m] and target[m] alone. One model's loss is the fused mean of
torch's loss functions; a stack's is the same function's per-row values, averaged per member
(the same formula: member m's value equals one model's to float32 noise).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainlab.config.options import LOSSES, TASKS
from trainlab.errors import ConfigError

_FITS = {
    "bce": ("binary",),
    "cross_entropy": ("binary", "multiclass"),
    "mse": ("binary", "multiclass", "regression"),
}
_AUTO = {"binary": "bce", "multiclass": "cross_entropy", "regression": "mse"}
assert set(_AUTO) == set(TASKS)


def resolve_loss(name: str, task: str, n_classes: int | None = None) -> str:
    """The concrete loss for ``name`` on ``task``; raises ConfigError if it does not fit."""
    if name not in LOSSES:
        raise ConfigError(f"loss={name!r} is not a loss; allowed: {', '.join(LOSSES)}")
    if name == "auto":
        return _AUTO[task]
    if task not in _FITS[name]:
        what = f"{task} ({n_classes} classes)" if n_classes else task
        fits = " or ".join(f"loss={loss}" for loss, tasks in _FITS.items() if task in tasks)
        raise ConfigError(f"loss={name} does not fit the data's task, {what}; use {fits} (or loss=auto)")
    return name


def n_outputs(loss: str, task: str, n_classes: int | None, n_targets: int = 1) -> int:
    """The network's output size for a concrete ``loss`` on ``task``."""
    if task == "regression":
        return n_targets
    if task == "binary" and loss in ("bce", "mse"):
        return 1
    assert n_classes is not None
    return n_classes


class Loss(nn.Module):
    """A loss J(output, target) for a concrete loss name and task (see the module doc).

    Regression targets arrive standardized; ``target_mean`` and ``target_std`` map outputs
    and targets back to their units for the metrics (``scores``, ``targets``): floats for one
    model, or tensors [M] for a stack whose members' targets were standardized each alone.
    """

    def __init__(
        self, name: str, task: str, target_mean: float | torch.Tensor = 0.0, target_std: float | torch.Tensor = 1.0
    ) -> None:
        super().__init__()
        if name not in _FITS or task not in _FITS[name]:
            raise ConfigError(f"loss={name} does not fit task {task}")
        self.name = name
        self.task = task
        for key, value in (("target_mean", target_mean), ("target_std", target_std)):
            if isinstance(value, torch.Tensor):  # moves with the module; not part of a checkpoint
                self.register_buffer(key, value.to(torch.float32), persistent=False)
            else:
                setattr(self, key, value)

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The mean loss over the rows: a 0-d tensor for [B, K] outputs, [M] for [M, B, K]."""
        stacked = output.dim() == 3
        reduction = "none" if stacked else "mean"
        if self.name == "bce":
            loss = F.binary_cross_entropy_with_logits(output.squeeze(-1), target.to(output.dtype), reduction=reduction)
        elif self.name == "cross_entropy":
            loss = F.cross_entropy(output.flatten(0, -2), target.flatten(), reduction=reduction)
        elif self.task == "regression":
            loss = F.mse_loss(output, target.view_as(output), reduction=reduction)
        else:  # mse on the predicted probabilities
            proba = torch.sigmoid(output.squeeze(-1)) if output.shape[-1] == 1 else torch.softmax(output, dim=-1)
            wanted = target if proba.dim() == target.dim() else F.one_hot(target, proba.shape[-1])
            loss = F.mse_loss(proba, wanted.to(proba.dtype), reduction=reduction)
        return loss.reshape(output.shape[0], -1).mean(1) if stacked else loss

    def scores(self, output: torch.Tensor) -> torch.Tensor:
        """What the metrics read: P(y=1) [..., N] for binary, class probabilities [..., N, C] for
        multiclass, the predicted values in the target's units for regression."""
        if self.task == "regression":
            values = output.squeeze(-1) if output.shape[-1] == 1 else output
            return values * self._per_member(self.target_std, values) + self._per_member(self.target_mean, values)
        if self.task == "binary":
            if output.shape[-1] == 1:
                return torch.sigmoid(output.squeeze(-1))
            return torch.sigmoid(output[..., 1] - output[..., 0])  # = softmax(output)[..., 1], one pass
        return torch.softmax(output, dim=-1)

    def targets(self, target: torch.Tensor) -> torch.Tensor:
        """What the metrics compare ``scores`` with: regression targets in their units."""
        if self.task == "regression":
            return target * self._per_member(self.target_std, target) + self._per_member(self.target_mean, target)
        return target

    @property
    def train_metric_name(self) -> str:
        """The metric tracked during training: acc for classification, mae for regression."""
        return "mae" if self.task == "regression" else "acc"

    def train_metric_sum(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Its sum over the rows, on the device: correct predictions, or |y_hat - y| in the
        target's units; a 0-d tensor for one model, [M] for a stack."""
        if self.task == "regression":
            errors = (output.view_as(target) - target).abs()
            return self._rows_sum(errors, output) * self._per_member(self.target_std, output[..., 0, 0])
        if output.shape[-1] == 1:
            predicted = (output.squeeze(-1) > 0).long()
        elif output.shape[-1] == 2:  # argmax of two columns (ties to 0, as argmax), several times cheaper
            predicted = (output[..., 1] > output[..., 0]).long()
        else:
            predicted = output.argmax(-1)
        return self._rows_sum(predicted == target, output).to(output.dtype)

    @staticmethod
    def _rows_sum(values: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """``values`` summed over all of a model's rows (and targets): per member for a stack."""
        return values.reshape(output.shape[0], -1).sum(1) if output.dim() == 3 else values.sum()

    @staticmethod
    def _per_member(scale: float | torch.Tensor, like: torch.Tensor) -> float | torch.Tensor:
        """A member's scale (tensor [M]) shaped to broadcast over its rows of ``like`` [M, ...]."""
        if not isinstance(scale, torch.Tensor):
            return scale
        return scale.view(-1, *[1] * (like.dim() - 1))

    def extra_repr(self) -> str:
        return f"name={self.name}, task={self.task}"
