"""A stack that shrinks as its members stop computes the same numbers as one that does not.

Members stop at different epochs (their own max_epochs, early stopping, divergence); the stack
gathers itself down to the live ones (``trainlab.training.stack.stack_steps``). Every member's
history, best epoch, best and last weights and test metrics must equal those of the same stack
trained without shrinking (``SHRINK_BELOW = 0``), to 1e-6; and the shrinking must have happened.
"""

import math

import pytest
import torch

import trainlab
from trainlab.api import run_sweep
from trainlab.config.composing import compose
from trainlab.lifecycle.stack import train_stack
from trainlab.training.stack import stack_steps
from trainlab.training.stack.stack_steps import StackSteps

SMALL = [
    "data.n_samples=400",
    "regularization=[]",
    "pictures.enabled=false",
    "logger=none",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "optimizer=adam",
]
EARLY = ["regularization=[early_stopping]", "regularization.early_stopping.patience=1", "optimizer.lr=0.05"]
# Five members that stop: after epoch 2, in epoch 1 (diverged: lr 1e12), after 4, early, after 8.
JOBS = [
    ["trainer.max_epochs=2", "seed=0"],
    ["trainer.max_epochs=8", "seed=1", "optimizer.lr=1e12"],
    ["trainer.max_epochs=4", "seed=2", "optimizer.lr=0.01"],
    ["trainer.max_epochs=8", "seed=3", *EARLY],
    ["trainer.max_epochs=8", "seed=4", "optimizer.lr=0.003"],
]


@pytest.fixture
def widths(monkeypatch):
    """The number of members the stack computed in each Lightning training step."""
    seen: list[int] = []
    original = StackSteps.run

    def run(self, chunk, *args):
        seen.append(self.model.n_members)
        return original(self, chunk, *args)

    monkeypatch.setattr(StackSteps, "run", run)
    return seen


def trained(jobs, monkeypatch, shrink_below: float):
    monkeypatch.setattr(stack_steps, "SHRINK_BELOW", shrink_below)
    return train_stack([compose([*SMALL, *job])[0] for job in jobs])


