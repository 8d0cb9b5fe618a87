"""The evaluation metrics equal torchmetrics' (bit for bit its functional forms, for one model) and
scikit-learn's, including ties in the scores and batches accumulated by Evaluation."""

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
from torchmetrics.functional import mean_absolute_error, mean_squared_error, r2_score
from torchmetrics.functional.classification import binary_auroc, multiclass_accuracy, multiclass_f1_score
from torchmetrics.regression import MeanAbsoluteError, MeanSquaredError, R2Score

from trainlab.config.options import METRICS, metric_names
from trainlab.training.evaluation import Evaluation
from trainlab.training.losses import Loss
from trainlab.training.metrics import split_metrics


def values(task, scores, targets, n_classes=None):
    """One model's metrics: a member axis of one."""
    return {k: v.item() for k, (v,) in split_metrics(task, scores.unsqueeze(0), targets.unsqueeze(0)).items()}


@pytest.mark.filterwarnings("ignore:No (positive|negative) samples")
@pytest.mark.parametrize("seed", range(40))
def test_one_models_metrics_are_torchmetrics_functional_forms_bit_for_bit(seed):
    """The promise that keeps a run's numbers: the same float32 values, not just close ones.
    (Exact on any machine: one model's member axis is a leading dimension of 1, which torch
    collapses before it reduces, so the kernels and their order of operations are torchmetrics'.)"""
    g = torch.Generator().manual_seed(seed)
    n = [7, 60, 233, 1000][seed % 4]
    scores = torch.rand(n, generator=g)
    if seed % 2:
        scores = (scores * 10).round() / 10  # ties
    targets = (torch.rand(n, generator=g) < 0.4).long()
    if seed % 10 == 3:
        targets[:] = 0  # one class only
    assert values("binary", scores, targets)["auroc"] == binary_auroc(scores, targets, validate_args=False).item()
    probabilities = torch.softmax(torch.randn(n, 5, generator=g), -1)
    labels = torch.randint(0, 5 - seed % 2, (n,), generator=g)  # odd seeds: a class never present
    got = values("multiclass", probabilities, labels, 5)
    assert got["acc"] == multiclass_accuracy(probabilities, labels, 5, average="micro", validate_args=False).item()
    assert got["f1"] == multiclass_f1_score(probabilities, labels, 5, average="macro", validate_args=False).item()
    shape = (n,) if seed % 3 else (n, 3)
    predicted, true = torch.randn(shape, generator=g), torch.randn(shape, generator=g)
    got = values("regression", predicted, true)
    assert got["mae"] == mean_absolute_error(predicted, true).item()
    assert got["mse"] == mean_squared_error(predicted, true).item()
    assert got["r2"] == r2_score(predicted, true, multioutput="uniform_average").item()


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
    (got,) = evaluation.compute("test")
    assert list(got) == ["test/loss", *(f"test/{m}" for m in METRICS["binary"])]
    assert got["test/loss"] == pytest.approx(torch.nn.functional.cross_entropy(logits, y).item(), rel=1e-6)
    probabilities = torch.softmax(logits, -1)[:, 1]
    assert got["test/auroc"] == pytest.approx(roc_auc_score(y.numpy(), probabilities.numpy()), abs=1e-6)
    assert evaluation.compute("test") == []  # started over


def test_metric_names_per_task():
    assert metric_names("binary") == [
        "train/loss", "train/acc", "val/loss", "val/acc", "val/f1", "val/auroc",
        "test/loss", "test/acc", "test/f1", "test/auroc", "lr",
    ]  # fmt: skip
    assert "val/r2" in metric_names("regression") and "val/auroc" not in metric_names("multiclass")
