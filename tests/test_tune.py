"""tune=lr_find: Lightning's LR range test, its picture, its suggestion, and training with it."""

import json
import math

import pandas as pd
import pytest
from overrides import QUIET
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from trainlab import run
from trainlab.lifecycle.tune import smooth, suggest


def test_lr_find_writes_the_plot_and_a_suggestion_inside_the_searched_range(tmp_path):
    result = run(["tune=lr_find", "tune.num_training=60", *QUIET], output_dir=tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "tuned"
    found = summary["lr_find"]
    assert (tmp_path / "lr_find.png").stat().st_size > 10_000
    assert 1e-6 <= found["suggested_lr"] <= 1.0
    assert found["steps"] == 60
    table = pd.read_csv(tmp_path / "lr_find.csv")
    assert len(table) == 60 and list(table.columns) == ["lr", "loss", "smoothed_loss"]
    assert table["lr"].iloc[0] == pytest.approx(1e-6) and table["lr"].is_monotonic_increasing
    assert found["suggested_lr"] in table["lr"].tolist()
    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    assert acc.Scalars("tune/suggested_lr")[0].value == pytest.approx(found["suggested_lr"])
    assert "tune/lr_find" in acc.Tags()["images"]
    # The test alone trains nothing.
    assert result.history == [] and not (tmp_path / "checkpoints").exists()


def test_lr_find_apply_trains_with_the_suggested_rate(tmp_path):
    overrides = ["tune=lr_find", "tune.num_training=50", "tune.apply=true", "trainer.max_epochs=3", *QUIET]
    result = run(overrides, output_dir=tmp_path)
    suggested = json.loads((tmp_path / "summary.json").read_text())["lr_find"]["suggested_lr"]
    assert result.history[0]["lr"] == pytest.approx(suggested)
    assert result.config.optimizer.lr == pytest.approx(suggested)
    assert result.metrics["test/acc"] > 0.5


def test_smoothing_is_bias_corrected():
    assert smooth([2.0] * 5) == pytest.approx([2.0] * 5)
    assert smooth([1.0, 3.0])[1] == pytest.approx((0.98 * 0.02 * 1 + 0.02 * 3) / (1 - 0.98**2))


def test_suggestion_is_the_steepest_descent_against_log_lr():
    lrs = [10 ** (-6 + 6 * i / 99) for i in range(100)]
    # A loss that falls fastest at lr = 1e-2 (a logistic in log10 lr), then blows up past 0.3.
    losses = [1 / (1 + math.exp(3 * (math.log10(lr) + 2))) + (5 * (lr - 0.3) if lr > 0.3 else 0) for lr in lrs]
    assert suggest(lrs, losses) == pytest.approx(1e-2, rel=0.15)
    assert suggest(lrs[:2], losses[:2]) is None
    assert suggest(lrs, [float("nan")] * 100) is None
