import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from trainlab.data.split import folds, shuffle_split, split_sizes, train_val_test
from trainlab.errors import ConfigError


def test_test_rows_are_scikit_learns():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    _, _, test = train_val_test(100, y, 0.1, 0.25, seed=0)
    _, expected = train_test_split(np.arange(100), test_size=0.25, stratify=y, random_state=0)
    assert np.array_equal(test, expected)


@pytest.mark.parametrize("seed", [0, 1, 7, 123])
@pytest.mark.parametrize(
    ("counts", "n_test"),
    [([50, 30, 20], 25), ([500, 500], 100), ([7, 3, 3, 2], 5), ([400, 333, 267], 97), ([9], 3), (None, 17)],
)
def test_shuffle_split_draws_scikit_learns_rows_in_its_order(counts, n_test, seed):
    """Ties in the per-class remainders ([500, 500] / 100, [7, 3, 3, 2]) are broken by the
    same random draws as scikit-learn's, so even those splits match row for row."""
    y = None if counts is None else np.random.RandomState(seed).permutation(np.repeat(np.arange(len(counts)), counts))
    n = 60 if y is None else len(y)
    rest, test = shuffle_split(n, n_test, y, seed)
    expected_rest, expected_test = train_test_split(np.arange(n), test_size=n_test, stratify=y, random_state=seed)
    assert np.array_equal(rest, expected_rest) and np.array_equal(test, expected_test)


def test_a_stratified_split_too_small_for_the_classes_is_a_config_error():
    with pytest.raises(ConfigError, match=r"at least one row per class \(3 classes\)"):
        shuffle_split(9, 2, np.repeat([0, 1, 2], 3), seed=0)


def test_splits_are_disjoint_stratified_and_sized():
    y = np.repeat([0, 1], [800, 200])
    train, val, test = train_val_test(1000, y, 0.2, 0.2, seed=1)
    assert (len(train), len(val), len(test)) == split_sizes(1000, 0.2, 0.2) == (600, 200, 200)
    assert len(set(train) | set(val) | set(test)) == 1000
    for rows in (train, val, test):
        assert y[rows].mean() == pytest.approx(0.2, abs=0.01)


def test_regression_is_not_stratified_and_no_test_split():
    train, val, test = train_val_test(50, None, 0.2, 0.0, seed=0)
    assert len(test) == 0 and len(val) == 10 and len(train) == 40


def test_folds_cover_the_non_test_rows_once():
    y = np.repeat([0, 1], [60, 40])
    fold_rows, test = folds(100, y, 5, 0.2, seed=0)
    assert len(fold_rows) == 5 and len(test) == 20
    vals = np.concatenate([val for _, val in fold_rows])
    assert sorted(vals) == sorted(set(range(100)) - set(test))
    for train, val in fold_rows:
        assert not set(train) & set(val) and not set(train) & set(test)
        assert y[val].mean() == pytest.approx(0.4, abs=1 / 16)  # within one row of 16


def test_no_training_rows_is_an_error():
    with pytest.raises(ConfigError, match="leave no training data out of 10 samples"):
        train_val_test(10, None, 0.5, 0.5, seed=0)
