"""First use: --help and config errors answer from Hydra and the schema alone (no torch),
in trainlab's words, with nothing trained and nothing left behind; run()'s result paths are
absolute and verbose=False prints nothing."""

import subprocess
import sys

import pytest
from cli_helpers import train
from overrides import QUICK

from trainlab import run
from trainlab.errors import ConfigError

# train.py's entry point in a fresh interpreter, reporting afterwards whether torch was imported.
PROBE = """
import sys
sys.argv = ["train.py", *sys.argv[1:]]
from trainlab.cli import train
try:
    train()
finally:
    print("torch imported:", "torch" in sys.modules, file=sys.stderr)
"""


def probe(*args, cwd):
    return subprocess.run([sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_help_lists_every_group_with_its_options_without_importing_torch(tmp_path):
    result = probe("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "usage: python train.py [group=option ...] [key=value ...]" in result.stdout
    assert "optimizer       adadelta, adagrad, adam*, adamw, rmsprop, sgd" in result.stdout
    assert "data            breast_cancer, circles, csv" in result.stdout and "will_i_pass*" in result.stdout
    assert "torch imported: False" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optimizer=adamm", "optimizer=adamm: optimizer has no option adamm; did you mean adam? allowed: adadelta,"),
        ("optimzer=adam", "optimzer=adam: there is no group or key optimzer; did you mean optimizer? allowed: data,"),
        ("optimizer.lrr=0.1", "optimizer.lrr=0.1: optimizer=adam has no key lrr; did you mean lr? allowed: lr,"),
        ("seed=abc", "seed=abc: 'abc' is not an integer"),
        ("optimizer.lr=-1", "optimizer.lr=-1.0 is not allowed: a learning rate > 0"),
        ("trainer.strategy=ddp_spawn", "trainer.strategy='ddp_spawn' is not allowed: auto or ddp"),
    ],
)
def test_a_config_error_is_one_message_exit_2_before_torch(override, message, tmp_path):
    result = probe(override, cwd=tmp_path)
    assert result.returncode == 2
    assert f"error: {message}" in result.stderr
    assert "HYDRA_FULL_ERROR" not in result.stderr and "To append to your config" not in result.stderr
    assert "torch imported: False" in result.stderr
    assert list(tmp_path.iterdir()) == []  # no outputs/ left behind


def test_a_sweep_with_an_invalid_job_trains_nothing_and_names_each_job(tmp_path):
    result = train("-m", "optimizer=adam,adamm", "seed=1,2", *QUICK, cwd=tmp_path)
    assert result.returncode == 2
    assert "error: 2 of 4 sweep jobs cannot run; nothing was trained:" in result.stderr
    assert "job 2 (optimizer=adamm seed=1" in result.stderr and "job 3 (optimizer=adamm seed=2" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["optimizer=adamm"], "did you mean adam?"),
        (["optimzer.lr=0.1"], "there is no group or key optimzer; did you mean optimizer?"),
        (["regularization=[dropout,earlystopping]"], "did you mean early_stopping?"),
    ],
)
def test_run_raises_config_error_for_unknown_names(overrides, message, tmp_path):
    with pytest.raises(ConfigError, match=message.replace("?", r"\?").replace("[", r"\[")):
        run(overrides, output_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_run_gives_absolute_paths_and_verbose_false_prints_nothing(tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    result = run([*QUICK, "regularization=[]", "trainer.enable_progress_bar=true"], output_dir="rel", verbose=False)
    assert result.run_dir == tmp_path / "rel" and result.run_dir.is_absolute()
    assert result.best_checkpoint is not None and result.best_checkpoint.is_absolute()
    assert result.best_checkpoint.is_file()
    out, err = capfd.readouterr()
    assert out == "" and err == ""
