"""A sweep killed outright (SIGKILL of its process group) continues with one command,
``python train.py -m resume=<sweep dir>``: the jobs that ended are kept as they are, the one
that was training resumes from its checkpoint, the ones that had not started run, and the
sweep's tables equal those of the sweep that was never stopped. The basic launcher here; the
stacked and joblib launchers, and Ctrl-C of a stacked sweep, with ``-m slow``."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml
from cli_helpers import command, train
from overrides import QUIET

from trainlab import cli
from trainlab.sweeps.resume import MULTIRUN_FILE, RESUME_ENV

# Job 0 diverges at once, the others train 20 epochs, about a second (last.ckpt every epoch):
# long enough to be caught mid-training.
JOBS = ["optimizer.lr=1e9,0.003,0.01,0.03"]
SMALL = ["data.n_samples=1000", "trainer.max_epochs=20", "speed.last_checkpoint_seconds=0", "pictures.enabled=false"]
SWEEP = [*JOBS, *SMALL, *QUIET]
STACKED = ["hydra/launcher=stacked", "hydra.launcher.max_stack=2", "seed=0,1,2,3,4,5", *SMALL, *QUIET]
TEXT = ["job", "overrides", "status", "best_epoch", "epochs", "error"]


def start(args: list[str], cwd: Path) -> subprocess.Popen:
    """train.py in a session of its own, so the test can kill it with every worker it started."""
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.Popen(
        command(*args), cwd=cwd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def kill_when(process: subprocess.Popen, ready: Callable[[], bool], timeout: float = 300.0) -> None:
    """SIGKILL ``process``'s whole group as soon as ``ready()`` holds (polled)."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise AssertionError(f"the sweep ended before it could be killed: {process.stderr.read().decode()[-3000:]}")
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            raise AssertionError("the sweep never reached the state to kill it in")
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def interrupt_when(process: subprocess.Popen, ready: Callable[[], bool], timeout: float = 300.0) -> None:
    """Ctrl-C (SIGINT to its group) as soon as ``ready()`` holds; the sweep stops with 130."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read().decode()[-3000:]
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err.decode()[-3000:]
    assert "continue the whole sweep with: python train.py -m resume=" in err.decode()


def training(job: Path) -> bool:
    """Job ``job`` is mid-training: its last.ckpt written, no summary yet."""
    return (job / "checkpoints" / "last.ckpt").is_file() and not (job / "summary.json").exists()


def ended(sweep_dir: Path) -> list[str]:
    """The jobs with a summary.json, by number."""
    return sorted((p.parent.name for p in sweep_dir.glob("*/summary.json") if p.parent.name.isdigit()), key=int)


def assert_same_tables(ours: Path, theirs: Path, rel: float = 1e-6) -> pd.DataFrame:
    """The sweeps' summary.csv alike: the same rows in the same order, the same columns, the
    text columns (job, overrides, status, best epoch, epochs, error) equal, every metric to ``rel``."""
    a, b = pd.read_csv(ours / "summary.csv"), pd.read_csv(theirs / "summary.csv")
    assert list(a.columns) == list(b.columns)
    text = [c for c in TEXT if c in a.columns]
    pd.testing.assert_frame_equal(a[text], b[text])
    metrics = [c for c in a.columns if c not in text]
    pd.testing.assert_frame_equal(a[metrics], b[metrics], rtol=rel, atol=1e-9)
    assert (ours / "summary.md").read_text().count("\n| ") == (theirs / "summary.md").read_text().count("\n| ")
    return a


@pytest.fixture(scope="module")
def whole(tmp_path_factory) -> Path:
    """The sweep run to its end, never stopped (the basic launcher)."""
    root = tmp_path_factory.mktemp("whole")
    out = train("-m", *SWEEP, f"hydra.sweep.dir={root / 'sweep'}", cwd=root)
    assert out.returncode == 0, out.stderr[-3000:]
    return root / "sweep"


def test_a_killed_sweep_continues_to_the_tables_of_the_sweep_never_stopped(whole, tmp_path):
    """Killed while job 2 trains: job 0 (diverged) and job 1 (finished) are kept byte for
    byte, job 2 resumes from its last.ckpt, job 3 runs, and the tables equal the whole sweep's."""
    sweep_dir = tmp_path / "sweep"
    process = start(["-m", *SWEEP, f"hydra.sweep.dir={sweep_dir}"], tmp_path)
    kill_when(process, lambda: training(sweep_dir / "2"))
    assert process.returncode == -signal.SIGKILL
    assert ended(sweep_dir) == ["0", "1"] and not (sweep_dir / "3").exists()
    kept = {job: (sweep_dir / job / "summary.json").read_bytes() for job in ("0", "1")}
    best = (sweep_dir / "1" / "checkpoints" / "best.ckpt").read_bytes()

    out = train("-m", f"resume={sweep_dir}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "job 1 finished before the sweep stopped: kept as it is" in out.stdout
    assert "job 2 stopped while training: continued from its checkpoint" in out.stdout
    assert "job 3 had not started" in out.stdout and "sweep: 4 jobs, best first" in out.stdout
    table = assert_same_tables(sweep_dir, whole)
    assert sorted(table["status"]) == ["diverged", "finished", "finished", "finished"]
    assert {job: (sweep_dir / job / "summary.json").read_bytes() for job in kept} == kept
    assert (sweep_dir / "1" / "checkpoints" / "best.ckpt").read_bytes() == best
    assert (sweep_dir / MULTIRUN_FILE).is_file() and not (sweep_dir / ".stacks").exists()


def _saved_sweep(sweep_dir: Path, task: list[str], hydra: tuple[str, ...] = ()) -> None:
    """A sweep directory as Hydra leaves it when it starts: multirun.yaml with its overrides."""
    sweep_dir.mkdir(parents=True)
    overrides = {"hydra": [f"hydra.sweep.dir={sweep_dir}", "hydra.mode=MULTIRUN", *hydra], "task": task}
    (sweep_dir / MULTIRUN_FILE).write_text(yaml.safe_dump({"hydra": {"overrides": overrides}}))


@pytest.fixture
def no_resume_env(monkeypatch):
    """RESUME_ENV unset, and unset again after the test (a continued sweep's command sets it)."""
    monkeypatch.setenv(RESUME_ENV, "")
    monkeypatch.delenv(RESUME_ENV)


def _cli(monkeypatch, capsys, *args: str) -> tuple[int | None, str]:
    monkeypatch.setattr(sys, "argv", ["train.py", *args])
    with pytest.raises(SystemExit) as exit_info:
        cli.train()
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("given", "words"),
    [
        (["optimizer.lr=0.5"], r"optimizer.lr=0.5: a continued sweep keeps its own overrides \(seed=1,2 "),
        (["hydra/sweeper=optuna"], r"hydra/sweeper=optuna: a continued sweep keeps its own overrides"),
    ],
)
def test_overrides_that_would_change_a_continued_sweep_are_refused(
    monkeypatch, capsys, tmp_path, no_resume_env, given, words
):
    sweep_dir = tmp_path / "s"
    _saved_sweep(sweep_dir, ["seed=1,2", "trainer.max_epochs=2"])
    code, err = _cli(monkeypatch, capsys, "-m", f"resume={sweep_dir}", *given)
    assert code == 2 and re.search(words, err), err
    assert sorted(p.name for p in sweep_dir.iterdir()) == [MULTIRUN_FILE]  # nothing written


