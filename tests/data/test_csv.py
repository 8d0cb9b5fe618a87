"""The Kaggle workflow: a CSV with string labels, a categorical column, missing values and
an id column; train, predict, check the submission; and every bad input."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from overrides import SILENT

from trainlab import run
from trainlab.errors import ConfigError
from trainlab.files.atomic import write_csv
from trainlab.predict import Predictor, predict_file

ROOT = Path(__file__).resolve().parents[2]


def make_passengers(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["male", "female"], n)
    pclass = rng.choice([1, 2, 3], n)
    age = rng.normal(30, 12, n).round()
    age[rng.random(n) < 0.2] = np.nan
    port = rng.choice(np.array(["S", "C", "Q", None], dtype=object), n, p=[0.6, 0.2, 0.15, 0.05])
    score = (sex == "female") * 2.0 - (pclass - 2) - np.nan_to_num(age - 30) / 20 + rng.normal(0, 0.5, n)
    return pd.DataFrame(
        {
            "PassengerId": np.arange(1000, 1000 + n),
            "Sex": sex,
            "Pclass": pclass,
            "Age": age,
            "Embarked": port,
            "Survived": np.where(score > 0.5, "yes", "no"),
        }
    )


@pytest.fixture(scope="module")
def kaggle(tmp_path_factory):
    """train.csv, test.csv (no target, shuffled ids, one unseen port) and a finished run."""
    root = tmp_path_factory.mktemp("kaggle")
    frame = make_passengers(700)
    frame.iloc[:600].to_csv(root / "train.csv", index=False)
    test = frame.iloc[600:].drop(columns=["Survived"]).sample(frac=1, random_state=0)
    test.iloc[0, test.columns.get_loc("Embarked")] = "Z"
    test.to_csv(root / "test.csv", index=False)
    overrides = [
        "data=csv",
        f"data.train={root / 'train.csv'}",
        "data.target=Survived",
        "data.id=PassengerId",
        f"data.test={root / 'test.csv'}",
        "trainer.max_epochs=40",
        *SILENT,
    ]
    result = run(overrides, output_dir=root / "run")
    return root, result, frame.iloc[600:]


def test_csv_run_learns_and_writes_the_submission(kaggle):
    root, result, truth = kaggle
    assert result.metrics["test/acc"] >= 0.85
    submission = pd.read_csv(result.submission)
    assert result.submission == root / "run" / "submission.csv"
    assert list(submission.columns) == ["PassengerId", "Survived"]
    test = pd.read_csv(root / "test.csv")
    assert submission.PassengerId.tolist() == test.PassengerId.tolist()
    assert set(submission.Survived) <= {"yes", "no"}
    expected = truth.set_index("PassengerId").loc[submission.PassengerId, "Survived"].to_numpy()
    assert (submission.Survived.to_numpy() == expected).mean() >= 0.85


def test_preprocessing_is_saved_as_json_with_the_run(kaggle):
    root, _, _ = kaggle
    prep = json.loads((root / "run" / "preprocessing.json").read_text())
    assert prep["target"] == {"name": "Survived", "task": "binary", "classes": ["no", "yes"], "mean": 0.0, "std": 1.0}
    numeric = {c["name"]: c for c in prep["features"]["numeric"]}
    assert numeric["Age"]["indicator"] is True and "PassengerId" not in numeric
    categorical = {c["name"]: c for c in prep["features"]["categorical"]}
    assert categorical["Embarked"]["categories"] == ["C", "Q", "S"] and categorical["Embarked"]["missing"]


def test_predict_cli_writes_ids_in_order_and_probabilities(kaggle, tmp_path):
    root, result, _ = kaggle
    out = tmp_path / "submission.csv"
    command = [sys.executable, str(ROOT / "predict.py"), f"run={root / 'run'}", f"input={root / 'test.csv'}"]
    done = subprocess.run([*command, f"output={out}", "proba=true"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"wrote 100 predictions to {out}" in done.stdout
    submission = pd.read_csv(out)
    assert list(submission.columns) == ["PassengerId", "Survived", "proba_no", "proba_yes"]
    np.testing.assert_allclose(submission.proba_no + submission.proba_yes, 1, rtol=1e-5)
    assert (submission.Survived == np.where(submission.proba_yes > 0.5, "yes", "no")).all()
    during_training = pd.read_csv(result.submission)
    assert submission.Survived.tolist() == during_training.Survived.tolist()


def test_predictions_match_the_trained_model(kaggle):
    root, result, _ = kaggle
    predictor = Predictor.from_run(root / "run")
    frame = pd.read_csv(root / "test.csv")
    import torch

    x = torch.from_numpy(predictor.preprocessor.transform(frame))
    with torch.no_grad():
        expected = result.model(x)
    torch.testing.assert_close(predictor.model(x), expected)


def test_numeric_labels_come_back_as_numbers_and_regression_in_units(tmp_path):
    frame = make_passengers(300)
    frame["Survived"] = (frame.Survived == "yes").astype(int) * 3 + 1  # labels 1 and 4
    frame["Fare"] = frame.Pclass * 20.0 + frame.Age.fillna(30)
    frame.to_csv(tmp_path / "train.csv", index=False)
    run(
        ["data=csv", f"data.train={tmp_path / 'train.csv'}", "data.target=Survived", "trainer.max_epochs=3", *SILENT],
        output_dir=tmp_path / "cls",
    )
    labels = predict_file(tmp_path / "cls", tmp_path / "train.csv", tmp_path / "a.csv")
    assert set(labels.Survived) <= {1, 4} and list(labels.columns) == ["id", "Survived"]
    reg = run(
        [
            "data=csv",
            f"data.train={tmp_path / 'train.csv'}",
            "data.target=Fare",
            "data.drop=[Survived]",
            "trainer.max_epochs=30",
            *SILENT,
        ],
        output_dir=tmp_path / "reg",
    )
    assert reg.metrics["test/r2"] > 0.5
    values = predict_file(tmp_path / "reg", tmp_path / "train.csv", tmp_path / "b.csv").Fare
    assert 10 < values.mean() < 100  # in the target's units, not standardized


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


BAD_TRAIN = [
    ("missing.csv", None, "Survived", r"data.train='.*missing.csv': file not found"),
    ("empty.csv", "", "Survived", r"data.train='.*empty.csv': the file is empty"),
    ("header.csv", "a,b,Survived\n", "Survived", r"the file has a header but no rows"),
    ("t.csv", "a,b\n1,2\n3,4\n", "Survived", r"data.target='Survived' is not a column of .*t.csv; its columns: a, b"),
    ("one.csv", "a,y\n1,x\n2,x\n3,x\n", "y", r"column 'y' of .*one.csv has a single class \('x'\)"),
    (
        "e.csv",
        "a,gone,y\n1,,0\n2,,1\n3,,0\n4,,1\n5,,1\n",
        "y",
        r"column 'gone' of .*e.csv is entirely empty; remove it",
    ),
]


@pytest.mark.parametrize(("name", "text", "target", "message"), BAD_TRAIN)
def test_bad_training_file(name, text, target, message, tmp_path):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        run(["data=csv", f"data.train={path}", f"data.target={target}", *SILENT], output_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_text_target_with_regression_task(tmp_path):
    path = write(tmp_path / "t.csv", "a,y\n1,low\n2,high\n3,low\n4,high\n5,low\n")
    with pytest.raises(
        ConfigError, match=r"data.task=regression needs a numeric target; column 'y' of .*t.csv holds text"
    ):
        run(
            ["data=csv", f"data.train={path}", "data.target=y", "data.task=regression", *SILENT],
            output_dir=tmp_path / "r",
        )


def test_test_file_missing_a_feature_column_stops_before_training(tmp_path):
    make_passengers(100).to_csv(tmp_path / "train.csv", index=False)
    make_passengers(20).drop(columns=["Survived", "Age"]).to_csv(tmp_path / "test.csv", index=False)
    overrides = [
        "data=csv",
        f"data.train={tmp_path / 'train.csv'}",
        "data.target=Survived",
        f"data.test={tmp_path / 'test.csv'}",
    ]
    with pytest.raises(ConfigError, match=r"data.test='.*test.csv' lacks column 'Age', which the model trains on"):
        run([*overrides, *SILENT], output_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_duplicate_ids_are_warned_about(tmp_path, caplog):
    frame = make_passengers(100)
    frame.loc[5, "PassengerId"] = frame.loc[4, "PassengerId"]
    frame.to_csv(tmp_path / "train.csv", index=False)
    with caplog.at_level(logging.WARNING):
        run(
            [
                "data=csv",
                f"data.train={tmp_path / 'train.csv'}",
                "data.target=Survived",
                "data.id=PassengerId",
                "trainer.max_epochs=1",
                *SILENT,
            ],
            output_dir=tmp_path / "run",
        )
    assert "id column 'PassengerId' of" in caplog.text and "has 1 duplicate values (e.g. 1004)" in caplog.text


def test_failed_prediction_leaves_no_output_file(kaggle, tmp_path):
    root, _, _ = kaggle
    bad = tmp_path / "bad.csv"
    pd.read_csv(root / "test.csv").drop(columns=["Sex"]).to_csv(bad, index=False)
    out = tmp_path / "sub.csv"
    done = subprocess.run(
        [sys.executable, str(ROOT / "predict.py"), f"run={root / 'run'}", f"input={bad}", f"output={out}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert f"error: {bad} lacks column 'Sex', which the model was trained on" in done.stderr.replace("\n", "")
    assert not out.exists() and os.listdir(tmp_path) == ["bad.csv"]


def test_predict_needs_run_and_input(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "predict.py"), "input=x.csv"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and "error: run= is required" in done.stderr
    done = subprocess.run(
        [sys.executable, str(ROOT / "predict.py"), f"run={tmp_path}", "input=x.csv"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "has no best checkpoint" in done.stderr


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n")

    class Boom(pd.DataFrame):
        def to_csv(self, *args, **kwargs):
            args[0].write("half a li")
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_csv(target, Boom({"a": [1]}))
    assert target.read_text() == "old\n" and os.listdir(tmp_path) == ["out.csv"]


def test_predict_reads_a_file_as_training_does(kaggle, tmp_path):
    """A test.csv saved by a European Excel (cp1252, semicolons, decimal commas) predicts as the original."""
    root, _, _ = kaggle
    original = predict_file(root / "run", root / "test.csv", tmp_path / "a.csv")
    frame = pd.read_csv(root / "test.csv")
    frame.to_csv(tmp_path / "excel.csv", sep=";", decimal=",", index=False, encoding="cp1252")
    again = predict_file(root / "run", tmp_path / "excel.csv", tmp_path / "b.csv")
    pd.testing.assert_frame_equal(original, again)


def test_predictor_refuses_text_and_inf_in_a_numeric_column(kaggle):
    root, _, _ = kaggle
    predictor = Predictor.from_run(root / "run")
    frame = pd.read_csv(root / "test.csv")
    with pytest.raises(ConfigError, match=r"column 'Age' of the input holds text \('old' at row 3\) where the"):
        predictor.predict(frame.assign(Age=frame.Age.astype(object).where(frame.index != 2, "old")))
    with pytest.raises(ConfigError, match=r"column 'Age' of the input holds an infinite value .* at row 1:"):
        predictor.predict(frame.assign(Age=np.where(frame.index == 0, np.inf, frame.Age)))
    assert len(predictor.predict(frame.assign(Age=frame.Age.astype(object).fillna("?")))) == len(frame)
