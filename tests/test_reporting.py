"""Epoch values reach TensorBoard at step = the epoch, per-step losses when asked, and the
progress bar, without Lightning's self.log."""

import pytest
from overrides import QUIET
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from trainlab import run

# 400 rows -> 240 training rows -> 15 mini-batches of 16 per epoch (no partial batch).
SMALL = ["data.n_samples=400", "data.batch_size=16", "regularization=[dropout]", "trainer.max_epochs=3", *QUIET]


def scalars(run_dir, tag):
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars(tag)]


def test_epoch_values_are_logged_at_step_epoch(tmp_path):
    result = run(SMALL, output_dir=tmp_path)
    epochs = [row["epoch"] for row in result.history]
    for tag in ("train/loss", "train/acc", "val/loss", "val/acc", "lr"):
        logged = scalars(tmp_path, tag)
        assert [step for step, _ in logged] == epochs, tag
        assert [value for _, value in logged] == pytest.approx([row[tag] for row in result.history], rel=1e-6)
    assert scalars(tmp_path, "test/acc") == [(3, pytest.approx(result.metrics["test/acc"]))]


def test_log_every_n_steps_logs_every_nth_optimizer_steps_loss(tmp_path):
    every = run([*SMALL, "trainer.log_every_n_steps=1", "speed.steps_per_call=32"], output_dir=tmp_path / "1")
    losses = scalars(tmp_path / "1", "train/loss_step")
    assert [step for step, _ in losses] == list(range(1, 46))
    # Equal mini-batches: the epoch's training loss is the mean of its steps' losses.
    for epoch, row in enumerate(every.history):
        steps = [value for _, value in losses[15 * epoch : 15 * (epoch + 1)]]
        assert sum(steps) / 15 == pytest.approx(row["train/loss"], rel=1e-5)

    fifth = ["trainer.log_every_n_steps=5", *SMALL]
    run([*fifth, "speed.steps_per_call=1"], output_dir=tmp_path / "k1")
    run([*fifth, "speed.steps_per_call=8"], output_dir=tmp_path / "k8")
    one, eight = scalars(tmp_path / "k1", "train/loss_step"), scalars(tmp_path / "k8", "train/loss_step")
    assert [step for step, _ in one] == [step for step, _ in eight] == list(range(5, 46, 5))
    assert [value for _, value in eight] == pytest.approx([value for _, value in one], abs=1e-6)
    assert [value for _, value in one] == pytest.approx([value for _, value in losses[4::5]], abs=1e-6)


def test_without_log_every_n_steps_no_step_values_are_logged(tmp_path):
    run(SMALL, output_dir=tmp_path)
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    assert "train/loss_step" not in events.Tags()["scalars"]


def test_the_progress_bar_shows_the_epochs_losses(tmp_path, monkeypatch):
    from trainlab.training.module import TrainingModule

    shown = {}
    monkeypatch.setattr(TrainingModule, "on_train_end", lambda self: shown.update(self.trainer.progress_bar_metrics))
    result = run(SMALL, output_dir=tmp_path)
    last = result.history[-1]
    assert shown == pytest.approx({k: last[k] for k in ("train/loss", "train/acc", "val/loss", "val/acc")})
