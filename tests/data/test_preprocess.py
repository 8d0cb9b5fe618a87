import json

import numpy as np
import pandas as pd
import pytest

from trainlab.data.preprocess import Preprocessor, TargetEncoder, infer_task
from trainlab.errors import ConfigError

TRAIN = pd.DataFrame(
    {
        "age": [20.0, np.nan, 40.0, 30.0],
        "size": [1, 2, 3, 4],
        "colour": ["red", "blue", None, "red"],
        "const": [7, 7, 7, 7],
        "name": ["a", "b", "c", "d"],
    }
)


def test_fit_and_transform_follow_the_rules():
    pre = Preprocessor.fit(TRAIN, max_categories=3)
    assert pre.dropped == {"const": "constant", "name": "4 distinct values > data.max_categories=3"}
    assert pre.feature_names == ["age", "age_missing", "size", "colour=blue", "colour=red", "colour=<missing>"]
    x = pre.transform(TRAIN)
    assert x.dtype == np.float32 and x.shape == (4, 6)
    # Missing age -> the training median (30), flagged; then standardized with training stats.
    filled = np.array([20, 30, 40, 30.0])
    np.testing.assert_allclose(x[:, 0], (filled - filled.mean()) / filled.std(), rtol=1e-6)
    np.testing.assert_array_equal(x[:, 1], [0, 1, 0, 0])
    np.testing.assert_array_equal(x[:, 3:], [[0, 1, 0], [1, 0, 0], [0, 0, 1], [0, 1, 0]])


def test_unseen_category_is_all_zero_and_extra_columns_are_ignored():
    pre = Preprocessor.fit(TRAIN, max_categories=3)
    new = pd.DataFrame({"age": [25.0], "size": [2], "colour": ["green"], "extra": [1]})
    x = pre.transform(new)
    np.testing.assert_array_equal(x[0, 3:], [0, 0, 0])


def test_missing_column_is_named():
    pre = Preprocessor.fit(TRAIN)
    with pytest.raises(ConfigError, match=r"test.csv lacks column 'colour', which the model was trained on"):
        pre.transform(TRAIN.drop(columns=["colour"]), source="test.csv")


def test_json_round_trip_transforms_the_same():
    pre = Preprocessor.fit(TRAIN)
    again = Preprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    np.testing.assert_array_equal(pre.transform(TRAIN), again.transform(TRAIN))


def test_target_labels_round_trip():
    target = pd.Series(["yes", "no", "yes", "maybe"], name="answer")
    enc = TargetEncoder.fit(target, "multiclass")
    assert enc.classes == ["maybe", "no", "yes"]
    assert enc.encode(target).tolist() == [2, 1, 2, 0]
    assert enc.decode(np.array([0, 2])) == ["maybe", "yes"]
    numbers = TargetEncoder.fit(pd.Series([3.0, 1.0, 3.0]), "binary")
    assert numbers.classes == [1, 3] and json.dumps(numbers.to_dict())


def test_regression_target_is_standardized_with_training_statistics():
    enc = TargetEncoder.fit(pd.Series([1.0, 2.0, 3.0], name="y"), "regression").scaled(pd.Series([1.0, 3.0]))
    assert (enc.mean, enc.std) == (2.0, 1.0)
    np.testing.assert_allclose(enc.encode(pd.Series([2.0, 4.0])), [0.0, 2.0])


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["a", "b", "a"], "binary"),
        ([0, 1, 2, 1], "multiclass"),
        ([True, False, True], "binary"),
        ([0.5, 1.25, 3.0, 2.0], "regression"),
        (list(range(100)), "regression"),
        ([1.0, 2.0, 1.0], "binary"),
    ],
)
def test_task_is_inferred(values, task):
    assert infer_task(pd.Series(values, name="y")) == task


def test_single_class_and_text_regression_are_refused():
    with pytest.raises(ConfigError, match=r"column 'y' of f.csv has a single class \('a'\)"):
        infer_task(pd.Series(["a", "a"], name="y"), source="f.csv")
    with pytest.raises(
        ConfigError, match=r"data.task=regression needs a numeric target; column 'y' of f.csv holds text"
    ):
        infer_task(pd.Series(["a", "b"], name="y"), "regression", source="f.csv")
