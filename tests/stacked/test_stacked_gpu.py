"""On a CUDA machine: a stack trains on the GPU with each member's numbers those of its lone
run there, and an interrupted member resumes there."""

import pytest

import trainlab
from trainlab.api import run_sweep
from trainlab.errors import SweepInterrupted
from trainlab.training.module import TrainingModule as StackedModule

SMALL = [
    "data.n_samples=400",
    "trainer.max_epochs=4",
    "trainer=gpu",
    "regularization=[early_stopping]",
    "trainer.enable_progress_bar=false",
    "speed.last_checkpoint_seconds=0",
]


@pytest.mark.gpu
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_a_stack_on_cuda_equals_its_lone_runs_there(tmp_path, optimizer):
    sweep = [f"optimizer={optimizer}", "seed=0,1", "optimizer.lr=0.01,0.1", *SMALL]
    results = run_sweep(sweep, output_dir=tmp_path / "sweep", verbose=False)
    assert {r.device for r in results} == {"cuda:0"}
    lone = trainlab.run(
        [f"optimizer={optimizer}", "seed=1", "optimizer.lr=0.1", *SMALL], output_dir=tmp_path / "lone", verbose=False
    )
    member = results[3]
    assert [r["val/loss"] for r in member.history] == pytest.approx([r["val/loss"] for r in lone.history], rel=1e-4)
    assert member.metrics == pytest.approx(lone.metrics, rel=1e-4)


@pytest.mark.gpu
def test_an_interrupted_member_resumes_on_cuda(tmp_path, monkeypatch):
    sweep = ["seed=0,1", *SMALL]
    whole = run_sweep(sweep, output_dir=tmp_path / "whole", verbose=False)
    original = StackedModule.on_train_epoch_end

    def interrupting(self):
        if self.current_epoch == 2:
            raise KeyboardInterrupt
        original(self)

    monkeypatch.setattr(StackedModule, "on_train_epoch_end", interrupting)
    with pytest.raises(SweepInterrupted):
        run_sweep(sweep, output_dir=tmp_path / "cut", verbose=False)
    monkeypatch.undo()
    resumed = trainlab.run([f"resume={tmp_path / 'cut' / '1'}"], verbose=False)
    assert resumed.device == "cuda:0"
    expected = [r["val/loss"] for r in whole[1].history]
    assert [r["val/loss"] for r in resumed.history] == pytest.approx(expected, rel=1e-5)


@pytest.mark.gpu
@pytest.mark.parametrize("optimizer", ["adam", "rmsprop", "adagrad", "adadelta"])
def test_the_captured_step_gives_the_eager_steps_numbers(tmp_path, optimizer):
    """CUDA graph replays (speed.cuda_graph=true, the default) against eager steps, with
    members that stop early at different epochs (the static mask) and one that diverges."""
    sweep = [
        f"optimizer={optimizer}",
        "seed=0,1",
        "optimizer.lr=0.003,0.03,1e12",
        *SMALL,
        "trainer.max_epochs=6",
        "regularization.early_stopping.patience=1",
    ]
    graphed = run_sweep(sweep, output_dir=tmp_path / "graph", verbose=False)
    eager = run_sweep([*sweep, "speed.cuda_graph=false"], output_dir=tmp_path / "eager", verbose=False)
    for a, b in zip(graphed, eager, strict=True):
        assert a.stopped_by == b.stopped_by and len(a.history) == len(b.history)
        assert [r["val/loss"] for r in a.history] == pytest.approx([r["val/loss"] for r in b.history], rel=1e-5)
    assert graphed[2].stopped_by == "diverged"
