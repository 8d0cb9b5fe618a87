"""A split's metrics per task, for one model or every member of a stack at once: scores [M, N, ...].

Each is computed from the whole split in one set of ops, with a leading member axis (one
model is M = 1): with a thousand members, one evaluation per member was most of an epoch's
time on a GPU, and for one model the Metric machinery of torchmetrics (update wrappers,
state resets, sync contexts) was most of a small model's validation time. The arithmetic is
torchmetrics' functional forms', op for op, so one model's values equal torchmetrics' bit for
bit (``tests/test_metrics.py`` holds them to torchmetrics' Metric classes and scikit-learn):

- binary, from P(y=1) and 0/1 targets: acc at threshold 0.5 and F1 of class 1 from the
  confusion counts (acc = (TP + TN) / N, F1 = 2 TP / (2 TP + FP + FN), 0 when undefined);
  AUROC by the trapezoid rule over the ROC curve's points at each distinct score (ties
  counted half; 0 where a split has one class only);
- multiclass, from class probabilities and class indices: acc the fraction whose most probable
  class is right; F1 the mean over classes of 2 TP / (2 TP + FP + FN), leaving out the
  classes neither predicted nor present;
- regression, in the target's units ([M, N] or [M, N, T]): mae and mse over every value; r2 =
  1 - RSS / TSS per target, averaged over the T targets.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from trainlab.config.options import METRICS


@torch.no_grad()
def split_metrics(task: str, scores: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
    """``METRICS[task]`` of each member's ``scores`` against its ``targets`` (member axis first),
    as [M] tensors on their device."""
    if task == "binary":
        return dict(zip(METRICS[task], _binary(scores, targets), strict=True))
    if task == "multiclass":
        return dict(zip(METRICS[task], _multiclass(scores, targets), strict=True))
    return dict(zip(METRICS[task], _regression(scores, targets), strict=True))


def _binary(p: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """acc, f1, auroc of P(y=1) ``p`` [M, N] against 0/1 ``y`` [M, N]."""
    predicted, positive = p > 0.5, y.bool()
    true_positives = (predicted & positive).sum(1)
    wrong = (predicted ^ positive).sum(1)  # FP + FN
    denominator = 2 * true_positives + wrong
    f1 = torch.where(denominator > 0, 2 * true_positives / denominator.clamp(min=1), 0.0)
    return [1 - wrong / p.shape[1], f1, _auroc(p, positive)]


def _auroc(p: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
    """[M]: each row's area under its ROC curve (torchmetrics' ``binary_auroc``, row by row).

    The points are the true and false positives above each distinct score, from the highest
    (the last row of each tie group, in descending order); each row's points are gathered to
    its front and the row padded with its last point, so padding adds segments of no width."""
    m, n = p.shape
    ordered, order = p.sort(dim=1, descending=True)
    true_positives = (positive.gather(1, order).long() * 1.0).cumsum(1)
    ends = torch.ones_like(positive)
    ends[:, :-1] = ordered[:, 1:] != ordered[:, :-1]  # the last row of a tie group
    false_positives = 1 + torch.arange(n, device=p.device) - true_positives
    count = ends.sum(1, keepdim=True)
    width = int(count.max())  # one model: exactly its points, as torchmetrics takes them
    front = (~ends).to(torch.uint8).argsort(dim=1, stable=True)[:, :width]
    padded = torch.arange(width, device=p.device) < count
    points = torch.where(padded, front, front.gather(1, count - 1))
    zero = torch.zeros(m, 1, device=p.device)
    tps = torch.cat([zero, true_positives.gather(1, points)], 1)
    fps = torch.cat([zero, false_positives.gather(1, points)], 1)
    return torch.trapz(_safe_divide(tps, tps[:, -1:]), _safe_divide(fps, fps[:, -1:]), dim=1)


def _multiclass(probabilities: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """acc, macro f1 of class probabilities [M, N, C] against class indices ``y`` [M, N]."""
    n_classes = probabilities.shape[-1]
    predicted = F.one_hot(probabilities.argmax(-1), n_classes)
    actual = F.one_hot(y, n_classes)
    true_positives = (predicted * actual).sum(1)  # [M, C]
    false_positives = (predicted * (1 - actual)).sum(1)
    false_negatives = ((1 - predicted) * actual).sum(1)
    acc = _safe_divide(true_positives.sum(1), (true_positives + false_negatives).sum(1))
    f1 = _safe_divide(2.0 * true_positives, 2.0 * true_positives + 1.0 * false_negatives + false_positives)
    counted = (true_positives + false_positives + false_negatives != 0).to(f1.dtype)  # predicted or present
    return [acc, _safe_divide(counted * f1, counted.sum(-1, keepdim=True)).sum(-1)]


def _regression(predicted: torch.Tensor, target: torch.Tensor) -> list[torch.Tensor]:
    """mae, mse, r2 of ``predicted`` against ``target`` ([M, N] or [M, N, T])."""
    error = predicted - target
    n_values = error[0].numel()
    mae = error.abs().reshape(len(error), -1).sum(1) / n_values
    mse = (error * error).reshape(len(error), -1).sum(1) / n_values
    if target.dim() == 2:  # one target: [M, N, 1]
        predicted, target = predicted.unsqueeze(-1), target.unsqueeze(-1)
    rows = target.shape[1]
    total = target.sum(1)
    total_squares = (target * target).sum(1)
    residual = target - predicted
    rss = (residual * residual).sum(1)
    tss = total_squares - total * (total / rows)
    # Near-constant targets, as torchmetrics takes them: 1 for a near-exact fit, else 0 where TSS ~ 0.
    fitted, spread = (~torch.isclose(v, torch.zeros_like(v), atol=1e-4) for v in (rss, tss))
    r2 = torch.where(fitted & spread, 1 - rss / tss, torch.where(fitted, 0.0, 1.0))
    return [mae, mse, r2.mean(-1)]


def _safe_divide(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """``numerator / denominator`` in floats, 0 where the denominator is 0."""
    numerator = numerator if numerator.is_floating_point() else numerator.float()
    denominator = denominator if denominator.is_floating_point() else denominator.float()
    return torch.where(denominator != 0, numerator / denominator, torch.zeros((), device=numerator.device))
