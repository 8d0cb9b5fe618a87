"""A run on several devices whose rank stops, or is interrupted: Lightning's DDP on the CPU
(gloo), two processes, real signals.

- A rank killed mid-epoch (SIGKILL): the other ends at once (its next collective step fails),
  the run is recorded as failed naming the rank (summary.json; exit 5), last.ckpt is whole and
  ``resume=`` continues it to the numbers of a run that was never killed. Rank 1 killed: rank 0
  writes; rank 0 killed: rank 1, which sees rank 0's process gone, writes and says so.
- Ctrl-C in the last epoch's validation (SIGINT to the whole process group, as a terminal
  sends it) and in the test (SIGINT to rank 1 alone): every rank stops at the same point.
- slow: a rank that stops answering (SIGSTOP): the other ends after ``distributed.timeout``;
  under torchrun, only rank 0 writes Hydra's ``.hydra/`` and the log file.

Each faulting process writes the time of its fault to a file: the tests measure from there.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from test_ddp import BASE, DDP, NO_FILES, finish, history, start

from trainlab.files.checkpoints import load_checkpoint

FAULTS = """
import os, signal, sys
from trainlab.training.module import TrainingModule

FAULT, RANK = os.environ["FAULT"].split(":")  # kill, stop, press-validation, press-test : the rank
RANK = int(RANK)


training_step, validate, test_step = TrainingModule.training_step, TrainingModule.validate, TrainingModule.test_step


def faulting_step(self, batch, batch_idx):  # in epoch 2, before its steps
    if FAULT in ("kill", "stop") and self.current_epoch == 1 and self.trainer.global_rank == RANK:
        os.kill(os.getpid(), signal.SIGKILL if FAULT == "kill" else signal.SIGSTOP)
    return training_step(self, batch, batch_idx)


def pressing_in_validation(self):  # the last epoch's validation: Ctrl-C to every rank at once
    last = self.current_epoch + 1 == self.trainer.max_epochs
    if FAULT == "press-validation" and last and self.trainer.global_rank == RANK:
        os.killpg(os.getpgrp(), signal.SIGINT)
    return validate(self)


def pressing_in_test(self, batch, batch_idx):  # Ctrl-C that one rank alone hears
    if FAULT == "press-test" and self.trainer.global_rank == RANK:
        os.kill(os.getpid(), signal.SIGINT)
    return test_step(self, batch, batch_idx)


TrainingModule.training_step = faulting_step
TrainingModule.validate = pressing_in_validation
TrainingModule.test_step = pressing_in_test
from trainlab.cli import train

train()
"""


def start_faulting(fault: str, cwd: Path, *args: str) -> subprocess.Popen:
    """train.py with ``fault`` (``kill:1``, ``stop:1``, ``press-validation:0``, ``press-test:1``),
    its run dir ``cwd/run``."""
    script = cwd / "faults.py"
    script.write_text(FAULTS)
    os.environ["FAULT"] = fault
    try:
        return start(*BASE, *DDP, *NO_FILES, f"hydra.run.dir={cwd / 'run'}", *args, cwd=cwd, script=script)
    finally:
        del os.environ["FAULT"]


def summary(cwd: Path) -> dict:
    return json.loads((cwd / "run" / "summary.json").read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Started at once: ``ref`` an uninterrupted run; ``killed_1``/``killed_0`` rank 1/rank 0
    killed in epoch 2; ``pressed_validation`` Ctrl-C to the process group in epoch 3's (the
    last) validation; ``pressed_test`` Ctrl-C to rank 1 in the test; then ``resumed``: the
    run whose rank 1 was killed, resumed. Each: (cwd, result). How fast a survivor noticed is
    in its message, not in a clock: "its process ended" (at the next collective step), not
    "did not answer within distributed.timeout" (300 s here)."""
    names = ("ref", "killed_1", "killed_0", "pressed_validation", "pressed_test")
    cwd = {name: tmp_path_factory.mktemp(name) for name in names}
    faults = {"killed_1": "kill:1", "killed_0": "kill:0", "pressed_validation": "press-validation:0"}
    faults["pressed_test"] = "press-test:1"
    # Rank 0's writes synchronous where it is killed: the background write of epoch 1 would die with it.
    more = {"killed_0": ["speed.async_checkpoint=false"]}
    started = {name: start_faulting(fault, cwd[name], *more.get(name, [])) for name, fault in faults.items()}
    started["ref"] = start(*BASE, *DDP, *NO_FILES, f"hydra.run.dir={cwd['ref'] / 'run'}", cwd=cwd["ref"])
    done = {}
    try:
        for name in ("killed_1", "killed_0", "pressed_validation", "pressed_test", "ref"):
            result = finish(started[name])  # its pipes close when its last rank has ended
            done[name] = (cwd[name], result)
        shutil.copytree(cwd["killed_1"] / "run", cwd["killed_1"] / "stopped")  # as it stopped, before the resume
        resumed = start(f"resume={cwd['killed_1'] / 'run'}", cwd=cwd["killed_1"])
        started["resumed"] = resumed
        done["resumed"] = (cwd["killed_1"], finish(resumed))
    finally:  # nothing left running, whatever failed
        for process in started.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    return done


