"""hydra/launcher=stacked and run_sweep: every job's run directory as a lone run leaves it."""

import logging
from pathlib import Path

import pandas as pd
import pytest
import yaml
from cli_helpers import train
from omegaconf import OmegaConf
from release import recorded, rows
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import trainlab
from trainlab.api import run_sweep
from trainlab.config.composing import compose
from trainlab.errors import ConfigError
from trainlab.files.stack_jobs import training_stack
from trainlab.predict import Predictor

SMALL = [
    "data.n_samples=300",
    "trainer.max_epochs=3",
    "regularization=[early_stopping]",
    "trainer.enable_progress_bar=false",
]
# (no dropout: with it, a member draws other masks than its lone run)


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """Four jobs (2 seeds x 2 learning rates) stacked, and job 1 trained alone."""
    root = tmp_path_factory.mktemp("stacked")
    results = run_sweep(["seed=0,1", "optimizer.lr=0.001,0.01", *SMALL], output_dir=root / "sweep", verbose=False)
    lone = trainlab.run(["seed=0", "optimizer.lr=0.01", *SMALL], output_dir=root / "lone", verbose=False)
    return root / "sweep", results, lone


def files(run_dir: Path) -> set[str]:
    return {str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file() and "tfevents" not in p.name}


def test_each_job_leaves_the_files_of_a_lone_run(swept):
    sweep_dir, results, lone = swept
    assert [r.run_dir for r in results] == [sweep_dir / str(n) for n in range(4)]
    for result in results:
        assert files(result.run_dir) == files(lone.run_dir)
        assert len(list(result.run_dir.glob("events.out.tfevents.*"))) == 1
    assert {"summary.csv", "summary.md", "sweep.png"} <= {p.name for p in sweep_dir.iterdir()}
    table = pd.read_csv(sweep_dir / "summary.csv")
    assert len(table) == 4 and set(table["status"]) == {"finished"}


def test_a_members_metrics_summary_and_tensorboard_are_its_lone_runs(swept):
    _, results, lone = swept
    member = results[1]  # seed=0, optimizer.lr=0.01
    assert member.best_epoch == lone.best_epoch
    assert member.metrics == pytest.approx(lone.metrics, rel=1e-4)
    summary = trainlab.files.rundir.RunDir(member.run_dir).read_json("summary.json")
    assert summary["stack"] == {"size": 4} and summary["status"] == "finished"
    events = EventAccumulator(str(member.run_dir)).Reload()
    assert [e.step for e in events.Scalars("val/loss")] == [1, 2, 3]
    assert [e.value for e in events.Scalars("val/loss")] == pytest.approx(
        [r["val/loss"] for r in lone.history], rel=1e-4
    )


def test_predictor_reads_a_member_and_resume_refuses_a_finished_one(swept, tmp_path):
    _, results, lone = swept
    frame = pd.DataFrame({"lectures": [2, 25], "hours": [3.0, 40.0]})
    ours = Predictor.from_run(results[1].run_dir).predict(frame, proba=True)
    theirs = Predictor.from_run(lone.run_dir).predict(frame, proba=True)
    assert ours.to_numpy() == pytest.approx(theirs.to_numpy(), abs=1e-4)
    with pytest.raises(ConfigError, match=r"that run has finished; there is nothing to resume"):
        trainlab.run([f"resume={results[1].run_dir}"], verbose=False)


def test_an_option_the_stack_cannot_serve_is_named_before_anything_trains(tmp_path):
    with pytest.raises(ConfigError, match=r"(?s)2 of 2 sweep jobs cannot run.*speed.loader=dataloader is not served"):
        run_sweep(["seed=0,1", "speed.loader=dataloader"], output_dir=tmp_path / "s", verbose=False)
    assert not (tmp_path / "s").exists()


def test_jobs_that_share_nothing_train_as_stacks_of_one_with_a_note(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="trainlab"):
        results = run_sweep(["model.hidden=[4],[8]", *SMALL], output_dir=tmp_path / "s", verbose=False)
    assert [r.metrics["val/loss"] > 0 for r in results] == [True, True]
    messages = "\n".join(r.getMessage() for r in caplog.records)
    assert "2 jobs share nothing, trained as 2 stacks of one; split by model.hidden" in messages