def test_a_folder_that_holds_no_sweep_a_search_and_a_taken_sweep_dir_are_refused(
    monkeypatch, capsys, tmp_path, no_resume_env
):
    code, err = _cli(monkeypatch, capsys, "-m", f"resume={tmp_path}")
    assert code == 2 and f"holds no {MULTIRUN_FILE}" in err and "-m resume= continues a sweep" in err
    search = tmp_path / "search"
    _saved_sweep(search, ["optimizer.lr=tag(log,interval(1e-3,1e-1))"], ("hydra/sweeper=optuna",))
    code, err = _cli(monkeypatch, capsys, "-m", f"resume={search}")
    assert code == 2 and "that sweep is a search" in err
    code, err = _cli(monkeypatch, capsys, "-m", "seed=1,2", f"hydra.sweep.dir={search}")
    assert code == 2 and "already holds a sweep" in err and f"python train.py -m resume={search}" in err
    assert os.environ.get(RESUME_ENV) is None


def test_the_same_command_with_resume_added_reads_the_sweeps_own(tmp_path, no_resume_env):
    """``-m <its overrides> resume=<dir>`` is the sweep's command: Hydra gets the saved
    overrides (its launcher settings may be given anew) and the sweep's directory."""
    from trainlab.sweeps.resume import sweep_command

    sweep_dir = tmp_path / "a sweep's dir"
    _saved_sweep(sweep_dir, ["seed=1,2", "trainer.max_epochs=2"], ("hydra/launcher=joblib",))
    args = sweep_command(["-m", "seed=1,2", "hydra.launcher.n_jobs=4", f"resume={sweep_dir}"])
    quoted = "'" + str(sweep_dir).replace("'", "\\'") + "'"
    assert args == [
        "-m",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=4",
        "seed=1,2",
        "trainer.max_epochs=2",
        f"hydra.sweep.dir={quoted}",
    ]
    assert os.environ[RESUME_ENV] == str(sweep_dir.resolve())


