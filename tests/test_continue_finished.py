"""A finished run continued for more epochs (``resume=<run dir> trainer.max_epochs=<more>``)
goes on from its last epoch's weights, optimizer state and random state, and ends as a run
trained that long without stopping; a run that cannot go on is refused saying how."""

import logging
import shutil
from pathlib import Path

import pytest
from cli_helpers import train
from overrides import QUIET
from release import FIXTURES

from trainlab import run, run_sweep
from trainlab.errors import ConfigError
from trainlab.files.checkpoints import load_checkpoint

# Dropout on (the random state must carry over); no early stopping. lr 0.3: the validation loss
# is best at epoch 1 of 3, so the last epoch's weights (which go on) are not the best (restored
# at the run's end, tested and in best.ckpt).
COMMON = ["data.n_samples=300", "optimizer.lr=0.3", "regularization=[dropout]", "logger=none"]
COMMON += ["pictures.enabled=false", *QUIET]


def rows(history):
    return [{k: v for k, v in row.items() if k != "epoch_seconds"} for row in history]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A run of 3 epochs that ended by its max_epochs (copy it before continuing it)."""
    return run([*COMMON, "trainer.max_epochs=3"], output_dir=tmp_path_factory.mktemp("finished"), verbose=False)


@pytest.fixture
def copy(finished, tmp_path):
    return Path(shutil.copytree(finished.run_dir, tmp_path / "run"))


def test_a_finished_run_continued_equals_one_trained_that_long(finished, copy, tmp_path, caplog):
    assert finished.best_epoch == 1 and finished.config.regularization.early_stopping is None
    last, best = (
        load_checkpoint(copy / "checkpoints" / "last.ckpt"),
        load_checkpoint(copy / "checkpoints" / "best.ckpt"),
    )
    assert last["epoch"] == 2 and best["epoch"] == 0
    # last.ckpt holds the last epoch's weights, not the best ones the run restored at its end
    assert any((last["state_dict"][k] - best["state_dict"][k]).abs().max() > 1e-3 for k in last["state_dict"])

    with caplog.at_level(logging.WARNING, logger="trainlab.lifecycle.resume"):
        continued = run([f"resume={copy}", "trainer.max_epochs=5"], verbose=False)
    whole = run([*COMMON, "trainer.max_epochs=5"], output_dir=tmp_path / "whole", verbose=False)

    assert (
        f"continuing the finished run {copy} (3 epochs) to trainer.max_epochs=5 from last.ckpt: epoch 3's weights "
        "and optimizer state, not the best epoch 1's weights, which the run restored at its end"
    ) in caplog.text
    assert [row["epoch"] for row in continued.history] == [1, 2, 3, 4, 5]
    assert rows(continued.history) == [pytest.approx(row, abs=1e-6) for row in rows(whole.history)]
    assert continued.best_epoch == whole.best_epoch
    assert continued.metrics == pytest.approx(whole.metrics, abs=1e-6)
    for key, weights in whole.model.state_dict().items():  # the best weights, restored
        assert (continued.model.state_dict()[key] - weights).abs().max() <= 1e-6, key
    a, b = load_checkpoint(copy / "checkpoints" / "last.ckpt"), load_checkpoint(whole.run_dir / "checkpoints/last.ckpt")
    assert a["epoch"] == b["epoch"] == 4 and a["global_step"] == b["global_step"]
    for key, weights in b["state_dict"].items():  # the last epoch's weights
        assert (a["state_dict"][key] - weights).abs().max() <= 1e-6, key
    assert (copy / "summary.json").read_text().count('"status": "finished"') == 1
    assert "trainer.max_epochs=5" in (copy / "overrides.yaml").read_text()


def test_a_finished_run_without_more_epochs_is_refused_saying_how(copy):
    before = (copy / "summary.json").read_text()
    for more in ([], ["trainer.max_epochs=3"], ["trainer.max_epochs=2"]):
        with pytest.raises(
            ConfigError,
            match=r"that run has finished; there is nothing to resume at trainer.max_epochs=\d: it trained 3 epochs; "
            r"to train it further, from its last epoch's weights and optimizer state, add "
            r"trainer.max_epochs=<more than 3>",
        ):
            run([f"resume={copy}", *more], verbose=False)
    assert (copy / "summary.json").read_text() == before


def test_an_early_stopped_run_is_refused_saying_why(tmp_path):
    stops = [*COMMON, "regularization=[early_stopping]", "regularization.early_stopping.patience=1"]
    stopped = run([*stops, "trainer.max_epochs=10"], output_dir=tmp_path, verbose=False)
    assert len(stopped.history) < 10
    with pytest.raises(
        ConfigError,
        match=rf"early stopping ended that run at epoch {len(stopped.history)}; there is nothing to resume: a "
        r"resume does not train past early stopping \(train a new run with a larger "
        r"regularization.early_stopping.patience, or without early stopping\)",
    ):
        run([f"resume={tmp_path}", "trainer.max_epochs=20"], verbose=False)


def test_a_finished_stack_member_is_refused_saying_why(tmp_path):
    # A stack's finished member keeps its weights, not its optimizer state: it cannot go on.
    member = Path(shutil.copytree(FIXTURES / "rundirs" / "member", tmp_path / "member"))
    with pytest.raises(
        ConfigError,
        match=r"that run has finished; there is nothing to resume: it trained in a stack "
        r"\(hydra/launcher=stacked\), whose finished members keep their weights, not their optimizer state, so "
        r"it cannot train further; train a new run with trainer.max_epochs=<more than 3>",
    ):
        run([f"resume={member}", "trainer.max_epochs=5"], verbose=False)


def test_the_command_line_refuses_with_exit_2(copy, tmp_path):
    out = train(f"resume={copy}", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert "add trainer.max_epochs=<more than 3>" in out.stderr


@pytest.mark.slow
def test_the_command_line_continues_and_says_so(copy, tmp_path):
    out = train(f"resume={copy}", "trainer.max_epochs=4", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (
        "continuing the finished run" in out.stdout + out.stderr and "not the best epoch 1's" in out.stdout + out.stderr
    )
    assert load_checkpoint(copy / "checkpoints" / "last.ckpt")["epoch"] == 3


@pytest.mark.slow
def test_a_member_of_a_stack_trained_now_is_refused(tmp_path):
    results = run_sweep(["seed=0,1", "data.n_samples=200", "trainer.max_epochs=3", *COMMON], tmp_path, verbose=False)
    with pytest.raises(ConfigError, match=r"it trained in a stack \(hydra/launcher=stacked\)"):
        run([f"resume={results[0].run_dir}", "trainer.max_epochs=5"], verbose=False)