def close(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-6 * max(1.0, abs(b))


def assert_same_member(ours, theirs) -> None:
    assert ours.record.stopped_by == theirs.record.stopped_by
    assert ours.record.best_epoch == theirs.record.best_epoch
    assert len(ours.record.history) == len(theirs.record.history)
    for mine, other in zip(ours.record.history, theirs.record.history, strict=True):
        assert set(mine) == set(other)
        for key in mine.keys() - {"epoch_seconds"}:
            assert close(mine[key], other[key]), (key, mine, other)
    assert (ours.record.diverged is None) == (theirs.record.diverged is None)
    for name, weights in ours.model.state_dict().items():  # the best epoch's
        assert torch.allclose(weights, theirs.model.state_dict()[name], rtol=0, atol=1e-6), name
    for name, weights in ours.last_state.items():
        assert torch.allclose(weights, theirs.last_state[name], rtol=0, atol=1e-6), name
    assert ours.metrics.keys() == theirs.metrics.keys()
    for key, value in ours.metrics.items():
        assert close(value, theirs.metrics[key]), key


def test_a_shrinking_stack_gives_every_member_the_numbers_of_the_unshrunk_one(monkeypatch, widths):
    unshrunk = trained(JOBS, monkeypatch, 0.0)
    assert set(widths) == {5}
    widths.clear()
    shrunk = trained(JOBS, monkeypatch, 1.0)
    stops = [m.record.stopped_by for m in shrunk]
    assert stops == ["max_epochs", "diverged", "max_epochs", "early stopping", "max_epochs"]
    assert [len(m.record.history) for m in shrunk][:3] == [2, 0, 4]
    assert len(set(widths)) >= 3 and min(widths) == 1 and widths[0] == 5  # it shrank, more than once
    assert widths == sorted(widths, reverse=True)
    for ours, theirs in zip(shrunk, unshrunk, strict=True):
        assert_same_member(ours, theirs)


def test_dropout_masks_do_not_depend_on_the_width(monkeypatch, widths):
    """Dropout draws every member's numbers and keeps the computed members': a survivor's masks,
    and so its numbers, are those of the unshrunk stack."""
    dropout = ["regularization=[dropout]", "regularization.dropout.p=0.3", "optimizer=sgd", "optimizer.lr=0.05"]
    jobs = [[*dropout, f"trainer.max_epochs={epochs}", f"seed={seed}"] for seed, epochs in enumerate((1, 3, 2))]
    unshrunk = trained(jobs, monkeypatch, 0.0)
    widths.clear()
    shrunk = trained(jobs, monkeypatch, 1.0)
    assert widths[0] == 3 and min(widths) == 1
    for ours, theirs in zip(shrunk, unshrunk, strict=True):
        assert_same_member(ours, theirs)


def interrupt_in_epoch(monkeypatch, epoch: int) -> None:
    """Ctrl-C at the end of the given epoch (from 1), before it is recorded."""
    from trainlab.training.module import TrainingModule

    original = TrainingModule.on_train_epoch_end

    def interrupting(self):
        if self.current_epoch + 1 == epoch:
            raise KeyboardInterrupt
        original(self)

    monkeypatch.setattr(TrainingModule, "on_train_epoch_end", interrupting)


def test_a_stack_interrupted_after_it_shrank_continues_shrunk_to_the_same_numbers(monkeypatch, widths, tmp_path):
    """Ctrl-C in epoch 6, after the stack shrank (epochs 3 and 5, ...): its last.ckpt holds every
    member in the full-width form; the stack resumed from it starts shrunk and ends with the
    numbers of the stack that was never stopped nor shrunk."""
    from trainlab.lifecycle.member import StackInterrupted

    cfgs = [compose([*SMALL, *job, "speed.last_checkpoint_seconds=0"])[0] for job in JOBS]
    monkeypatch.setattr(stack_steps, "SHRINK_BELOW", 0.0)
    whole = train_stack(cfgs)
    monkeypatch.setattr(stack_steps, "SHRINK_BELOW", 1.0)
    with monkeypatch.context() as patch:
        interrupt_in_epoch(patch, 6)
        with pytest.raises(StackInterrupted):
            train_stack(cfgs, checkpoints=tmp_path / "first")
    assert min(widths) < 5  # it had shrunk before the Ctrl-C
    saved = torch.load(tmp_path / "first" / "last.ckpt", weights_only=False)
    assert saved["epoch"] == 4  # epochs 1-5 kept
    assert all(w.shape[0] == 5 for k, w in saved["state_dict"].items() if k.startswith("model."))
    assert all(s.shape[0] == 5 for s in saved["stacked"]["optimizer"]["state"][0].values())
    widths.clear()
    resumed = train_stack(cfgs, checkpoints=tmp_path / "second", resume_from=tmp_path / "first" / "last.ckpt")
    assert widths[0] < 5  # it starts shrunk: members 0, 1 and 2 had stopped
    for ours, theirs in zip(resumed, whole, strict=True):
        assert_same_member(ours, theirs)


def test_a_member_resumed_from_a_shrunk_stacks_checkpoint_ends_as_in_the_whole_sweep(monkeypatch, tmp_path):
    """resume=<member's run dir> of a sweep interrupted after its stack shrank: the member's
    share of the stack's last.ckpt continues to the numbers of the uninterrupted sweep."""
    from trainlab.errors import SweepInterrupted

    sweep = ["seed=0,1", "trainer.max_epochs=2,6", *SMALL, "speed.last_checkpoint_seconds=0"]
    whole = run_sweep(sweep, output_dir=tmp_path / "whole", verbose=False)
    with monkeypatch.context() as patch:
        interrupt_in_epoch(patch, 5)
        with pytest.raises(SweepInterrupted):
            run_sweep(sweep, output_dir=tmp_path / "cut", verbose=False)
    longer = [job for job, result in enumerate(whole) if len(result.history) == 6]
    assert len(longer) == 2
    for job in longer:  # max_epochs=6: interrupted in epoch 5, after the stack shrank at epoch 3
        resumed = trainlab.run([f"resume={tmp_path / 'cut' / str(job)}"], verbose=False)
        assert resumed.best_epoch == whole[job].best_epoch and len(resumed.history) == 6
        for mine, other in zip(resumed.history, whole[job].history, strict=True):
            assert close(mine["val/loss"], other["val/loss"]) and close(mine["train/loss"], other["train/loss"])
        for key, value in resumed.metrics.items():
            assert close(value, whole[job].metrics[key]), key


@pytest.mark.gpu
def test_on_cuda_the_graph_is_captured_again_at_each_width(monkeypatch, widths):
    """Each full mini-batch one CUDA-graph replay: captured again after every shrink, with the
    survivors' numbers those of the unshrunk stack (1e-5: cuBLAS may pick other kernels per width)."""
    from trainlab.training import cuda_graph

    captures: list[int] = []
    original = cuda_graph.capture

    def counting(step, save, restore, warmup=3):
        captures.append(1)
        return original(step, save, restore, warmup)

    monkeypatch.setattr(stack_steps, "capture", counting)
    jobs = [[*job, "trainer=gpu"] for job in JOBS]
    unshrunk = trained(jobs, monkeypatch, 0.0)
    assert len(captures) == 1
    captures.clear()
    widths.clear()
    shrunk = trained(jobs, monkeypatch, 1.0)
    assert len(captures) == len(set(widths)) >= 3
    for ours, theirs in zip(shrunk, unshrunk, strict=True):
        assert ours.record.stopped_by == theirs.record.stopped_by and ours.record.best_epoch == theirs.record.best_epoch
        for mine, other in zip(ours.record.history, theirs.record.history, strict=True):
            assert mine["val/loss"] == pytest.approx(other["val/loss"], rel=1e-5, nan_ok=True)
        assert ours.metrics == pytest.approx(theirs.metrics, rel=1e-5, nan_ok=True)
