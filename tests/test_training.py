"""Whole runs on will_i_pass: accuracy, early stopping, best weights, logs, summary."""

import json

import pytest
import torch
from overrides import QUIET
from release import assert_numbers, recorded, rows
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from trainlab import run
from trainlab.training import build
from trainlab.training.losses import Loss


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """The default configuration, as `python train.py` runs it."""
    return run(QUIET, output_dir=tmp_path_factory.mktemp("default"))


def test_default_run_reaches_90_percent_test_accuracy(default_run):
    assert default_run.metrics["test/acc"] >= 0.90
    assert default_run.metrics["test/auroc"] >= 0.90


def test_history_is_one_row_per_epoch(default_run):
    history = default_run.history
    assert [row["epoch"] for row in history] == list(range(1, len(history) + 1))
    assert {"epoch", "train/loss", "train/acc", "val/loss", "val/acc", "val/f1", "val/auroc", "lr"} <= set(history[0])
    assert history[0]["lr"] == pytest.approx(0.01)
    # Training reduces the loss.
    assert history[-1]["train/loss"] < history[0]["train/loss"]


def test_metrics_are_those_of_the_best_epoch(default_run):
    best = min(default_run.history, key=lambda row: row["val/loss"])
    assert default_run.best_epoch == best["epoch"]
    assert default_run.metrics["val/loss"] == best["val/loss"]
    assert default_run.metrics["val/acc"] == best["val/acc"]


def test_tensorboard_event_files_hold_the_curves_and_hparams(default_run):
    events = EventAccumulator(str(default_run.run_dir))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"train/loss", "val/loss", "val/acc", "lr", "test/acc"} <= scalars
    assert len(events.Scalars("val/loss")) == len(default_run.history)
    assert {"final/val/loss", "final/test/acc"} <= scalars
    assert events.Scalars("final/test/acc")[-1].value == pytest.approx(default_run.metrics["test/acc"])
    # The HPARAMS tab: the run's hyperparameters, with the final metrics as its columns.
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = events.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    hparams = start.session_start_info.hparams
    assert hparams["optimizer"].string_value == "adam"
    assert hparams["optimizer.lr"].number_value == pytest.approx(0.01)
    assert hparams["regularization.dropout.p"].number_value == pytest.approx(0.5)
    # No experiment summary: TensorBoard builds the table from every run's session, the scalars its metrics.
    assert set(content) == {"_hparams_/session_start_info", "_hparams_/session_end_info"}
    assert "hp_metric" not in scalars


def test_run_dir_holds_config_summary_and_checkpoints(default_run):
    run_dir = default_run.run_dir
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["best_epoch"] == default_run.best_epoch
    assert summary["metrics"]["test/acc"] == pytest.approx(default_run.metrics["test/acc"])
    assert summary["status"] in ("finished", "early-stopped")
    assert summary["device"] == default_run.device
    assert default_run.best_checkpoint == run_dir / "checkpoints" / "best.ckpt"
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert "name: will_i_pass" in (run_dir / "config.yaml").read_text()


