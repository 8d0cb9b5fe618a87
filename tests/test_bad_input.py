"""Invalid values stop before any training with one message naming the key."""

import pytest

from trainlab import run
from trainlab.errors import ConfigError

BAD = [
    ("regularization.dropout.p=1.5", r"regularization.dropout.p=1.5 is not allowed: a probability in \[0, 1\)"),
    ("regularization.dropout.p=-0.1", r"regularization.dropout.p=-0.1 is not allowed"),
    ("optimizer.lr=0", r"optimizer.lr=0.0 is not allowed: a learning rate > 0"),
    ("optimizer.lr=-0.01", r"optimizer.lr=-0.01 is not allowed"),
    (
        "data.batch_size=0",
        r"data.batch_size=0 is not allowed: an integer >= 1 \(1 = stochastic gradient descent\) or `full`",
    ),
    ("data.batch_size=-4", r"data.batch_size=-4 is not allowed"),
    ("data.batch_size=half", r"data.batch_size='half' is not allowed"),
    ("model.hidden=[]", r"model.hidden=\[\] is not allowed: a non-empty list of layer sizes >= 1"),
    ("model.hidden=[16,0]", r"model.hidden=\[16, 0\] is not allowed"),
    ("data.val_fraction=0.85", r"data.val_fraction \+ data.test_fraction=1.05 is not allowed: a sum below 1"),
    ("data.test_fraction=0.8", r"data.val_fraction \+ data.test_fraction=1.0 is not allowed: a sum below 1"),
    ("data.val_fraction=1.2", r"data.val_fraction=1.2 is not allowed: a fraction in \[0, 1\)"),
    ("data.val_fraction=0", r"data.val_fraction=0 is not allowed: a fraction > 0"),
    (
        "regularization.early_stopping.patience=-1",
        r"regularization.early_stopping.patience=-1 is not allowed: an integer >= 0",
    ),
    ("trainer.max_epochs=0", r"trainer.max_epochs=0 is not allowed: an integer >= 1"),
    ("mode=up", r"mode='up' is not allowed: min or max"),
    ("data.n_samples=2", r"data.n_samples=2 is not allowed: an integer >= 3"),
    (
        "monitor=val/auc",
        r"monitor='val/auc' is not allowed: a metric logged for this binary task: train/loss, train/acc, val/loss",
    ),
    (
        "+data.colour=red",
        r"data.colour is not an option of data=will_i_pass; its options: n_samples, noise, n_lectures, batch_size",
    ),
]


@pytest.mark.parametrize(("override", "message"), BAD)
def test_bad_value_is_refused_before_training(override, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        run([override], output_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_fraction_that_leaves_no_training_rows(tmp_path):
    with pytest.raises(ConfigError, match="leave no training data out of 4 samples"):
        run(["data.n_samples=4", "data.val_fraction=0.45", "data.test_fraction=0.45"], output_dir=tmp_path / "run")
    with pytest.raises(ConfigError, match=r"data.val_fraction=0.1 of 4 samples leaves no validation rows"):
        run(["data.n_samples=4", "data.val_fraction=0.1"], output_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_gpu_trainer_without_a_gpu(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ConfigError, match=r"trainer.accelerator='gpu' is not allowed: no CUDA GPU is visible here"):
        run(["trainer=gpu"], output_dir=tmp_path / "run")


def test_unknown_option_lists_the_available(tmp_path):
    with pytest.raises(ConfigError, match=r"optimizer has no option adamax; did you mean adam\?.*rmsprop, sgd"):
        run(["optimizer=adamax"], output_dir=tmp_path)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "model.hidden=[4,${data.n_features}]",
            r"model.hidden=\[4,\$\{data.n_features\}\]: the interpolation \$\{data.n_features\} names no key: "
            r"data=will_i_pass has no key n_features; did you mean n_lectures\? allowed: name, seed",
        ),
        ("seed=${nope}", r"seed=\$\{nope\}: the interpolation \$\{nope\} names no key: the config has no key nope"),
        ("data.noise=${.noize}", r"data.noise=\$\{.noize\}: its relative interpolation names no key of the config"),
    ],
)
def test_an_interpolation_that_names_no_key_is_one_message_before_training(override, message, tmp_path):
    """Not OmegaConf's traceback from wherever the value is first read."""
    with pytest.raises(ConfigError, match=message):
        run([override], output_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_sweep_job_whose_interpolation_names_no_key_is_named_and_nothing_trains(tmp_path):
    from trainlab import run_sweep

    with pytest.raises(ConfigError, match=r"model.hidden=.*: the interpolation \$\{data.n_features\} names no key"):
        run_sweep(["model.hidden=[4,4],[4,${data.n_features}]", "data.n_samples=200"], output_dir=tmp_path / "s")
    assert not (tmp_path / "s").exists()
