"""A run directory has one writer at a time, and ``resume=`` of something that is not a run is
refused before anything is written anywhere."""

import os
import signal
import time

import pytest
from cli_helpers import start, train
from overrides import QUICK, QUIET

from trainlab.errors import ConfigError
from trainlab.files.lock import LOCK, sole_writer, writer_of
from trainlab.files.rundir import RunDir
from trainlab.files.stack_jobs import STATE_DIR, write_stack_jobs


def _listing(directory):
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


@pytest.mark.parametrize("target", [".", "outputs/2026-12-06", "outputs/multirun/2026-12-06/10-00-00"])
def test_resume_of_a_directory_that_is_not_a_run_is_refused_before_anything_is_written(tmp_path, target):
    sweep = tmp_path / "outputs" / "multirun" / "2026-12-06" / "10-00-00"
    (sweep / "0").mkdir(parents=True)
    (sweep / "0" / "config.yaml").write_text("seed: 0\n")
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    (tmp_path / "outputs" / "2026-12-06" / "09-00-00").mkdir(parents=True)
    (tmp_path / "outputs" / "2026-12-06" / "09-00-00" / "config.yaml").write_text("seed: 0\n")
    before = _listing(tmp_path)
    done = train(f"resume={target}", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert _listing(tmp_path) == before  # no .hydra/, no train.log, nowhere
    if "multirun" in target:
        assert f"is a sweep's directory, not a run's; continue one of its jobs with resume={target}/0" in done.stderr
        assert f"or the whole sweep with `python train.py -m resume={target}`" in done.stderr
    elif target == ".":
        assert ". is not a trainlab run directory (no config.yaml)" in done.stderr
    else:
        assert (
            f"{target} holds runs (1), it is not one; continue one of them, e.g. resume={target}/09-00-00"
            in done.stderr
        )


def test_a_second_writer_is_refused_with_the_first_ones_pid_and_a_killed_one_leaves_no_lock(tmp_path):
    run_dir = tmp_path / "run"
    args = ["data.n_samples=4000", "trainer.max_epochs=200", "speed.last_checkpoint_seconds=0", *QUIET]
    first = start(*args, "regularization=[]", "pictures.enabled=false", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while not RunDir(run_dir).last_checkpoint.is_file():
            assert first.poll() is None, first.communicate()[1]
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert writer_of(run_dir) == str(first.pid)
        second = train(f"resume={run_dir}", cwd=tmp_path)
        assert second.returncode == 2, second.stderr
        assert f"is being written by another trainlab process (pid {first.pid})" in second.stderr
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.communicate()
    assert (run_dir / LOCK).is_file() and writer_of(run_dir) is None  # the kernel dropped the lock
    with sole_writer(run_dir):  # a resume takes it
        assert writer_of(run_dir) == str(os.getpid())
    assert not (run_dir / LOCK).exists()


def test_sole_writer_in_one_process_refuses_a_second_holder_naming_its_pid(tmp_path):
    with sole_writer(tmp_path / "run"):
        assert (tmp_path / "run" / LOCK).read_text() == str(os.getpid())
        refused = rf"being written by another trainlab process \(pid {os.getpid()}\)"
        with pytest.raises(ConfigError, match=refused), sole_writer(tmp_path / "run"):
            pass
    assert not (tmp_path / "run").exists()  # made for the lock, left empty: removed


def test_a_run_through_the_api_holds_its_directory_and_leaves_no_lock_behind(tmp_path):
    from trainlab import run

    result = run([*QUICK, "logger=none", "pictures.enabled=false"], output_dir=tmp_path / "run", verbose=False)
    assert not (result.run_dir / LOCK).exists()


def test_resuming_a_stack_member_while_its_stacked_sweep_trains_is_refused_with_its_pid(tmp_path):
    """The stacked launcher's process writes every member's directory: it holds the sweep's lock,
    and ``resume=<member>`` meanwhile is refused naming it."""
    member = tmp_path / "sweep" / "3"
    (member / "checkpoints").mkdir(parents=True)
    (member / "config.yaml").write_text("seed: 0\n")
    stack_dir = tmp_path / "sweep" / STATE_DIR / "jobs-0-3"
    write_stack_jobs(stack_dir, [0, 3], [member.parent / "0", member])  # its stack trains
    with sole_writer(tmp_path / "sweep"):  # as the sweep's process holds it
        done = train(f"resume={member}", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"{member} is being written by another trainlab process (pid {os.getpid()})" in done.stderr