def test_rank_1_killed_mid_epoch_rank_0_records_the_failure_at_once(runs):
    cwd, out = runs["killed_1"]
    assert out.returncode == 5, out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "rank 1 stopped (its process ended) in epoch 2" in errors[0]
    assert "distributed.timeout=300s" in errors[0] and f"resume={cwd / 'run'}" in errors[0]
    stopped = json.loads((cwd / "stopped" / "summary.json").read_text())  # before the resume test's resume
    assert stopped["status"] == "failed" and stopped["ranks"] == [1] and "rank 1 stopped" in stopped["error"]
    assert stopped["epochs"] == 1 and stopped["epochs_kept"] == 1
    last = load_checkpoint(cwd / "stopped" / "checkpoints" / "last.ckpt")  # whole: it loads, with epoch 1
    assert len(json.loads(last["history"])) == 1
    assert not list((cwd / "stopped").glob("**/*.tmp"))


def test_a_run_whose_rank_was_killed_resumes_to_the_uninterrupted_numbers(runs):
    cwd, resumed = runs["resumed"]
    assert resumed.returncode == 0, resumed.stderr
    finished, expected = summary(cwd), summary(runs["ref"][0])
    assert finished["status"] == "finished" and finished["epochs"] == 3
    for key, value in expected["metrics"].items():
        assert finished["metrics"][key] == pytest.approx(value, rel=1e-5), key
    uninterrupted = [h["val/loss"] for h in history(runs["ref"][0] / "run")]
    assert [h["val/loss"] for h in history(cwd / "run")] == pytest.approx(uninterrupted, rel=1e-5)
    weights = [load_checkpoint(d / "run" / "checkpoints" / "last.ckpt")["state_dict"] for d in (cwd, runs["ref"][0])]
    for name, value in weights[1].items():
        assert (weights[0][name] - value).abs().max() <= 1e-6, name


def test_rank_0_killed_mid_epoch_rank_1_ends_and_records_it(runs):
    cwd, out = runs["killed_0"]
    assert out.returncode == -signal.SIGKILL
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "rank 0 stopped (its process ended) in epoch 2" in errors[0], out.stderr
    assert "distributed.timeout=300s" in errors[0]
    stopped = summary(cwd)  # by rank 1: rank 0, the run's writer, is gone
    assert stopped["status"] == "failed" and stopped["ranks"] == [0] and stopped["epochs_kept"] == 1
    assert len(json.loads(load_checkpoint(cwd / "run" / "checkpoints" / "last.ckpt")["history"])) == 1


def test_ctrl_c_in_the_last_validation_stops_every_rank_there(runs):
    cwd, out = runs["pressed_validation"]
    assert out.returncode == 130, out.stderr
    assert out.stderr.count("error: interrupted in epoch 3; 2 epoch(s) finished, 2 kept") == 1, out.stderr
    stopped = summary(cwd)
    assert stopped["status"] == "interrupted" and stopped["epochs"] == 2 and stopped["epochs_kept"] == 2


def test_ctrl_c_in_the_test_on_one_rank_stops_every_rank_there(runs):
    cwd, out = runs["pressed_test"]
    assert out.returncode == 130, out.stderr
    assert out.stderr.count("error: interrupted after 3 epoch(s) of training") == 1, out.stderr
    stopped = summary(cwd)
    assert stopped["status"] == "interrupted" and stopped["epochs"] == 3 and stopped["epochs_kept"] == 3


def test_the_ranks_lightning_starts_leave_no_log_file(runs):
    cwd, out = runs["ref"]
    assert out.returncode == 0, out.stderr
    run_dir = cwd / "run"
    assert {p.name for p in run_dir.glob("*.log")} == {"train.log"}  # no train_ddp_process_1.log
    assert {p.name for p in (run_dir / ".hydra").iterdir()} == {"config.yaml", "hydra.yaml", "overrides.yaml"}


