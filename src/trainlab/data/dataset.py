"""A data set split into train/val/test tensors, with what the trainer needs to know."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from trainlab.errors import ConfigError
from trainlab.losses import TASKS


@dataclass
class TabularData:
    """Features [N, n_features] (float32) and targets per split.

    Targets are class indices (int64, [N]) for ``binary`` and ``multiclass`` tasks and
    float32 values ([N] or [N, n_targets]) for ``regression``. ``mean`` and ``std`` are the
    training split's feature statistics that standardized all three splits.
    """

    name: str
    task: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    feature_names: list[str]
    class_names: list[str] | None = None
    mean: torch.Tensor | None = None
    std: torch.Tensor | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]

    @property
    def n_classes(self) -> int | None:
        return None if self.class_names is None else len(self.class_names)

    @property
    def n_targets(self) -> int:
        return 1 if self.y_train.dim() == 1 else self.y_train.shape[1]

    def split(self, stage: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, y) of ``stage`` in train, val, test."""
        return getattr(self, f"x_{stage}"), getattr(self, f"y_{stage}")


def split_sizes(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    """(n_train, n_val, n_test) for n samples; val and test get round(fraction * n)."""
    n_val = round(val_fraction * n)
    n_test = round(test_fraction * n)
    return n - n_val - n_test, n_val, n_test


def split_and_standardize(
    name: str,
    task: str,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    feature_names: list[str],
    class_names: list[str] | None = None,
) -> TabularData:
    """Shuffle with ``seed``, split by the fractions, then standardize every split with
    the training split's mean and std: x' = (x - mean_train) / std_train (a constant
    feature keeps std 1)."""
    n_train, n_val, _ = split_sizes(len(x), val_fraction, test_fraction)
    if n_train < 1:
        raise ConfigError(
            f"data.val_fraction={val_fraction} and data.test_fraction={test_fraction} leave no "
            f"training data out of {len(x)} samples; their sum must be below 1"
        )
    if val_fraction > 0 and n_val == 0:
        raise ConfigError(
            f"data.val_fraction={val_fraction} of {len(x)} samples leaves no validation rows; "
            "raise data.val_fraction or data.n_samples"
        )
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    parts = torch.split(order, [n_train, n_val, len(x) - n_train - n_val])
    x = x.float()
    mean = x[parts[0]].mean(0)
    std = x[parts[0]].std(0, unbiased=False)
    std = torch.where(std > 0, std, torch.ones_like(std))
    xs = [(x[idx] - mean) / std for idx in parts]
    ys = [y[idx] for idx in parts]
    return TabularData(
        name=name,
        task=task,
        x_train=xs[0],
        y_train=ys[0],
        x_val=xs[1],
        y_val=ys[1],
        x_test=xs[2],
        y_test=ys[2],
        feature_names=feature_names,
        class_names=class_names,
        mean=mean,
        std=std,
    )
