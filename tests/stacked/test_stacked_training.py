"""A stack's members train as they would alone: same numbers, own stopping, own divergence."""

import math

import pytest
import torch

import trainlab
from trainlab.config.composing import compose
from trainlab.lifecycle.stack import train_stack

# will_i_pass, 600 rows: 360 training rows, 12 mini-batches of 32 per epoch.
SMALL = [
    "data.n_samples=600",
    "trainer.max_epochs=5",
    "regularization=[]",
    "pictures.enabled=false",
    "logger=none",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
]


def stack(*jobs: list[str]):
    return train_stack([compose([*SMALL, *job])[0] for job in jobs])


def alone(job: list[str], tmp_path, name: str):
    return trainlab.run([*SMALL, *job], output_dir=tmp_path / name, verbose=False)


def relative(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-12)


@pytest.mark.parametrize(
    ("optimizer", "lrs"),
    [
        ("sgd optimizer.momentum=0.9", (0.05, 0.1)),
        ("adam", (0.001, 0.01)),
        ("adamw optimizer.weight_decay=0.05", (0.001, 0.01)),
        ("adadelta", (1.0, 0.5)),
        ("adagrad", (0.1, 0.05)),
        ("rmsprop", (0.001, 0.01)),
    ],
)
def test_each_member_trains_as_it_would_alone(optimizer, lrs, tmp_path):
    name, *options = optimizer.split()
    seeds_and_lrs = zip((0, 1), lrs, strict=True)
    jobs = [[f"optimizer={name}", *options, f"seed={seed}", f"optimizer.lr={lr}"] for seed, lr in seeds_and_lrs]
    members = stack(*jobs)
    for number, (job, member) in enumerate(zip(jobs, members, strict=True)):
        lone = alone(job, tmp_path, str(number))
        assert len(member.record.history) == len(lone.history) == 5
        for ours, theirs in zip(member.record.history, lone.history, strict=True):
            assert relative(ours["val/loss"], theirs["val/loss"]) < 1e-4, (job, ours, theirs)
            assert relative(ours["train/loss"], theirs["train/loss"]) < 1e-4, (job, ours, theirs)
            assert ours["lr"] == pytest.approx(theirs["lr"])
        assert member.record.best_epoch == lone.best_epoch
        assert member.metrics["test/acc"] == pytest.approx(lone.metrics["test/acc"], abs=1e-6)


def test_members_stop_early_by_their_own_patience_and_keep_their_best_weights(tmp_path):
    early = ["regularization=[early_stopping]", "trainer.max_epochs=40", "optimizer.lr=0.05"]
    jobs = [[*early, "regularization.early_stopping.patience=1"], [*early, "regularization.early_stopping.patience=50"]]
    quick, patient = stack(*jobs)
    lone = alone(jobs[0], tmp_path, "quick")
    assert quick.record.stopped_by == lone.stopped_by == "early stopping"
    assert len(quick.record.history) == len(lone.history) < 40
    assert patient.record.stopped_by == "max_epochs" and len(patient.record.history) == 40
    assert quick.record.best_epoch == lone.best_epoch
    for name, weights in quick.model.state_dict().items():  # the best epoch's, restored
        assert torch.allclose(weights, lone.model.state_dict()[name], rtol=1e-4, atol=1e-6), name


def test_a_diverging_member_is_recorded_as_diverged_and_changes_no_other_member_by_a_bit(tmp_path, monkeypatch):
    from trainlab.training.stack import stack_steps

    # Bit for bit at one width: the stack shrinking to its live member is compared at 1e-6 (test_shrink.py).
    monkeypatch.setattr(stack_steps, "SHRINK_BELOW", 0.0)
    good, diverging, other = ["optimizer.lr=0.01"], ["optimizer.lr=1e12"], ["optimizer.lr=0.001"]
    beside_diverging = stack(good, diverging)
    beside_other = stack(good, other)
    error = beside_diverging[1].record.diverged
    assert beside_diverging[1].record.stopped_by == "diverged" and "diverged at epoch" in str(error)
    assert beside_diverging[0].record.stopped_by == "max_epochs"

    def timeless(rows):
        return [{k: v for k, v in row.items() if k != "epoch_seconds"} for row in rows]

    assert timeless(beside_diverging[0].record.history) == timeless(beside_other[0].record.history)
    with pytest.raises(trainlab.errors.Diverged) as lone:
        alone(diverging, tmp_path, "lone")
    assert (error.epoch, error.step) == (lone.value.epoch, lone.value.step)
    assert len(beside_diverging[1].record.history) == error.epoch - 1


