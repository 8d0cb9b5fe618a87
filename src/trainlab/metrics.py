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
    """The metrics of ``stage`` for ``task``.

    binary: acc, f1, auroc; multiclass: acc (micro), f1 (macro over classes);
    regression: mse, mae, r2. The train stage keeps only acc (classification) or mae
    (regression), which is cheap to update each step.
    """
    train = stage == "train"
    if task == "binary":
        metrics = {"acc": BinaryAccuracy()}
        if not train:
            metrics |= {"f1": BinaryF1Score(), "auroc": BinaryAUROC()}
    elif task == "multiclass":
        metrics = {"acc": MulticlassAccuracy(num_classes=n_classes, average="micro")}
        if not train:
            metrics["f1"] = MulticlassF1Score(num_classes=n_classes, average="macro")
    else:
        metrics = {"mae": MeanAbsoluteError()}
        if not train:
            metrics |= {"mse": MeanSquaredError(), "r2": R2Score(multioutput="uniform_average")}
    return MetricCollection(metrics, prefix=f"{stage}/")


def metric_names(task: str) -> list[str]:
    """Every name trainlab logs for ``task``: {stage}/loss, {stage}/{metric} and lr."""
    names = []
    for stage in ("train", "val", "test"):
        names += [f"{stage}/loss", *task_metrics(task, stage, n_classes=2).keys()]
    return [*names, "lr"]