def test_returned_model_holds_the_best_checkpoint_weights(default_run):
    saved = torch.load(default_run.best_checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    for name, value in default_run.model.state_dict().items():
        torch.testing.assert_close(value, saved[f"model.{name}"])


def test_early_stopping_stops_and_restores_the_best_weights(tmp_path):
    # A wide net, no dropout, few noisy samples: validation loss soon rises again.
    result = run(
        [
            *QUIET,
            "regularization=[early_stopping]",
            "regularization.early_stopping.patience=3",
            "model.hidden=[128,128]",
            "data.n_samples=120",
            "data.noise=0.25",
            "optimizer.lr=0.03",
            "trainer.max_epochs=200",
        ],
        output_dir=tmp_path,
    )
    assert result.stopped_early
    assert len(result.history) < 200
    assert len(result.history) == result.best_epoch + 3
    best_val = min(row["val/loss"] for row in result.history)
    assert result.history[-1]["val/loss"] > best_val
    # The returned model is the best one: its val loss, recomputed, is the best logged.
    data = build.data(result.config)
    with torch.no_grad():
        val_loss = Loss("bce", "binary")(result.model(data.x_val), data.y_val).item()
    assert val_loss == pytest.approx(best_val, abs=1e-6)
    assert result.metrics["val/loss"] == pytest.approx(best_val, abs=1e-9)


def test_same_seed_same_metrics(tmp_path):
    overrides = [*QUIET, "trainer.max_epochs=3", "data.n_samples=300"]
    a = run(overrides, output_dir=tmp_path / "a")
    b = run(overrides, output_dir=tmp_path / "b")
    c = run([*overrides, "seed=7"], output_dir=tmp_path / "c")

    def curves(result):  # everything but the wall times
        return [{k: v for k, v in row.items() if k != "epoch_seconds"} for row in result.history]

    assert curves(a) == curves(b) and a.metrics == b.metrics
    assert curves(a) != curves(c)
    assert all(row["epoch_seconds"] > 0 for row in a.history)


def test_full_batch_takes_one_step_per_epoch(tmp_path):
    result = run([*QUIET, "data.batch_size=full", "trainer.max_epochs=3", "data.n_samples=300"], output_dir=tmp_path)
    assert json.loads((tmp_path / "summary.json").read_text())["optimizer_steps"] == 3
    assert len(result.history) == 3


def test_perceptron_is_linear_and_mlp_beats_it(tmp_path):
    # The course's point: the boundary is not a line, so hidden layers help.
    common = [*QUIET, "regularization=[early_stopping]", "trainer.max_epochs=60"]
    perceptron = run([*common, "model=perceptron"], output_dir=tmp_path / "p")
    mlp = run([*common, "model=mlp"], output_dir=tmp_path / "m")
    assert mlp.metrics["val/loss"] < perceptron.metrics["val/loss"]
    assert mlp.metrics["test/acc"] >= 0.9


def test_csv_logger_writes_metrics_csv(tmp_path):
    run([*QUIET, "logger=csv", "trainer.max_epochs=2", "data.n_samples=200"], output_dir=tmp_path)
    header = (tmp_path / "csv" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"train/loss", "val/loss", "val/acc", "lr"} <= set(header)


def test_the_sanity_check_is_no_epoch_and_the_best_epoch_has_one_source(tmp_path):
    # Validation every 2nd epoch, after a sanity check before training: epochs 1 and 3 have
    # no validation values, and the best epoch is a validated one, whose weights are restored.
    overrides = [*QUIET, "data.n_samples=300", "regularization=[]", "trainer.max_epochs=4"]
    overrides += ["trainer.num_sanity_val_steps=1", "trainer.check_val_every_n_epoch=2"]
    result = run(overrides, output_dir=tmp_path)
    assert ["val/loss" in row for row in result.history] == [False, True, False, True]
    validated = [row for row in result.history if "val/loss" in row]
    assert result.best_epoch == min(validated, key=lambda row: row["val/loss"])["epoch"]
    saved = torch.load(result.best_checkpoint, map_location="cpu", weights_only=True)
    assert saved["epoch"] + 1 == result.best_epoch
    for name, value in result.model.state_dict().items():
        torch.testing.assert_close(value, saved["state_dict"][f"model.{name}"])


def test_the_summary_says_what_stopped_the_run(tmp_path):
    result = run([*QUIET, "data.n_samples=200", "trainer.max_epochs=2"], output_dir=tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert result.stopped_by == summary["stopped_by"] == "max_epochs" and summary["status"] == "finished"


def test_the_default_run_gives_the_numbers_of_the_release_before_the_layout_change(default_run):
    """Bit for bit on the machine they were recorded on (tests/release.py)."""
    record = recorded("default_run.json")
    summary = json.loads((default_run.run_dir / "summary.json").read_text())
    assert (summary["best_epoch"], summary["epochs"], summary["stopped_by"]) == (
        record["best_epoch"],
        record["epochs"],
        record["stopped_by"],
    )
    assert_numbers(summary["metrics"], record["metrics"], record, rel=1e-5)
    assert_numbers(rows(default_run.history), record["history"], record, rel=1e-5)
