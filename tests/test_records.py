"""The one best-epoch and early-stopping rule (trainlab.training.records), for one model and a
stack's members alike, decides as Lightning's EarlyStopping decides, near-ties included."""

import math
import random
from types import SimpleNamespace

import pytest
import torch
from lightning.pytorch.callbacks import EarlyStopping
from lightning.pytorch.trainer.states import TrainerFn

from trainlab.training.records import Record, Rules, improves


def lightnings_stops(values, mode, patience, min_delta):
    """The epochs at which Lightning's EarlyStopping tells the trainer to stop (its public hook)."""
    early = EarlyStopping("val/loss", mode=mode, patience=patience, min_delta=min_delta, check_on_train_epoch_end=True)
    trainer = SimpleNamespace(
        state=SimpleNamespace(fn=TrainerFn.FITTING),
        sanity_checking=False,
        fast_dev_run=False,
        should_stop=False,
        callback_metrics={},
        strategy=SimpleNamespace(reduce_boolean_decision=lambda decision, all=True: decision),
        current_epoch=0,
    )
    stops = []
    for epoch, value in enumerate(values, 1):
        trainer.current_epoch, trainer.should_stop = epoch - 1, False
        trainer.callback_metrics = {"val/loss": torch.tensor(value)}  # as trainlab publishes a value
        early.on_train_epoch_end(trainer, None)
        if trainer.should_stop:
            stops.append(epoch)
    return stops


def ours(values, mode, patience, min_delta):
    rules = Rules(10**6, "val/loss", mode, patience=patience, min_delta=min_delta, early_mode=mode)
    record, stops, stopped = Record(rules), [], False
    for epoch, value in enumerate(values, 1):
        record.finish_epoch({"epoch": epoch, "val/loss": value})
        if record.stopped_by and not stopped:
            stops.append(epoch)
        stopped = bool(record.stopped_by)
    return stops


@pytest.mark.parametrize("seed", range(60))
def test_early_stopping_stops_where_lightnings_does_near_ties_included(seed):
    rng = random.Random(seed)
    mode, patience = rng.choice(["min", "max"]), rng.randint(1, 4)
    min_delta = rng.choice([0.0, 1e-3, 0.1, 1e-8])
    base = rng.uniform(0.1, 2.0)
    values = [base]
    for _ in range(30):  # steps of about min_delta: improvements that only just beat it, or not
        values.append(values[-1] + rng.choice([-1, 1]) * rng.choice([min_delta, min_delta * (1 + 1e-7), 3e-8, 0.05]))
    if seed % 10 == 7:
        values[rng.randrange(len(values))] = math.nan  # a non-finite value stops at once
    expected = lightnings_stops(values, mode, patience, min_delta)
    assert ours(values, mode, patience, min_delta)[:1] == expected[:1]


def test_the_best_epoch_is_strictly_better_in_float32_and_a_nan_never_counts():
    assert improves(0.5, None, "min") and not improves(math.nan, None, "min")
    assert not improves(0.5, 0.5, "min") and improves(0.4, 0.5, "min") and improves(0.6, 0.5, "max")
    a = 0.30000001  # float32 rounds a and b to one value: not an improvement, as a callback sees them
    assert not improves(a, float(torch.tensor(a + 1e-9)), "min")
    record = Record(Rules(max_epochs=5, monitor="val/loss", mode="min"))
    for epoch, value in enumerate([0.5, math.nan, 0.4, 0.4, 0.45], 1):
        record.finish_epoch({"epoch": epoch, "val/loss": value})
    assert record.best_epoch == 3 and record.stopped_by == "max_epochs"


def test_a_stop_by_max_epochs_is_lifted_when_a_resume_allows_more_epochs():
    record = Record(Rules(max_epochs=2, monitor="val/loss", mode="min"))
    for epoch in (1, 2):
        record.finish_epoch({"epoch": epoch, "val/loss": 1.0 / epoch})
    assert record.stopped_by == "max_epochs"
    resumed = Record(Rules(max_epochs=4, monitor="val/loss", mode="min"))
    resumed.load_state_dict(record.state_dict())
    assert resumed.training and resumed.best_epoch == 2 and len(resumed.history) == 2


def test_a_stack_member_that_finished_before_its_stack_is_not_extended_from_the_stacks_epochs():
    """Its checkpoint's loop ran 20 epochs, the member trained 10 (max_epochs=10): raising
    max_epochs on resume cannot continue it from epoch 21."""
    record = Record(Rules(max_epochs=10, monitor="val/loss", mode="min"))
    for epoch in range(1, 11):
        record.finish_epoch({"epoch": epoch, "val/loss": 1.0 / epoch})
    resumed = Record(Rules(max_epochs=25, monitor="val/loss", mode="min"))
    resumed.load_state_dict(record.state_dict(), epochs_run=20)
    assert resumed.stopped_by == "max_epochs"
    resumed.load_state_dict(record.state_dict(), epochs_run=10)
    assert resumed.training
