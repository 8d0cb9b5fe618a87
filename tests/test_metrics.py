"""The evaluation metrics equal torchmetrics' Metric classes (and scikit-learn's), including
ties in the scores and batches accumulated by Evaluation."""

import pytest
import torch
from sklearn.metrics import f1_score, roc_auc_score
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryAUROC,
    BinaryF1Score,
    MulticlassAccuracy,
    MulticlassF1Score,
)
from torchmetrics.regression import MeanAbsoluteError, MeanSquaredError, R2Score

from trainlab.config.options import METRICS, metric_names
from trainlab.training.evaluation import Evaluation
from trainlab.training.losses import Loss
from trainlab.training.metrics import task_metrics


def values(task, scores, targets, n_classes=None):
    return {k: v.item() for k, v in task_metrics(task, scores, targets, n_classes).items()}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_metrics_equal_torchmetrics_with_ties(seed):
    g = torch.Generator().manual_seed(seed)
    scores = (torch.rand(1000, generator=g) * 20).round() / 20  # 21 distinct values: many ties
    targets = (torch.rand(1000, generator=g) < scores * 0.8 + 0.1).long()
    got = values("binary", scores, targets)
    assert got["acc"] == pytest.approx(BinaryAccuracy()(scores, targets).item(), abs=1e-6)
    assert got["f1"] == pytest.approx(BinaryF1Score()(scores, targets).item(), abs=1e-6)
    assert got["auroc"] == pytest.approx(BinaryAUROC()(scores, targets).item(), abs=1e-6)
    assert got["auroc"] == pytest.approx(roc_auc_score(targets.numpy(), scores.numpy()), abs=1e-6)
    assert got["f1"] == pytest.approx(f1_score(targets.numpy(), (scores > 0.5).numpy()), abs=1e-6)


def test_binary_f1_is_zero_without_positives_or_predictions():
    scores, targets = torch.full((10,), 0.2), torch.zeros(10, dtype=torch.long)
    got = values("binary", scores, targets)
    assert got["f1"] == 0.0 and got["acc"] == 1.0


def test_multiclass_metrics_equal_torchmetrics():
    g = torch.Generator().manual_seed(0)
    scores = torch.softmax(torch.randn(500, 4, generator=g), -1)
    targets = torch.randint(0, 4, (500,), generator=g)
    targets[targets == 3] = 0  # a class never present: macro f1 as torchmetrics counts it
    got = values("multiclass", scores, targets, 4)
    assert got["acc"] == pytest.approx(MulticlassAccuracy(4, average="micro")(scores, targets).item(), abs=1e-6)
    assert got["f1"] == pytest.approx(MulticlassF1Score(4, average="macro")(scores, targets).item(), abs=1e-6)


@pytest.mark.parametrize("shape", [(300,), (300, 3)])
def test_regression_metrics_equal_torchmetrics(shape):
    g = torch.Generator().manual_seed(0)
    targets = torch.randn(shape, generator=g)
    scores = targets + 0.3 * torch.randn(shape, generator=g)
    got = values("regression", scores, targets)
    assert got["mae"] == pytest.approx(MeanAbsoluteError()(scores, targets).item(), rel=1e-6)
    assert got["mse"] == pytest.approx(MeanSquaredError()(scores, targets).item(), rel=1e-6)
    r2 = R2Score(multioutput="uniform_average")
    assert got["r2"] == pytest.approx(r2(scores, targets).item(), rel=1e-6)


def test_evaluation_over_batches_equals_one_pass_and_the_mean_loss():
    g = torch.Generator().manual_seed(0)
    logits, y = torch.randn(1000, 2, generator=g), torch.randint(0, 2, (1000,), generator=g)
    loss = Loss("cross_entropy", "binary")
    evaluation = Evaluation(loss)
    for start in range(0, 1000, 300):  # uneven batches: the loss is the mean over rows
        evaluation.update(logits[start : start + 300], y[start : start + 300])
    got = evaluation.compute("test")
    assert list(got) == ["test/loss", *(f"test/{m}" for m in METRICS["binary"])]
    assert got["test/loss"] == pytest.approx(torch.nn.functional.cross_entropy(logits, y).item(), rel=1e-6)
    probabilities = torch.softmax(logits, -1)[:, 1]
    assert got["test/auroc"] == pytest.approx(roc_auc_score(y.numpy(), probabilities.numpy()), abs=1e-6)
    assert evaluation.compute("test") == {}  # started over


def test_metric_names_per_task():
    assert metric_names("binary") == [
        "train/loss", "train/acc", "val/loss", "val/acc", "val/f1", "val/auroc",
        "test/loss", "test/acc", "test/f1", "test/auroc", "lr",
    ]  # fmt: skip
    assert "val/r2" in metric_names("regression") and "val/auroc" not in metric_names("multiclass")