def test_distributed_timeout_is_the_process_groups(tmp_path):
    from datetime import timedelta

    from trainlab.config.composing import compose
    from trainlab.training import build
    from trainlab.training.ddp import TrainlabDDP

    cfg = compose([*BASE, *DDP, "distributed.timeout=7"])[0]
    strategy = build.trainer(cfg, tmp_path, []).strategy
    assert isinstance(strategy, TrainlabDDP) and strategy.timeout_seconds == 7
    assert strategy._timeout == timedelta(seconds=7)  # what Lightning hands init_process_group
    auto = compose([*BASE, "trainer.devices=2", "trainer.strategy=auto"])[0]
    assert isinstance(build.trainer(auto, tmp_path, []).strategy, TrainlabDDP)  # Lightning's auto: DDP
    assert not isinstance(build.trainer(compose(BASE)[0], tmp_path, []).strategy, TrainlabDDP)


def test_distributed_timeout_is_checked():
    from trainlab.config.composing import compose
    from trainlab.config.validate import validate
    from trainlab.errors import ConfigError

    assert compose([])[0].distributed.timeout == 300
    with pytest.raises(ConfigError, match=r"distributed.timeout=0.0 is not allowed: seconds > 0"):
        validate(compose(["distributed.timeout=0"])[0])


def test_hydras_files_are_global_rank_zeros(monkeypatch):
    from trainlab.config.launch import rank_zero, rank_zero_log

    for name in ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert rank_zero(".hydra") == ".hydra" and rank_zero_log("run/train.log") == "run/train.log"
    monkeypatch.setenv("LOCAL_RANK", "1")  # a process Lightning starts
    assert rank_zero(".hydra") is None and rank_zero_log("run/train_ddp_process_1.log") == os.devnull
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("RANK", "1")  # torchrun's rank 1
    assert rank_zero(".hydra") is None


@pytest.mark.slow
def test_a_rank_that_stops_answering_ends_the_run_after_distributed_timeout(tmp_path):
    process = start_faulting("stop:1", tmp_path, "distributed.timeout=30")
    try:
        process.wait(timeout=240)  # rank 0 (a hang guard); the stopped rank 1 holds the pipes open
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # rank 1, stopped
    out = finish(process)
    assert out.returncode == 5, out.stderr
    assert "error: rank 1 did not answer within distributed.timeout=30s in epoch 2" in out.stderr
    stopped = summary(tmp_path)
    assert stopped["status"] == "failed" and stopped["ranks"] == [1] and stopped["epochs_kept"] == 1


RECORD_HYDRA_WRITES = """
import atexit, json, logging, os
import hydra.core.utils

saved = []
save_config = hydra.core.utils._save_config


def recording(cfg, filename, output_dir):
    saved.append(str(output_dir / filename))
    save_config(cfg, filename, output_dir)


def record():
    files = [h.baseFilename for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
    with open(os.path.join(os.environ["RECORDS"], f"rank{os.environ['RANK']}.json"), "w") as out:
        json.dump({"saved": saved, "log_files": files}, out)


hydra.core.utils._save_config = recording
atexit.register(record)
from trainlab.cli import train

train()
"""


@pytest.mark.slow
def test_under_torchrun_rank_zero_alone_writes_hydras_files(tmp_path):
    script = tmp_path / "recording.py"
    script.write_text(RECORD_HYDRA_WRITES)
    env = {**os.environ, "RECORDS": str(tmp_path), "COLUMNS": "120"}
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK", "TRAINLAB_RUN_DIR"):
        env.pop(name, None)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script)]
    command += [*BASE, *DDP, *NO_FILES, f"hydra.run.dir={tmp_path / 'run'}"]
    out = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert len(ranks[0]["saved"]) == 3 and ranks[1]["saved"] == []  # config, hydra and overrides.yaml
    assert ranks[0]["log_files"] == [str(tmp_path / "run" / "train.log")]
    assert ranks[1]["log_files"] == [os.devnull]
    assert summary(tmp_path)["status"] == "finished"


OBSERVED = """
import subprocess, sys, time
from lightning.fabric.strategies.launchers.subprocess_script import _ChildProcessObserver
from trainlab.internals import stop_watching_children

child = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(1)"])  # a rank that fails
observer = _ChildProcessObserver(main_pid=__import__("os").getpid(), child_processes=[child], sleep_period=0.5)
observer.start()
stop_watching_children()
child.wait()
observer.join(timeout=5)
print("observer ended:", not observer.is_alive())
"""


def test_lightnings_child_observer_is_stopped_before_it_kills_rank_zero(tmp_path):
    """``internals.stop_watching_children`` against the installed Lightning: its observer of a
    child that fails ends without SIGKILLing this process (run in a process of its own)."""
    script = tmp_path / "observed.py"
    script.write_text(OBSERVED)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"code {out.returncode}: {out.stderr}"
    assert "observer ended: True" in out.stdout