@pytest.fixture(scope="module")
def stacked_whole(tmp_path_factory) -> Path:
    """The stacked sweep (3 stacks of 2) run to its end, never stopped."""
    root = tmp_path_factory.mktemp("stacked")
    out = train("-m", *STACKED, f"hydra.sweep.dir={root / 'sweep'}", cwd=root)
    assert out.returncode == 0, out.stderr[-3000:]
    return root / "sweep"


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["killed", "ctrl-c"])
def test_a_stopped_stacked_sweep_continues_its_stack_from_the_stacks_checkpoint(stacked_whole, tmp_path, stop):
    """Killed (or Ctrl-C) while its second stack trains: the first stack's jobs are kept, the
    second continues as a stack from its own file (the dropout masks of the stack never
    stopped: the tables are equal), the third trains."""
    sweep_dir = tmp_path / "sweep"
    process = start(["-m", *STACKED, f"hydra.sweep.dir={sweep_dir}"], tmp_path)
    state = sweep_dir / ".stacks" / "jobs-2-3" / "last.ckpt"
    if stop == signal.SIGKILL:
        kill_when(process, state.is_file)
    else:
        interrupt_when(process, state.is_file)
    assert ended(sweep_dir) == (["0", "1"] if stop == signal.SIGKILL else ["0", "1", "2", "3"])

    out = train("-m", *STACKED, f"resume={sweep_dir}", cwd=tmp_path)  # the same command, resume= added
    assert out.returncode == 0, out.stderr[-3000:]
    assert "stack 1 of 2: jobs 2-3 (continued from its checkpoint)" in out.stdout
    assert_same_tables(sweep_dir, stacked_whole)
    assert not (sweep_dir / ".stacks").exists()


