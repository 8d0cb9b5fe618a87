"""hydra/sweeper=optuna when things go wrong: a worker killed mid-trial (its trial failed as
lost by the others, with the reason, and replaced: the study still ends with n_trials
finished trials), a trial whose job raises an unexpected error (one line, the trial FAIL
with the error as its reason), and the heartbeat itself (trainlab.search.heartbeat)."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest
from cli_helpers import command
from optuna.trial import TrialState
from overrides import QUIET

from trainlab.search import loop
from trainlab.search.heartbeat import COUNTED, HEARTBEAT, REASON, WORKER, Heartbeat, Worker, counts, fail_lost
from trainlab.search.settings import make_sampler
from trainlab.search.space import search_space

optuna.logging.set_verbosity(optuna.logging.WARNING)
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
TINY = ["data.n_samples=200", "pictures.enabled=false", "logger=none", *QUIET]


def dead_pid() -> int:
    """The pid of a process of this machine that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def running_trial(study, worker: Worker | None, heartbeat: float | None):
    trial = study.ask()
    if worker is not None:
        trial.set_user_attr(WORKER, {"host": worker.host, "pid": worker.pid, "pid_ns": worker.pid_ns})
    if heartbeat is not None:
        trial.set_user_attr(HEARTBEAT, heartbeat)
    return trial


# ----- the heartbeat, on a study in memory -----


def test_a_lost_workers_trial_is_failed_with_the_reason_and_no_longer_counts():
    study = optuna.create_study()
    here, now = Worker.this(), 1_800_000_000.0  # the moment the trials are judged at (fail_lost's now)
    gone = running_trial(study, Worker(here.host, dead_pid(), here.pid_ns), now)  # killed a moment ago
    silent = running_trial(study, Worker("elsewhere", 4242), now - 1000)  # another machine, silent since
    beating = running_trial(study, Worker("elsewhere", 4242), now - 5)
    alive = running_trial(study, Worker(here.host, os.getppid(), here.pid_ns), now - 5)  # a live process here
    foreign = running_trial(study, None, None)  # not trainlab's: never judged

    failed = fail_lost(study, stale_after=90, now=now)

    assert [number for number, _ in failed] == [gone.number, silent.number]
    trials = study.get_trials()
    reason = trials[gone.number].user_attrs[REASON]
    assert reason.startswith(f"lost: worker pid {gone.user_attrs[WORKER]['pid']} on host {here.host} stopped")
    assert "its process is gone" in reason
    silent_reason = trials[silent.number].user_attrs[REASON]
    assert silent_reason == "lost: worker pid 4242 on host elsewhere stopped (no heartbeat for 1000 s)"
    for number in (gone.number, silent.number):
        assert trials[number].state == TrialState.FAIL and trials[number].user_attrs[COUNTED] is False
        assert not counts(trials[number])
    for trial in (beating, alive, foreign):
        assert trials[trial.number].state == TrialState.RUNNING and counts(trials[trial.number])


def test_a_lost_trials_place_goes_to_a_new_trial():
    study = optuna.create_study(sampler=make_sampler("random", seed=0))
    here = Worker.this()
    lost = running_trial(study, Worker(here.host, dead_pid(), here.pid_ns), None)  # gone: judged by its pid
    space = search_space(["optimizer.lr=interval(0.0,1.0)"])
    ran = []

    def launch(batch, first):
        ran.extend(range(first, first + len(batch)))
        return [loop.Ended(False, 0.5, None) for _ in batch]

    told = loop.run(loop.Search(study, space, 3, 1, lambda first: None), launch, lambda: None)
    states = [t.state for t in study.trials]
    assert told == 3 and ran == [1, 2, 3]
    assert states == [TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE, TrialState.COMPLETE]
    assert "lost" in study.trials[lost.number].user_attrs[REASON]


