"""torchmetrics collections per task, named as trainlab logs them ({stage}/{metric})."""

from __future__ import annotations

from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection, R2Score
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryAUROC,
    BinaryF1Score,
    MulticlassAccuracy,
    MulticlassF1Score,
)


def task_metrics(task: str, stage: str, n_classes: int | None = None, n_targets: int = 1) -> MetricCollection:
    """The evaluation metrics of ``stage`` (val or test) for ``task``, named ``{stage}/{name}``.

    binary: acc, f1, auroc; multiclass: acc (micro), f1 (macro over classes);
    regression: mae, mse, r2.
    """
    # validate_args=False: the inputs are the module's own (probabilities and class indices
    # of the right shapes); checking them costs a pass over the data per metric per epoch.
    if task == "binary":
        metrics = {
            "acc": BinaryAccuracy(validate_args=False),
            "f1": BinaryF1Score(validate_args=False),
            "auroc": BinaryAUROC(validate_args=False),
        }
    elif task == "multiclass":
        metrics = {
            "acc": MulticlassAccuracy(num_classes=n_classes, average="micro", validate_args=False),
            "f1": MulticlassF1Score(num_classes=n_classes, average="macro", validate_args=False),
        }
    else:
        metrics = {"mae": MeanAbsoluteError(), "mse": MeanSquaredError(), "r2": R2Score(multioutput="uniform_average")}
    return MetricCollection(metrics, prefix=f"{stage}/")


def metric_names(task: str) -> list[str]:
    """Every name trainlab logs for ``task``: {stage}/loss, {stage}/{metric} and lr
    (training tracks acc, or mae for regression, on the device; see TrainingModule)."""
    names = ["train/loss", "train/mae" if task == "regression" else "train/acc"]
    for stage in ("val", "test"):
        names += [f"{stage}/loss", *task_metrics(task, stage, n_classes=2).keys()]
    return [*names, "lr"]
