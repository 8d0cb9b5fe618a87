"""Loss functions by name, and the task each one serves.

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
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainlab.config.options import LOSSES
from trainlab.errors import ConfigError

_FITS = {
    "bce": ("binary",),
    "cross_entropy": ("binary", "multiclass"),
    "mse": ("binary", "multiclass", "regression"),
}
_AUTO = {"binary": "bce", "multiclass": "cross_entropy", "regression": "mse"}


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
    and targets back to their units for the metrics (``scores``, ``targets``).
    """

    def __init__(self, name: str, task: str, target_mean: float = 0.0, target_std: float = 1.0) -> None:
        super().__init__()
        if name not in _FITS or task not in _FITS[name]:
            raise ConfigError(f"loss={name} does not fit task {task}")
        self.name = name
        self.task = task
        self.target_mean = target_mean
        self.target_std = target_std

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.name == "bce":
            return F.binary_cross_entropy_with_logits(output.squeeze(-1), target.to(output.dtype))
        if self.name == "cross_entropy":
            return F.cross_entropy(output, target)
        if self.task == "regression":
            return F.mse_loss(output, target.view_as(output))
        proba = self.scores(output)
        if self.task == "binary":
            return F.mse_loss(proba, target.to(proba.dtype))
        return F.mse_loss(proba, F.one_hot(target, proba.shape[-1]).to(proba.dtype))

    def scores(self, output: torch.Tensor) -> torch.Tensor:
        """What the metrics read: P(y=1) [N] for binary, class probabilities [N, C] for
        multiclass, the predicted values for regression."""
        if self.task == "regression":
            values = output.squeeze(-1) if output.shape[-1] == 1 else output
            return values * self.target_std + self.target_mean
        if self.task == "binary":
            if output.shape[-1] == 1:
                return torch.sigmoid(output.squeeze(-1))
            return torch.sigmoid(output[:, 1] - output[:, 0])  # = softmax(output)[:, 1], one pass
        return torch.softmax(output, dim=-1)

    @property
    def train_metric_name(self) -> str:
        """The metric tracked during training: acc for classification, mae for regression."""
        return "mae" if self.task == "regression" else "acc"

    def train_metric_sum(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Its sum over the batch, on the device: correct predictions, or |y_hat - y| in
        the target's units."""
        if self.task == "regression":
            return (output.view_as(target) - target).abs().sum() * self.target_std
        if output.shape[-1] == 1:
            predicted = (output.squeeze(-1) > 0).long()
        elif output.shape[-1] == 2:  # argmax of two columns (ties to 0, as argmax), several times cheaper
            predicted = (output[:, 1] > output[:, 0]).long()
        else:
            predicted = output.argmax(-1)
        return (predicted == target).sum()

    def targets(self, target: torch.Tensor) -> torch.Tensor:
        """What the metrics compare ``scores`` with: regression targets in their units."""
        if self.task == "regression":
            return target * self.target_std + self.target_mean
        return target

    def extra_repr(self) -> str:
        return f"name={self.name}, task={self.task}"