def test_a_worker_with_no_place_left_waits_for_anothers_trial_and_replaces_it_once_lost():
    """n_trials=3 with another worker's trial running: this one runs two, then waits (its
    study is not done) until that worker dies, fails its trial, and runs the third."""
    study = optuna.create_study(sampler=make_sampler("random", seed=0))
    space = search_space(["optimizer.lr=interval(0.0,1.0)"])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])  # a live worker's stand-in
    here = Worker.this()
    running_trial(study, Worker(here.host, other.pid, here.pid_ns), None)  # alive until killed: judged by its pid

    def kill_once_two_completed():
        deadline = time.monotonic() + 120
        while sum(t.state == TrialState.COMPLETE for t in study.get_trials()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        other.kill()
        other.wait()

    killer = threading.Thread(target=kill_once_two_completed)
    killer.start()
    try:
        launch = lambda batch, first: [loop.Ended(False, 0.5, None) for _ in batch]  # noqa: E731
        told = loop.run(loop.Search(study, space, 3, 1, lambda first: None), launch, lambda: None)
    finally:
        killer.join()
    states = [t.state for t in study.trials]
    assert told == 3 and states == [TrialState.FAIL, *[TrialState.COMPLETE] * 3]
    assert study.trials[0].user_attrs[REASON].startswith(f"lost: worker pid {other.pid} on host {here.host}")


def test_a_trial_cut_by_ctrl_c_fails_and_the_rerun_replaces_it():
    study = optuna.create_study(sampler=make_sampler("random", seed=0))
    space = search_space(["optimizer.lr=interval(0.0,1.0)"])

    def interrupted(batch, first):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        loop.run(loop.Search(study, space, 2, 1, lambda first: None), interrupted, lambda: None)
    cut = study.trials[0]
    assert cut.state == TrialState.FAIL and cut.user_attrs[COUNTED] is False
    me = f"worker pid {os.getpid()} on host {Worker.this().host}"
    assert cut.user_attrs[REASON] == f"not finished: {me} stopped (interrupted)"
    launch = lambda batch, first: [loop.Ended(False, 0.5, None) for _ in batch]  # noqa: E731
    assert loop.run(loop.Search(study, space, 2, 1, lambda first: None), launch, lambda: None) == 2
    assert [t.state for t in study.trials] == [TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]


def test_the_heartbeat_beats_until_its_block_ends_and_drops_a_told_trial():
    study = optuna.create_study()
    trial, other = study.ask(), study.ask()
    with Heartbeat([trial, other], seconds=0.05) as heart:
        first = study.trials[trial.number].user_attrs[HEARTBEAT]
        assert study.trials[trial.number].user_attrs[WORKER]["pid"] == os.getpid()
        study.tell(other, 1.0)  # told meanwhile: the thread stops beating it, without an error
        deadline = time.monotonic() + 30
        while study.trials[trial.number].user_attrs[HEARTBEAT] == first:
            assert time.monotonic() < deadline, "no second heartbeat in 30 s"
            time.sleep(0.05)
        while other in heart.trials:
            assert time.monotonic() < deadline, "a told trial kept its place in the heartbeat"
            time.sleep(0.05)
    last = study.trials[trial.number].user_attrs[HEARTBEAT]
    time.sleep(0.3)
    assert study.trials[trial.number].user_attrs[HEARTBEAT] == last  # the block ended: no more beats


# ----- real workers -----


def wait_for(condition, what: str, processes=(), timeout: float = 180.0):
    """Poll ``condition()`` until it holds; fail naming ``what`` (or a process that ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process, log in processes:
            assert process.poll() is None, Path(log).read_text()[-3000:]
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout} s")


def worker(tmp_path: Path, name: str, storage: str, *overrides: str) -> tuple[subprocess.Popen, Path]:
    """A sweep process on the shared study, its output in <name>.log (a pipe could fill up)."""
    args = [
        "-m",
        "hydra/sweeper=optuna",
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.pruner=none",
        f"hydra.sweeper.storage={storage}",
        "hydra.sweeper.study_name=shared",
        "optimizer.lr=tag(log,interval(1e-3,1e-1))",
        *TINY,
        f"hydra.sweep.dir={tmp_path / name}",
        *overrides,
    ]
    log = tmp_path / f"{name}.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            command(*args), cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "120"}
        )
    return process, log


@pytest.mark.slow  # on SQLite; the default run kills a worker of a PostgreSQL study: tests/test_study_storage.py
def test_a_worker_killed_mid_trial_is_replaced_and_its_trial_fails_with_the_reason(tmp_path):
    storage = f"sqlite:///{tmp_path}/shared.db"
    # a: one endless trial (no early stopping), killed while it trains; b: short trials.
    a = worker(tmp_path, "a", storage, "trainer.max_epochs=100000", "regularization=[dropout]")
    b = None
    try:

        def trial_of_a():
            if not (tmp_path / "shared.db").is_file():
                return None
            try:
                trials = optuna.load_study(study_name="shared", storage=storage).get_trials()
            except KeyError:  # the study is not created yet
                return None
            return next(
                (
                    t
                    for t in trials
                    if t.state == TrialState.RUNNING
                    and t.user_attrs.get(WORKER, {}).get("pid") == a[0].pid
                    and HEARTBEAT in t.user_attrs  # its worker beats
                    and t.intermediate_values  # it has trained an epoch
                ),
                None,
            )

        killed = wait_for(trial_of_a, "worker a's trial training with a fresh heartbeat", [a])
        b = worker(tmp_path, "b", storage, "trainer.max_epochs=1")
        study = optuna.load_study(study_name="shared", storage=storage)

        def b_done_and_waiting():
            finished = [t for t in study.get_trials() if t.state in FINISHED]
            return len(finished) == 3 and "waiting for other workers' trial(s) 0" in b[1].read_text()

        wait_for(b_done_and_waiting, "worker b's three trials, then b waiting for a's", [a, b])
        a[0].send_signal(signal.SIGKILL)
        assert a[0].wait(timeout=60) == -signal.SIGKILL
        assert b[0].wait(timeout=180) == 0, b[1].read_text()[-3000:]
    finally:
        for process, _ in [a, *([b] if b else [])]:
            if process.poll() is None:
                process.kill()
                process.wait()

    trials = optuna.load_study(study_name="shared", storage=storage).get_trials()
    assert killed.number == 0
    assert [t.state for t in trials] == [TrialState.FAIL, *[TrialState.COMPLETE] * 4]
    reason = trials[0].user_attrs[REASON]
    assert reason.startswith(f"lost: worker pid {a[0].pid} on host ") and "stopped (its process is gone" in reason
    assert trials[0].user_attrs[COUNTED] is False
    assert f"trial 0: failed: {reason}" in b[1].read_text()
    jobs = sorted(int(p.name) for p in (tmp_path / "b").iterdir() if p.name.isdigit())
    assert jobs == [1, 2, 3, 4]  # b ran the four trials, the last in the killed trial's place


# ----- a trial whose job raises an error trainlab did not expect -----

INJECT = """
import json, os
import trainlab.lifecycle.train as module

real = module.train

def train(*args, **kwargs):  # trial FAIL_TRIAL raises, as a network file system might
    if json.loads(os.environ.get("TRAINLAB_OPTUNA_TRIAL") or "{}").get("number") == int(os.environ["FAIL_TRIAL"]):
        raise OSError("the data server went away (simulated)")
    return real(*args, **kwargs)

module.train = train
"""


def test_a_trial_that_raises_is_one_line_and_fails_with_the_error(tmp_path):
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(INJECT)
    env = {**os.environ, "COLUMNS": "120", "FAIL_TRIAL": "0"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(inject), os.environ.get("PYTHONPATH")) if p)
    sweep_dir = tmp_path / "sweep"
    args = ["-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=2", "optimizer.lr=interval(0.01,0.1)"]
    args += ["trainer.max_epochs=1", *TINY, f"hydra.sweep.dir={sweep_dir}"]
    out = subprocess.run(command(*args), cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)

    assert out.returncode == 0, out.stderr  # the search goes on
    # One line (trainlab.cli.main words it), no traceback, and none of Hydra's "Error executing job".
    said = [line for line in out.stderr.splitlines() if "the data server went away" in line]
    assert len(said) == 1 and said[0].startswith("error: ") and "OSError" in said[0], out.stderr
    assert "Error executing job" not in out.stdout + out.stderr and "Traceback" not in out.stderr
    study = optuna.load_study(study_name=str(sweep_dir), storage=f"sqlite:///{sweep_dir}/optuna.db")
    assert [t.state for t in study.trials] == [TrialState.FAIL, TrialState.COMPLETE]
    assert study.trials[0].user_attrs[REASON] == "OSError: the data server went away (simulated)"
    assert "trial 0: failed: OSError: the data server went away (simulated)" in out.stdout