def test_the_command_line_sweep(tmp_path):
    out = train("-m", "hydra/launcher=stacked", "seed=0,1", *SMALL, f"hydra.sweep.dir={tmp_path}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "2 jobs in 1 stack of 2" in out.stdout + out.stderr
    for job, seed in (("0", 0), ("1", 1)):
        assert (tmp_path / job / "checkpoints" / "best.ckpt").is_file()
        # Hydra's job files, as its basic launcher writes them (the launcher builds the
        # second job's config from the first's composition).
        given = [f"seed={seed}", *(o.replace("=false", "=False") for o in SMALL)]  # as Hydra's sweeper writes it
        assert yaml.safe_load((tmp_path / job / ".hydra" / "overrides.yaml").read_text()) == given
        saved = yaml.safe_load((tmp_path / job / ".hydra" / "config.yaml").read_text())
        assert saved == OmegaConf.to_container(compose(given)[0])
        hydra = yaml.safe_load((tmp_path / job / ".hydra" / "hydra.yaml").read_text())["hydra"]
        assert hydra["job"]["override_dirname"] == ",".join(sorted(given))
    assert list(pd.read_csv(tmp_path / "summary.csv")["status"]) == ["finished", "finished"]
    assert (tmp_path / "sweep.png").is_file()


def test_the_command_line_refuses_an_unserved_option_with_exit_2_and_leaves_nothing(tmp_path):
    out = train("-m", "hydra/launcher=stacked", "seed=0,1", "scheduler=step", cwd=tmp_path)
    assert out.returncode == 2
    assert "scheduler is not served by hydra/launcher=stacked" in out.stderr
    assert list(tmp_path.iterdir()) == []


def _interrupt_in_epoch(monkeypatch, stack: int, epoch: int) -> None:
    """Ctrl-C in the given epoch (from 1) of the given stack (from 1) of the sweep."""
    from trainlab.training.module import TrainingModule as StackedModule

    original, stacks = StackedModule.on_train_epoch_end, []

    def interrupting(self):
        if self not in stacks:
            stacks.append(self)
        if len(stacks) == stack and self.current_epoch + 1 == epoch:
            raise KeyboardInterrupt
        original(self)

    monkeypatch.setattr(StackedModule, "on_train_epoch_end", interrupting)


def test_ctrl_c_keeps_the_finished_stacks_and_writes_the_interrupted_ones_members(tmp_path, monkeypatch):
    """Ctrl-C in the first epoch of the second of two stacks (max_stack=2): jobs 0 and 1
    are finished, 2 and 3 interrupted with nothing kept, as a lone run interrupted in its
    first epoch; Ctrl-C works again afterwards (Lightning ignores it while it stops)."""
    import signal

    from trainlab.errors import SweepInterrupted

    _interrupt_in_epoch(monkeypatch, stack=2, epoch=1)
    with pytest.raises(SweepInterrupted, match=r"jobs 0, 1 finished; jobs 2, 3 were interrupted") as stop:
        run_sweep(["seed=0,1,2,3", *SMALL], output_dir=tmp_path, max_stack=2, verbose=False)
    assert (stop.value.written, stop.value.interrupted, stop.value.lost) == ([0, 1], [2, 3], [])
    assert sorted(p.name for p in tmp_path.iterdir()) == [".stacks", "0", "1", "2", "3"]
    summary = trainlab.files.rundir.RunDir(tmp_path / "3").read_json("summary.json")
    assert summary["status"] == "interrupted" and summary["epochs_kept"] == 0
    assert summary["last_checkpoint"] is None and "interrupted in epoch 1" in summary["error"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_in_a_stack_cut_to_fit_keeps_the_finished_piece_and_resumes_the_interrupted_one(tmp_path, monkeypatch):
    """A stack of 4 cut into pieces of 2 (the device fits 2), Ctrl-C in the second piece's
    epoch 2: the first piece's jobs are finished, the second's interrupted (one epoch kept),
    and resume=<its run dir> finishes a member of it."""
    import trainlab.lifecycle.stack
    from trainlab.errors import SweepInterrupted

    monkeypatch.setattr(trainlab.lifecycle.stack, "members_that_fit", lambda per_member, device: 2)
    _interrupt_in_epoch(monkeypatch, stack=2, epoch=2)
    sweep = ["seed=0,1,2,3", *SMALL, "speed.last_checkpoint_seconds=0"]
    with pytest.raises(SweepInterrupted, match=r"jobs 0, 1 finished; jobs 2, 3 were interrupted") as stop:
        run_sweep(sweep, output_dir=tmp_path, verbose=False)
    assert (stop.value.written, stop.value.interrupted, stop.value.lost) == ([0, 1], [2, 3], [])
    monkeypatch.undo()
    assert trainlab.files.rundir.RunDir(tmp_path / "0").read_json("summary.json")["status"] == "finished"
    summary = trainlab.files.rundir.RunDir(tmp_path / "3").read_json("summary.json")
    assert summary["status"] == "interrupted" and summary["epochs_kept"] == 1 and summary["stack"] == {"size": 2}
    resumed = trainlab.run([f"resume={tmp_path / '3'}"], verbose=False)
    assert len(resumed.history) == 3 and resumed.metrics["test/acc"] > 0


def test_members_whose_data_differ_in_shape_train_as_stacks_per_shape_and_resume_after_ctrl_c(tmp_path, monkeypatch):
    """A CSV's rare category is in seed 3's training split, not in seed 4's: their one-hot
    columns differ, so they train as two stacks. Ctrl-C in the second: the first is finished,
    the second interrupted and resumable (its checkpoints under the stack's shape-1/)."""
    import numpy as np

    from trainlab.errors import SweepInterrupted

    rng = np.random.default_rng(0)
    color = rng.choice(["red", "blue"], size=200)
    color[:2] = "green"
    x = rng.normal(size=200)
    pd.DataFrame({"x": x, "color": color, "y": (x + (color == "red") > 0.3).astype(int)}).to_csv(
        tmp_path / "d.csv", index=False
    )
    data = ["data=csv", f"data.train={tmp_path / 'd.csv'}", "data.target=y", "trainer.max_epochs=3"]
    _interrupt_in_epoch(monkeypatch, stack=2, epoch=2)
    sweep = ["seed=3,4", *data, "trainer.enable_progress_bar=false", "speed.last_checkpoint_seconds=0"]
    with pytest.raises(SweepInterrupted, match=r"jobs 0 finished; jobs 1 were interrupted"):
        run_sweep(sweep, output_dir=tmp_path / "s", verbose=False)
    monkeypatch.undo()
    resumed = trainlab.run([f"resume={tmp_path / 's' / '1'}"], verbose=False)
    assert len(resumed.history) == 3 and resumed.stopped_by == "max_epochs"


def test_full_batch_gradient_descent_trains_in_a_stack_as_alone(tmp_path):
    """data.batch_size=full: one optimizer step an epoch for every member, as its lone run."""
    results = run_sweep(["seed=0,1", "data.batch_size=full", *SMALL], output_dir=tmp_path / "s", verbose=False)
    lone = trainlab.run(["seed=1", "data.batch_size=full", *SMALL], output_dir=tmp_path / "lone", verbose=False)
    summary = trainlab.files.rundir.RunDir(results[1].run_dir).read_json("summary.json")
    assert summary["optimizer_steps"] == len(results[1].history) == 3
    assert [r["val/loss"] for r in results[1].history] == pytest.approx([r["val/loss"] for r in lone.history], rel=1e-4)


def test_an_interrupted_member_resumes_alone_to_the_numbers_of_the_uninterrupted_sweep(swept, tmp_path, monkeypatch):
    """Ctrl-C in epoch 3 of the swept fixture's sweep (checkpoints every epoch): each member
    keeps 2 epochs; resume=<its run dir> finishes it with the history, best epoch and test
    values of the sweep that was not interrupted."""
    from trainlab.errors import SweepInterrupted

    sweep = ["seed=0,1", "optimizer.lr=0.001,0.01", *SMALL, "speed.last_checkpoint_seconds=0"]
    _interrupt_in_epoch(monkeypatch, stack=1, epoch=3)
    with pytest.raises(SweepInterrupted, match=r"no job finished; jobs 0, 1, 2, 3 were interrupted"):
        run_sweep(sweep, output_dir=tmp_path, verbose=False)
    monkeypatch.undo()
    summary = trainlab.files.rundir.RunDir(tmp_path / "1").read_json("summary.json")
    assert summary["status"] == "interrupted" and summary["epochs_kept"] == 2
    assert summary["stack"] == {"size": 4}
    with pytest.raises(ConfigError, match=r"best.ckpt of a run trained in a stack .* holds its weights"):
        trainlab.run([f"ckpt_path={tmp_path / '1' / 'checkpoints' / 'best.ckpt'}"], verbose=False)
    _, uninterrupted, _ = swept
    for job in (1, 2):
        resumed = trainlab.run([f"resume={tmp_path / str(job)}"], verbose=False)
        whole = uninterrupted[job]
        assert resumed.run_dir == tmp_path / str(job) and resumed.stopped_by == whole.stopped_by
        assert [row["epoch"] for row in resumed.history] == [row["epoch"] for row in whole.history]
        for key in ("train/loss", "val/loss"):
            assert [row[key] for row in resumed.history] == pytest.approx([row[key] for row in whole.history], rel=1e-5)
        assert resumed.best_epoch == whole.best_epoch
        assert resumed.metrics == pytest.approx(whole.metrics, rel=1e-5)
        summary = trainlab.files.rundir.RunDir(tmp_path / str(job)).read_json("summary.json")
        assert summary["status"] == "finished" and summary["stack"] == {"size": 4}


KILLED_IN_EPOCH_3 = """
import os, sys
import trainlab.lifecycle.stack
from trainlab.training.module import TrainingModule as StackedModule
from trainlab.api import run_sweep

cut = sys.argv[2] == "cut"
if cut:  # the device fits 2 members: the stack of 4 trains as 2 pieces
    trainlab.lifecycle.stack.members_that_fit = lambda per_member, device: 2
original, modules = StackedModule.on_train_epoch_end, []


def killed(self):
    if self not in modules:
        modules.append(self)
    if len(modules) == (2 if cut else 1) and self.current_epoch == 2:
        os._exit(9)  # as SIGKILL: nothing more runs, nothing is written
    original(self)


StackedModule.on_train_epoch_end = killed
run_sweep(sys.argv[3:], output_dir=sys.argv[1], verbose=False)
"""


@pytest.mark.parametrize("cut", ["whole", "cut"])
def test_a_member_of_a_sweep_killed_outright_resumes_from_the_stacks_checkpoint(swept, tmp_path, cut):
    """The process dies in epoch 3 (checkpoints every epoch) of the stack, or of its second
    piece where the device fits 2 of its 4 members: each member's directory holds its config,
    and its stack's jobs.json lists it; resume=<its run dir> cuts its last.ckpt from the stack's (or the
    piece's) file and finishes with the uninterrupted sweep's numbers (member 0 of a piece
    that had finished: at once)."""
    import subprocess
    import sys

    sweep = ["seed=0,1", "optimizer.lr=0.001,0.01", *SMALL, "speed.last_checkpoint_seconds=0"]
    killed = subprocess.run([sys.executable, "-c", KILLED_IN_EPOCH_3, str(tmp_path), cut, *sweep], capture_output=True)
    assert killed.returncode == 9, killed.stderr.decode()[-2000:]
    for job in (0, 3) if cut == "cut" else (2,):
        member = tmp_path / str(job)
        assert {"config.yaml", "overrides.yaml"} <= {p.name for p in member.iterdir()}
        assert not (member / "summary.json").exists() and not (member / "checkpoints" / "last.ckpt").exists()
        assert training_stack(member) is not None  # its stack's jobs.json lists it
        resumed = trainlab.run([f"resume={member}"], verbose=False)
        whole = swept[1][job]
        expected = [r["val/loss"] for r in whole.history]
        assert [row["val/loss"] for row in resumed.history] == pytest.approx(expected, rel=1e-5)
        assert resumed.metrics == pytest.approx(whole.metrics, rel=1e-5)
        assert (member / "checkpoints" / "last.ckpt").is_file()
        assert trainlab.files.rundir.RunDir(member).read_json("summary.json")["status"] == "finished"


def test_a_stack_that_fails_on_what_only_its_data_shows_is_recorded_and_the_others_go_on(tmp_path):
    """monitor=val/r2 is not logged for will_i_pass's binary task: only the data tells, so
    that job's stack fails, as the basic launcher's job would, and the other stack trains."""
    results = run_sweep(["monitor=val/loss,val/r2", *SMALL], output_dir=tmp_path, verbose=False)
    assert isinstance(results[1], ConfigError) and "monitor='val/r2' is not allowed" in str(results[1])
    assert results[0].metrics["val/loss"] > 0
    table = pd.read_csv(tmp_path / "summary.csv")
    assert list(table["status"]) == ["finished", "failed"]
    assert "val/r2" in table["error"].iloc[1]


def test_a_diverged_member_writes_a_lone_diverged_runs_summary(tmp_path):
    results = run_sweep(["optimizer.lr=0.01,1e12", *SMALL], output_dir=tmp_path, verbose=False)
    assert results[1].stopped_by == "diverged" and results[1].metrics == {}
    summary = trainlab.files.rundir.RunDir(tmp_path / "1").read_json("summary.json")
    assert summary["status"] == "diverged" and summary["stack"] == {"size": 2}
    assert "diverged at epoch 1, optimizer step" in summary["error"] and summary["metrics"] == {}
    assert summary["epochs"] == 0 and summary["last_checkpoint"] is None
    assert list(pd.read_csv(tmp_path / "summary.csv")["status"]) == ["finished", "diverged"]


def test_the_members_give_the_numbers_of_the_release_before_the_layout_change(swept):
    """Each member's history and metrics as recorded (tests/release.py), to 1e-6."""
    _, results, _ = swept
    record = recorded("stacked_members.json")
    assert record["overrides"] == ["seed=0,1", "optimizer.lr=0.001,0.01", *SMALL]
    for result, member in zip(results, record["members"], strict=True):
        assert result.best_epoch == member["best_epoch"]
        assert rows(result.history) == [pytest.approx(row, rel=1e-6, abs=1e-7) for row in member["history"]]
        assert result.metrics == pytest.approx(member["metrics"], rel=1e-6, abs=1e-7)
