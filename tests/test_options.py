"""Every option of every config group composes and trains a few steps."""

import math
from pathlib import Path

import pytest
from overrides import SILENT

from trainlab import run
from trainlab.config.composing import config_dir

GROUPS = ["model", "activation", "loss", "optimizer", "regularization", "scheduler", "trainer", "logger"]


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (config_dir() / group).glob("*.yaml"))


def test_the_documented_options_exist():
    assert options("model") == ["mlp", "perceptron"]
    assert options("activation") == ["gelu", "identity", "leaky_relu", "relu", "sigmoid", "tanh"]
    assert options("loss") == ["auto", "bce", "cross_entropy", "mse"]
    assert options("optimizer") == ["adadelta", "adagrad", "adam", "adamw", "rmsprop", "sgd"]
    assert options("regularization") == ["dropout", "early_stopping", "weight_decay"]
    assert options("scheduler") == ["cosine", "none", "plateau", "step"]
    assert options("trainer") == ["cpu", "default", "gpu"]
    assert options("logger") == ["csv", "none", "tensorboard"]
    assert options("data") == [
        "breast_cancer",
        "circles",
        "csv",
        "diabetes",
        "digits",
        "gauss",
        "moons",
        "random",
        "spiral",
        "wave",
        "will_i_pass",
        "wine",
        "xor",
    ]
    assert options("experiment") == ["breast_cancer", "diabetes", "digits", "wine"]


CASES = [f"{g}={o}" for g in GROUPS for o in options(g) if g != "regularization"]
CASES += ["regularization=[]", "regularization=[dropout]", "regularization=[early_stopping]"]
CASES += ["regularization=[weight_decay]", "regularization=[dropout,early_stopping,weight_decay]"]
CASES += ["data.batch_size=full", "data.batch_size=1"]


@pytest.mark.parametrize("override", CASES)
def test_option_trains(override, quick, tmp_path):
    if override == "trainer=gpu":
        pytest.importorskip("torch").cuda.is_available() or pytest.skip("needs a CUDA GPU")
    extra = ["data.n_samples=60"] if override == "data.batch_size=1" else []
    result = run([*quick, *extra, override], output_dir=tmp_path)
    assert len(result.history) == 2
    assert all(math.isfinite(row["train/loss"]) and math.isfinite(row["val/loss"]) for row in result.history)
    assert {"val/loss", "val/acc", "test/loss", "test/acc"} <= set(result.metrics)
    assert Path(result.best_checkpoint).is_file()
    assert (tmp_path / "summary.json").is_file()


def test_default_patience_is_below_max_epochs():
    from trainlab.config.composing import compose

    cfg, _ = compose()
    assert cfg.regularization.early_stopping.patience < cfg.trainer.max_epochs
    assert cfg.regularization.early_stopping.monitor == cfg.monitor == "val/loss"


# Every data set but csv (tests/data/test_csv.py), small where the set is sized at will.
DATA = {
    "will_i_pass": ["data.n_samples=200"],
    "circles": ["data.n_samples=200"],
    "xor": ["data.n_samples=200"],
    "gauss": ["data.n_samples=200"],
    "spiral": ["data.n_samples=200"],
    "moons": ["data.n_samples=200"],
    "wave": ["data.n_samples=200"],
    "random": ["data.n_samples=300", "data.n_features=5", "data.n_classes=3"],
    "digits": [],
    "breast_cancer": [],
    "wine": [],
    "diabetes": [],
}


def test_every_data_set_is_listed():
    assert set(DATA) | {"csv"} == set(options("data"))


@pytest.mark.parametrize("name", sorted(DATA))
def test_data_set_trains(name, tmp_path):
    result = run([f"data={name}", *DATA[name], "trainer.max_epochs=2", *SILENT], output_dir=tmp_path)
    assert len(result.history) == 2
    task = "regression" if name in ("wave", "diabetes") else "classification"
    expected = {"test/r2", "test/mae", "test/mse"} if task == "regression" else {"test/acc", "test/f1"}
    assert expected <= set(result.metrics)
    assert all(math.isfinite(v) for v in result.metrics.values())
