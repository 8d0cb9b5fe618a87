"""A loss and the training metric per member of a stack: outputs [M, B, K], targets [M, B, ...].

Member m's value is what ``trainlab.training.losses.Loss`` gives for output[m] and target[m] alone:
the mean loss over its B rows (and outputs), and the sum of its training metric (correct
predictions, or |y_hat - y| in the target's units, scaled by member m's ``target_std``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from trainlab.training.losses import Loss


def member_losses(loss: Loss, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """[M]: each member's mean loss (see ``trainlab.training.losses`` for the formulas)."""
    m = output.shape[0]
    if loss.name == "bce":
        per_row = F.binary_cross_entropy_with_logits(output.squeeze(-1), target.to(output.dtype), reduction="none")
    elif loss.name == "cross_entropy":
        per_row = F.cross_entropy(output.flatten(0, 1), target.flatten(), reduction="none")
    elif loss.task == "regression":
        per_row = (output - target.view_as(output)) ** 2
    else:  # mse on the predicted probabilities
        if output.shape[-1] == 1:
            per_row = (torch.sigmoid(output.squeeze(-1)) - target.to(output.dtype)) ** 2
        else:
            one_hot = F.one_hot(target, output.shape[-1]).to(output.dtype)
            per_row = (torch.softmax(output, dim=-1) - one_hot) ** 2
    return per_row.reshape(m, -1).mean(1)


def member_metric_sums(
    loss: Loss, output: torch.Tensor, target: torch.Tensor, target_std: torch.Tensor
) -> torch.Tensor:
    """[M]: each member's training metric summed over its rows (``target_std`` [M] scales
    regression errors to the target's units)."""
    m = output.shape[0]
    if loss.task == "regression":
        return (output.view_as(target) - target).abs().reshape(m, -1).sum(1) * target_std
    if output.shape[-1] == 1:
        predicted = (output.squeeze(-1) > 0).long()
    elif output.shape[-1] == 2:  # ties to class 0, as argmax
        predicted = (output[..., 1] > output[..., 0]).long()
    else:
        predicted = output.argmax(-1)
    return (predicted == target).sum(1).to(output.dtype)
