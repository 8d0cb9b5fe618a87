"""The evaluation metrics per task, computed from a whole split's scores at once.

Each is torchmetrics' functional form (the same definitions as its Metric classes), called
once per evaluation on the whole split rather than accumulated in Metric state: a split
fits on its device, and the Metric machinery (update wrappers, state resets, sync
contexts) was most of a small model's validation time. Binary accuracy and F1 come from one
confusion count (acc = (TP + TN) / N, F1 = 2 TP / (2 TP + FP + FN), 0 when undefined, as
torchmetrics' zero_division=0), which is cheaper than torchmetrics' two passes.
"""

from __future__ import annotations

import torch
from torchmetrics.functional import mean_absolute_error, mean_squared_error, r2_score
from torchmetrics.functional.classification import binary_auroc, multiclass_accuracy, multiclass_f1_score


def task_metrics(task: str, scores: torch.Tensor, targets: torch.Tensor, n_classes: int | None = None) -> dict:
    """``METRICS[task]`` of ``scores`` against ``targets``, as 0-d tensors on their device.

    binary: ``scores`` P(y=1) [N], ``targets`` 0/1 [N]; acc at threshold 0.5, f1 of class 1,
    auroc (exact, ties counted half). multiclass: ``scores`` class probabilities [N, C],
    ``targets`` class indices [N]; acc micro-averaged (the fraction correct), f1 the
    unweighted mean over classes. regression: ``scores`` and ``targets`` [N] or [N, T] in
    the target's units; mae and mse over every value, r2 averaged over the T targets.
    """
    if task == "binary":
        predicted, positive = scores > 0.5, targets.bool()
        true_positives = (predicted & positive).sum()
        wrong = (predicted ^ positive).sum()  # FP + FN
        f1_denominator = 2 * true_positives + wrong
        return {
            "acc": 1 - wrong / len(targets),
            "f1": torch.where(f1_denominator > 0, 2 * true_positives / f1_denominator.clamp(min=1), 0.0),
            "auroc": binary_auroc(scores, targets, validate_args=False),
        }
    if task == "multiclass":
        return {
            "acc": multiclass_accuracy(scores, targets, n_classes, average="micro", validate_args=False),
            "f1": multiclass_f1_score(scores, targets, n_classes, average="macro", validate_args=False),
        }
    return {
        "mae": mean_absolute_error(scores, targets),
        "mse": mean_squared_error(scores, targets),
        "r2": r2_score(scores, targets, multioutput="uniform_average"),
    }
