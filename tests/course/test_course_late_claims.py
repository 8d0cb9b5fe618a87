"""The course page's claims 9 to 12: adaptive optimizers, mini-batches, over- and underfitting, regularization."""

import pytest

from trainlab.course import fitting, minibatches, optimizers, regularization


def test_adam_reaches_the_target_in_fewer_epochs_than_sgd(course):
    numbers = course[1]["optimizers"].numbers
    assert set(numbers) == set(optimizers.OPTIMIZERS)
    adam, sgd = numbers["adam"]["epochs_to_target"], numbers["sgd"]["epochs_to_target"]
    assert adam is not None and sgd is not None
    # Measured over seeds 0-2: adam 4 epochs, sgd 7.
    assert adam + 2 <= sgd
    assert numbers["adam"]["lr"] == 0.01 and numbers["sgd"]["lr"] == 0.1
    assert all(len(n["per_seed"]) == optimizers.SEEDS for n in numbers.values())


def test_batch_sizes_trade_noise_time_and_progress(course):
    numbers = course[1]["minibatches"].numbers
    assert set(numbers) == set(minibatches.BATCHES)
    full, one, mini = numbers["full"], numbers["1"], numbers["32"]
    assert full["steps_per_epoch"] == 1 and mini["steps_per_epoch"] == 6 and one["steps_per_epoch"] == 180
    # Per-step loss noise (measured: 0.001, 0.045, 0.87).
    assert one["noise"] > 5 * mini["noise"] > 5 * full["noise"]
    # One example per step: far longer epochs (measured ~0.1 s against ~0.01 s).
    assert one["seconds_per_epoch"] > 3 * full["seconds_per_epoch"]
    assert one["seconds_per_epoch"] > 3 * mini["seconds_per_epoch"]
    # After the same 10 epochs: mini-batches far ahead of the full batch (val loss 0.32 against 0.62).
    assert mini["val_loss"] < full["val_loss"] - 0.15
    assert mini["val_acc"] >= full["val_acc"]


def test_the_big_network_overfits_and_the_small_one_underfits(course):
    numbers = course[1]["fitting"].numbers
    assert tuple(numbers) == fitting.KEYS
    small, right, big = numbers["small"], numbers["right"], numbers["big"]
    # Measured: the big one's val loss 0.80 at the end, 0.27 at its minimum (epoch 59 of 200).
    assert big["final_val_loss"] > big["min_val_loss"] + 0.2
    assert big["min_val_epoch"] < 150
    assert big["final_train_loss"] < small["final_train_loss"] - 0.2
    assert right["final_val_loss"] < small["final_val_loss"]


def test_dropout_narrows_the_gap_over_seeds(course):
    numbers = course[1]["regularization"].numbers
    none, dropout = numbers["none"], numbers["dropout"]
    assert len(none["gaps"]) == len(dropout["gaps"]) == regularization.SEEDS
    # Measured: mean gap 1.29 without dropout, 0.45 with it; narrower for every seed.
    assert dropout["mean_gap"] < none["mean_gap"] - 0.4
    assert all(d < n for d, n in zip(dropout["gaps"], none["gaps"], strict=True))


def test_early_stopping_stops_near_the_turn_and_restores_the_best_weights(course):
    early = course[1]["regularization"].numbers["early_stopping"]
    assert early["stopped_early"]
    assert early["stopped_by"] == "early stopping"
    # Patience 10: it stops 10 epochs after its best, long before the 200 allowed.
    assert early["epochs"] == early["best_epoch"] + 10
    assert early["epochs"] < 100
    assert early["best_epoch"] == early["min_val_epoch"]
    assert early["restored_val_loss"] == pytest.approx(early["min_val_loss"], rel=1e-5)
