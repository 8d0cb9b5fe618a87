"""Row indices of the train / val / test splits and of cross-validation folds.

Classification splits are stratified (each split keeps the class proportions) when
every class has at least two rows. The test split is drawn first, exactly as
``sklearn.model_selection.train_test_split(test_size=test_fraction, stratify=y,
random_state=seed)`` draws it, so results compare with scikit-learn's on the same rows.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from trainlab.errors import ConfigError


def split_sizes(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    """(n_train, n_val, n_test): test gets ceil(test_fraction * n) as scikit-learn does,
    val gets round(val_fraction * n)."""
    n_test = math.ceil(test_fraction * n) if test_fraction > 0 else 0
    n_val = round(val_fraction * n)
    return n - n_val - n_test, n_val, n_test


def _stratify(y: np.ndarray | None) -> np.ndarray | None:
    if y is None:
        return None
    _, counts = np.unique(y, return_counts=True)
    return y if counts.min() >= 2 else None


def _check(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    n_train, n_val, n_test = split_sizes(n, val_fraction, test_fraction)
    if n_train < 1:
        raise ConfigError(
            f"data.val_fraction={val_fraction} and data.test_fraction={test_fraction} leave no "
            f"training data out of {n} samples; their sum must be below 1"
        )
    if val_fraction > 0 and n_val == 0:
        raise ConfigError(
            f"data.val_fraction={val_fraction} of {n} samples leaves no validation rows; "
            "raise data.val_fraction or data.n_samples"
        )
    return n_train, n_val, n_test


def holdout_split(n: int, y: np.ndarray | None, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rest, test) row indices."""
    rows = np.arange(n)
    if test_fraction <= 0:
        return rows, rows[:0]
    rest, test = train_test_split(rows, test_size=test_fraction, stratify=_stratify(y), random_state=seed)
    return rest, test


def train_val_test(
    n: int, y: np.ndarray | None, val_fraction: float, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, val, test) row indices; ``y`` (class labels) stratifies, None does not."""
    _, n_val, _ = _check(n, val_fraction, test_fraction)
    rest, test = holdout_split(n, y, test_fraction, seed)
    if n_val == 0:
        return rest, rest[:0], test
    train, val = train_test_split(
        rest, test_size=n_val, stratify=_stratify(None if y is None else y[rest]), random_state=seed
    )
    return train, val, test


def folds(
    n: int, y: np.ndarray | None, n_folds: int, test_fraction: float, seed: int
) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """K-fold cross-validation: ([(train, val) per fold], test); the test rows are held
    out of every fold. Stratified for classification."""
    _check(n, 1 / n_folds, test_fraction)
    rest, test = holdout_split(n, y, test_fraction, seed)
    y_rest = None if y is None else y[rest]
    stratify = _stratify(y_rest)
    if stratify is not None and np.unique(stratify, return_counts=True)[1].min() >= n_folds:
        splitter = StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(rest, stratify)
    else:
        splitter = KFold(n_folds, shuffle=True, random_state=seed).split(rest)
    return [(rest[tr], rest[va]) for tr, va in splitter], test