@pytest.mark.slow
def test_a_killed_joblib_sweep_continues_to_the_tables_of_the_sweep_never_stopped(whole, tmp_path):
    """Two jobs side by side in joblib's workers, the sweep's process group killed while one
    of them trains: the continued sweep's tables equal the basic launcher's whole sweep's
    (each job is a lone run, its numbers the launcher's no matter which)."""
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher", reason="needs trainlab[scale]")
    sweep_dir = tmp_path / "sweep"
    joblib = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
    process = start(["-m", *joblib, *SWEEP, f"hydra.sweep.dir={sweep_dir}"], tmp_path)
    jobs = [sweep_dir / str(n) for n in range(4)]
    kill_when(process, lambda: len(ended(sweep_dir)) >= 1 and any(training(job) for job in jobs))
    out = train("-m", f"resume={sweep_dir}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "continued from its checkpoint" in out.stdout and "Callback" not in out.stderr
    assert_same_tables(sweep_dir, whole)


def test_the_stacks_to_continue_are_found_whole_in_pieces_and_by_shape(tmp_path):
    """A stack continues from its files where every one of its jobs is to resume and each is
    in a file: its own last.ckpt, or its pieces' (cut to fit a device) or shape groups' (each
    perhaps cut again); a stack with a member written since, or a piece not started, does not."""
    from trainlab.sweeps.resume import FRESH, KEPT, RESUME, STACK_JOBS, stacks_to_resume

    def stack(name: str, jobs: list[int], files: list[str], shapes: list[list[int]] | None = None) -> Path:
        directory = tmp_path / name
        directory.mkdir(parents=True)
        (directory / STACK_JOBS).write_text(json.dumps({"jobs": jobs}))
        if shapes is not None:
            (directory / "shapes.json").write_text(json.dumps({"groups": shapes}))
        for file in files:
            (directory / file).parent.mkdir(parents=True, exist_ok=True)
            (directory / file).write_bytes(b"")
        return directory

    whole = stack("jobs-0-1", [0, 1], ["last.ckpt"])
    cut = stack("jobs-2-5", [2, 3, 4, 5], ["members-0-1/last.ckpt", "members-2-3/last.ckpt"])
    shaped = stack("jobs-6-9", [6, 9, 7, 8], ["shape-0/last.ckpt", "shape-1/members-0-0/last.ckpt"], [[0, 3], [1, 2]])
    (shaped / "shape-1" / "members-1-1").mkdir()  # its last piece had started: no file yet
    stack("jobs-10-11", [10, 11], ["last.ckpt"])  # job 11 was written since: kept
    states = [RESUME] * 11 + [KEPT, FRESH]
    assert stacks_to_resume(tmp_path, states) == [
        ([0, 1], whole),
        ([2, 3], cut / "members-0-1"),
        ([4, 5], cut / "members-2-3"),
    ]
    (shaped / "shape-1" / "members-1-1" / "last.ckpt").write_bytes(b"")
    assert stacks_to_resume(tmp_path, states)[3:] == [
        ([6, 8], shaped / "shape-0"),
        ([9], shaped / "shape-1" / "members-0-0"),
        ([7], shaped / "shape-1" / "members-1-1"),
    ]


CUT_TO_FIT = """
import sys
import trainlab.lifecycle.stack
from trainlab.cli import train

trainlab.lifecycle.stack.members_that_fit = lambda per_member, device: 2  # the device fits 2 members
sys.argv = ["train.py", *sys.argv[1:]]
train()
"""


@pytest.mark.slow
def test_a_stack_cut_to_fit_its_device_continues_piece_by_piece(tmp_path):
    """A stack of 4 trained in pieces of 2, killed while its second piece trains (nothing
    written yet): the continued sweep resumes both pieces from their files (the first at its
    end) and its tables equal those of the same sweep never stopped."""
    sweep = ["hydra/launcher=stacked", "seed=0,1,2,3", *SMALL, *QUIET]
    env = {**os.environ, "COLUMNS": "120"}
    whole = subprocess.run(
        [sys.executable, "-c", CUT_TO_FIT, "-m", *sweep, f"hydra.sweep.dir={tmp_path / 'whole'}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert whole.returncode == 0, whole.stderr[-3000:]
    sweep_dir = tmp_path / "sweep"
    process = subprocess.Popen(
        [sys.executable, "-c", CUT_TO_FIT, "-m", *sweep, f"hydra.sweep.dir={sweep_dir}"],
        cwd=tmp_path,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    kill_when(process, (sweep_dir / ".stacks" / "jobs-0-3" / "members-2-3" / "last.ckpt").is_file)
    assert ended(sweep_dir) == []
    out = train("-m", f"resume={sweep_dir}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "stacked launcher: 2 stopped stack(s) continue from their checkpoints" in out.stdout
    assert_same_tables(sweep_dir, tmp_path / "whole")
