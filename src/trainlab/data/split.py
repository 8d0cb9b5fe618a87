"""Row indices of the train / val / test splits and of cross-validation folds.

Classification splits are stratified (each split keeps the class proportions) when
every class has at least two rows. The test split is drawn first, exactly as
``sklearn.model_selection.train_test_split(test_size=test_fraction, stratify=y,
random_state=seed)`` draws it, so results compare with scikit-learn's on the same rows.
The draw is re-done here in numpy (:func:`shuffle_split`, checked against scikit-learn
in the tests): importing ``sklearn.model_selection`` costs a second of every run's start.
"""

from __future__ import annotations

import math

import numpy as np

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
            "raise data.val_fraction, or use more samples (data.n_samples, or rows in the file)"
        )
    return n_train, n_val, n_test


def _class_sizes(counts: np.ndarray, n_draws: int, rng: np.random.RandomState) -> np.ndarray:
    """How many of ``n_draws`` rows each class gets: its share ``counts / sum * n_draws``
    rounded down, then one more for the classes with the largest remainders, ties broken
    by ``rng`` (scikit-learn's ``_approximate_mode``, the same random draws)."""
    share = counts / counts.sum() * n_draws
    sizes = np.floor(share)
    missing = int(n_draws - sizes.sum())
    remainder = share - sizes
    for value in np.unique(remainder)[::-1]:
        if missing == 0:
            break
        (tied,) = np.where(remainder == value)
        chosen = rng.choice(tied, size=min(len(tied), missing), replace=False)
        sizes[chosen] += 1
        missing -= len(chosen)
    return sizes.astype(int)


def shuffle_split(n: int, n_test: int, y: np.ndarray | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rest, test) row indices, ``n_test`` rows in test: the rows scikit-learn's
    ``train_test_split(np.arange(n), test_size=n_test, stratify=y, random_state=seed)``
    returns, in the same order. With ``y``, each class gives test rows in proportion to
    its size (every class needs at least two rows, and the test and rest at least one
    row per class)."""
    rng = np.random.RandomState(seed)
    if y is None:
        order = rng.permutation(n)
        return order[n_test:], order[:n_test]
    classes, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    if min(n_test, n - n_test) < len(classes):
        raise ConfigError(
            f"a stratified split of {n} rows into {n - n_test} and {n_test} needs at least one "
            f"row per class ({len(classes)} classes) on each side; change data.val_fraction / "
            "data.test_fraction or use more samples"
        )
    by_class = np.split(np.argsort(codes, kind="stable"), np.cumsum(counts)[:-1])
    n_rest = _class_sizes(counts, n - n_test, rng)
    n_held = _class_sizes(counts - n_rest, n_test, rng)
    rest: list[int] = []
    test: list[int] = []
    for rows, k_rest, k_held in zip(by_class, n_rest, n_held, strict=True):
        shuffled = rows[rng.permutation(len(rows))]
        rest.extend(shuffled[:k_rest])
        test.extend(shuffled[k_rest : k_rest + k_held])
    return rng.permutation(rest), rng.permutation(test)


def holdout_split(n: int, y: np.ndarray | None, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rest, test) row indices."""
    rows = np.arange(n)
    if test_fraction <= 0:
        return rows, rows[:0]
    return shuffle_split(n, math.ceil(test_fraction * n), _stratify(y), seed)


def train_val_test(
    n: int, y: np.ndarray | None, val_fraction: float, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, val, test) row indices; ``y`` (class labels) stratifies, None does not."""
    _, n_val, _ = _check(n, val_fraction, test_fraction)
    rest, test = holdout_split(n, y, test_fraction, seed)
    if n_val == 0:
        return rest, rest[:0], test
    train, val = shuffle_split(len(rest), n_val, _stratify(None if y is None else y[rest]), seed)
    return rest[train], rest[val], test


def folds(
    n: int, y: np.ndarray | None, n_folds: int, test_fraction: float, seed: int
) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """K-fold cross-validation: ([(train, val) per fold], test); the test rows are held
    out of every fold. Stratified for classification."""
    _check(n, 1 / n_folds, test_fraction)
    from sklearn.model_selection import KFold, StratifiedKFold  # only cross-validation pays for it

    rest, test = holdout_split(n, y, test_fraction, seed)
    y_rest = None if y is None else y[rest]
    stratify = _stratify(y_rest)
    if stratify is not None and np.unique(stratify, return_counts=True)[1].min() >= n_folds:
        splitter = StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(rest, stratify)
    else:
        splitter = KFold(n_folds, shuffle=True, random_state=seed).split(rest)
    return [(rest[tr], rest[va]) for tr, va in splitter], test
