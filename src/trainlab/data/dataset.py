"""Raw tables in, tensors out: a data set's rows split, preprocessed and ready to train on."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import torch

from trainlab.config.options import TASKS
from trainlab.data.preprocess import Preprocessor, TargetEncoder, infer_task
from trainlab.data.split import folds, train_val_test
from trainlab.errors import ConfigError

log = logging.getLogger(__name__)
_Split = TypeVar("_Split")


@dataclass
class RawData:
    """A data set as loaded: feature columns and the target column.

    ``task`` is binary, multiclass or regression, or ``auto`` to infer it from the target.
    ``source`` names where it came from (a file path, a generator) for messages.
    """

    name: str
    features: pd.DataFrame
    target: pd.Series
    task: str = "auto"
    source: str = ""


@dataclass
class TabularData:
    """Features [N, n_features] (float32) and targets per split, with what the trainer needs.

    Targets are class indices (int64, [N]) for ``binary`` and ``multiclass`` tasks and
    standardized float32 values ([N]) for ``regression`` (``target_encoder`` maps them back).
    ``preprocessor`` and ``target_encoder`` turn raw
    rows into these tensors (fitted on the training split) and predictions back into labels.
    """

    name: str
    task: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    preprocessor: Preprocessor
    target_encoder: TargetEncoder

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")

    @property
    def feature_names(self) -> list[str]:
        return self.preprocessor.feature_names

    @property
    def class_names(self) -> list[str] | None:
        classes = self.target_encoder.classes
        return None if classes is None else [str(c) for c in classes]

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]

    @property
    def n_classes(self) -> int | None:
        classes = self.target_encoder.classes
        return None if classes is None else len(classes)

    @property
    def n_targets(self) -> int:
        return 1 if self.y_train.dim() == 1 else self.y_train.shape[1]

    def split(self, stage: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, y) of ``stage`` in train, val, test."""
        return getattr(self, f"x_{stage}"), getattr(self, f"y_{stage}")

    def preprocessing(self) -> dict[str, Any]:
        """The fitted transform as plain data (saved as preprocessing.json and in checkpoints)."""
        return {
            "data": self.name,
            "task": self.task,
            "features": self.preprocessor.to_dict(),
            "target": self.target_encoder.to_dict(),
        }

    @property
    def target_scale(self) -> tuple[float, float]:
        """(mean, std) that map standardized regression targets back to their units."""
        return self.target_encoder.mean, self.target_encoder.std


def prepare(
    raw: RawData,
    *,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    max_categories: int = 50,
) -> TabularData:
    """Split ``raw`` (stratified for classification), fit the preprocessing on the training
    rows, and transform all three splits with it. ConfigError, naming the data (its file), when
    the fractions leave a split empty, the training rows are fewer than two or of one class, or
    the preprocessing drops every feature column (saying why it dropped each)."""
    task, encoder, labels = _target(raw)
    train, val, test = _named(raw, lambda: train_val_test(len(raw.target), labels, val_fraction, test_fraction, seed))
    _check_training_rows(raw, encoder, labels, train)
    return _tensors(raw, task, encoder, train, val, test, max_categories)


def prepare_folds(
    raw: RawData, *, n_folds: int, test_fraction: float, seed: int, max_categories: int = 50
) -> list[TabularData]:
    """One TabularData per cross-validation fold (its own train/val rows and preprocessing;
    the same held-out test rows)."""
    task, encoder, labels = _target(raw)
    fold_rows, test = _named(raw, lambda: folds(len(raw.target), labels, n_folds, test_fraction, seed))
    for train, _ in fold_rows:
        _check_training_rows(raw, encoder, labels, train)
    return [_tensors(raw, task, encoder, train, val, test, max_categories) for train, val in fold_rows]


def _named(raw: RawData, split: Callable[[], _Split]) -> _Split:
    """``split()``; a file's ConfigError (too few rows for the fractions) says which file."""
    try:
        return split()
    except ConfigError as error:
        if raw.name != "csv":
            raise
        raise ConfigError(f"{raw.source} has {len(raw.target)} labelled rows: {error}") from None


def _check_training_rows(raw: RawData, encoder: TargetEncoder, labels: np.ndarray | None, train: np.ndarray) -> None:
    """Refuse a training split of fewer than two rows, or of one class; warn about a class it lacks."""
    classes = encoder.classes
    if labels is None or classes is None:
        if len(train) < 2:
            raise ConfigError(_too_few(raw, len(train), "row(s)"))
        return
    present = np.unique(labels[train])
    if len(train) < 2 or len(present) < 2:
        counts = np.bincount(labels, minlength=len(classes))
        per_class = ", ".join(f"{c!r}: {n}" for c, n in zip(classes, counts, strict=True))
        in_classes = f" in {len(classes)} classes ({per_class})"
        raise ConfigError(_too_few(raw, len(train), f"row(s) of {len(present)} class(es)", in_classes))
    absent = [str(classes[i]) for i in sorted(set(range(len(classes))) - set(present.tolist()))]
    if absent:
        log.warning(
            "class %s of %s has no row in the training split: the model cannot learn it; add rows of it",
            ", ".join(map(repr, absent)),
            raw.source or raw.name,
        )


def _too_few(raw: RawData, n_train: int, what: str, classes: str = "") -> str:
    return (
        f"{raw.source or raw.name} has {len(raw.target)} labelled rows{classes}: after the validation and test "
        f"rows (data.val_fraction, data.test_fraction) {n_train} training {what} remain, too few to learn from; "
        "add rows (at least a few per class), or lower data.val_fraction and data.test_fraction"
    )


def _target(raw: RawData) -> tuple[str, TargetEncoder, np.ndarray | None]:
    """The task, the encoder (classes from every row) and the class indices (None for
    regression, whose scaling is fitted per training split)."""
    task = infer_task(raw.target, raw.task, raw.source or raw.name)
    encoder = TargetEncoder.fit(raw.target, task)
    return task, encoder, None if task == "regression" else encoder.encode(raw.target)


def _tensors(
    raw: RawData,
    task: str,
    encoder: TargetEncoder,
    train: np.ndarray,
    val: np.ndarray,
    test: np.ndarray,
    max_categories: int,
) -> TabularData:
    encoder = encoder.scaled(raw.target.iloc[train])
    y = encoder.encode(raw.target)
    pre = Preprocessor.fit(raw.features.iloc[train], max_categories)
    if not pre.columns:
        raise ConfigError(
            f"no feature of {raw.source or raw.name} is left to train on: {pre.dropped_words(len(train))}; "
            "add columns that vary from row to row (or raise data.max_categories for text columns)"
        )
    features = pre.transform(raw.features)  # a row's features are its own: every row's once, then each split's
    xs = [torch.from_numpy(features[rows]) for rows in (train, val, test)]
    ys = [torch.from_numpy(y[rows]) for rows in (train, val, test)]
    return TabularData(raw.name, task, xs[0], ys[0], xs[1], ys[1], xs[2], ys[2], pre, encoder)
