"""A split's loss and metrics for every member of a stack at once: outputs [M, N, K].

Member m's values are those ``trainlab.training.evaluation.Evaluation.values`` gives for output[m]
and target[m] alone (``trainlab.training.metrics``), computed for all members in one set of ops for
classification: with a thousand members, one evaluation per member was most of an
epoch's time on a GPU. Binary: acc and F1 from the confusion counts; AUROC as the
Mann-Whitney statistic, (sum of the positives' ranks - P(P + 1)/2) / (P·N_neg) with tied
scores given their mean rank, which is the area under the ROC curve with ties counted half
(0 where a member's split has only one class, as torchmetrics gives). Multiclass: acc the
fraction whose most probable class is right; F1 the mean over classes of 2TP / (2TP + FP +
FN), leaving out classes neither predicted nor present (as torchmetrics' macro average).
Regression: each member's own ``Evaluation`` (its targets' units may differ).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from trainlab.training.evaluation import Evaluation
from trainlab.training.stack.losses import member_losses


@torch.no_grad()
def member_values(evaluations: Sequence[Evaluation], output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """[M, V]: each member's values, float32, in the order of ``Evaluation.values``'s names
    (``evaluations[m]`` is member m's; they share a loss and task)."""
    loss = evaluations[0].loss
    if loss.task == "regression":
        rows = [torch.stack(list(e.values(output[m], y[m]).values())) for m, e in enumerate(evaluations)]
        return torch.stack(rows)
    losses = member_losses(loss, output, y)
    if loss.task == "binary":
        if output.shape[-1] == 1:
            p = torch.sigmoid(output.squeeze(-1))
        else:
            p = torch.sigmoid(output[..., 1] - output[..., 0])  # = softmax(output)[..., 1]
        columns = [losses, *_binary(p, y)]
    else:
        columns = [losses, *_multiclass(torch.softmax(output, dim=-1), y)]
    return torch.stack([c.to(torch.float32) for c in columns], dim=1)


def _binary(p: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """acc, f1, auroc of P(y=1) ``p`` [M, N] against 0/1 ``y`` [M, N]."""
    n = p.shape[1]
    predicted, positive = p > 0.5, y.bool()
    true_positives = (predicted & positive).sum(1)
    wrong = (predicted ^ positive).sum(1)
    denominator = 2 * true_positives + wrong
    f1 = torch.where(denominator > 0, 2 * true_positives / denominator.clamp(min=1), 0.0)
    return [1 - wrong / n, f1, _auroc(p, positive)]


def _auroc(p: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
    """[M]: the Mann-Whitney AUROC of each row (see the module doc)."""
    n = p.shape[1]
    ordered, order = p.sort(dim=1)
    index = torch.arange(n, device=p.device).expand_as(p)
    starts = torch.ones_like(positive)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]  # a tie group begins here
    ends = torch.ones_like(positive)
    ends[:, :-1] = starts[:, 1:]  # a tie group ends here
    first = torch.where(starts, index, 0).cummax(1).values
    last = torch.where(ends, index, n - 1).flip(1).cummin(1).values.flip(1)
    ranks = (first + last).double() / 2 + 1
    pos = positive.gather(1, order)
    n_pos = pos.sum(1).double()
    n_neg = n - n_pos
    u = (ranks * pos).sum(1) - n_pos * (n_pos + 1) / 2
    return torch.where(n_pos * n_neg > 0, u / (n_pos * n_neg).clamp(min=1), 0.0)


def _multiclass(probabilities: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """acc, macro f1 of class probabilities [M, N, C] against class indices ``y`` [M, N]."""
    n_classes = probabilities.shape[-1]
    predicted = F.one_hot(probabilities.argmax(-1), n_classes).bool()
    actual = F.one_hot(y, n_classes).bool()
    true_positives = (predicted & actual).sum(1)  # [M, C]
    counted = predicted.sum(1) + actual.sum(1)  # 2TP + FP + FN
    f1 = torch.where(counted > 0, 2 * true_positives / counted.clamp(min=1), 0.0)
    present = counted > 0
    macro = (f1 * present).sum(1) / present.sum(1).clamp(min=1)
    return [true_positives.sum(1) / y.shape[1], macro]