def test_dropout_draws_each_members_own_masks():
    job = ["regularization=[dropout]", "regularization.dropout.p=0.5", "trainer.max_epochs=2"]
    twin_a, twin_b = stack(job, job)  # the same seed, the same everything: only the masks differ
    assert twin_a.record.history[0]["train/loss"] != twin_b.record.history[0]["train/loss"]
    assert all(math.isfinite(row["val/loss"]) for row in twin_a.record.history)


def test_a_stack_too_big_for_the_memory_is_cut_into_stacks_that_fit(monkeypatch, caplog):
    from trainlab.training.stack import memory

    jobs = [[f"seed={seed}"] for seed in range(4)]
    whole = stack(*jobs)
    sizes = [2, 32, 32, 1]  # will_i_pass: 2 inputs, the default hidden sizes, one logit
    per_member = memory.member_bytes(sizes, 32, 128, (360, 120, 120), "Adam", 1.0)
    monkeypatch.setattr(memory, "free_bytes", lambda device: int(2.5 * per_member / memory.FILL))
    with caplog.at_level("INFO", logger="trainlab"):
        cut = stack(*jobs)
    assert "a stack of 4 needs about" in caplog.text and "trained as stacks of at most 2" in caplog.text
    assert [m.stack_size for m in cut] == [2, 2, 2, 2]
    # Batched matrix products need not give the same bits at another stack width: the promise is
    # each member's own numbers to float32 noise (1e-5), as for a member against its lone run.
    for ours, theirs in zip(cut, whole, strict=True):
        assert [r["val/loss"] for r in ours.record.history] == pytest.approx(
            [r["val/loss"] for r in theirs.record.history], rel=1e-5
        )


def test_the_memory_estimate_counts_weights_optimizer_state_activations_and_data():
    from trainlab.training.stack.memory import FLOAT, member_bytes

    sizes, rows = [784, 512, 512, 10], (48000, 6000, 6000)
    weights = 785 * 512 + 513 * 512 + 513 * 10
    adam, sgd = (member_bytes(sizes, 128, 16, rows, name, 1.0) for name in ("Adam", "SGD"))
    assert adam - sgd == weights * FLOAT  # one more state copy per weight
    shared = member_bytes(sizes, 128, 16, rows, "Adam", 1 / 16)
    assert adam - shared == pytest.approx(60000 * 785 * FLOAT * 15 / 16, rel=1e-3)
    assert adam > (4 + 2) * weights * FLOAT + 60000 * 785 * FLOAT


@pytest.mark.parametrize(
    "task",
    [
        ["data=wave", "data.n_samples=400"],  # regression: mse, mae in the target's units
        ["data=random", "data.n_samples=400", "data.n_classes=3", "data.n_features=4"],  # multiclass
        ["model=perceptron", "loss=mse"],  # no hidden layer; mse on the probability
    ],
)
def test_other_tasks_and_models_train_as_they_would_alone(task, tmp_path):
    members = stack([*task, "seed=0"], [*task, "seed=1", "optimizer.lr=0.05"])
    lone = alone([*task, "seed=1", "optimizer.lr=0.05"], tmp_path, "lone")
    ours = members[1].record.history
    assert len(ours) == len(lone.history)
    for row, theirs in zip(ours, lone.history, strict=True):
        assert set(row) == set(theirs)
        for key in row:
            if key != "epoch_seconds":
                assert relative(row[key], theirs[key]) < 1e-4, (key, row, theirs)
    assert members[1].metrics == pytest.approx(lone.metrics, rel=1e-4)
