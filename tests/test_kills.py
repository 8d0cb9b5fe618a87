"""SIGKILL at any moment, inside the run's writes too (a checkpoint, the pictures, the test, the
end-of-run summary), not only mid-epoch: every file in the run directory is complete or
absent, and ``resume=`` finishes the run with the numbers of one that was never killed (or
says it had already finished)."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import command, train
from faults import KILL_POINTS, RUN, assert_finishes_as_reference, assert_whole, paused, reference_run
from overrides import QUIET

from trainlab.files.checkpoints import load_checkpoint
from trainlab.files.rundir import RunDir


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return reference_run(tmp_path_factory)


def kill_at(point: str, run_dir: Path, cwd: Path, args=RUN) -> None:
    """train.py paused at ``point`` (``tests/kill_points.py``), then SIGKILLed there."""
    marker = cwd / "paused"
    marker.unlink(missing_ok=True)
    cmd = [sys.executable, str(KILL_POINTS), point, str(marker), *args, f"hydra.run.dir={run_dir}"]
    process = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        paused(process, marker, point)
    finally:
        process.kill()
        process.communicate()


def assert_complete_or_absent(run_dir: Path) -> None:
    """After a kill: a temporary the kill left may remain (the next resume removes it); every
    other file is whole."""
    temporaries = list(run_dir.rglob("*.tmp"))
    for tmp in temporaries:
        tmp.rename(tmp.with_name(tmp.name + "-left-by-the-kill"))
    try:
        assert_whole(run_dir)
    finally:
        for tmp in temporaries:
            tmp.with_name(tmp.name + "-left-by-the-kill").rename(tmp)


@pytest.mark.parametrize(
    "point",
    [
        "fsync:last.ckpt:3",  # inside the third epoch's checkpoint write
        # after training, as the test starts; inside the pictures' writes (also tests/test_disk_full.py's)
        pytest.param("test", marks=pytest.mark.slow),
        pytest.param("fsync:decision_boundary.png", marks=pytest.mark.slow),
        # inside the end-of-run summary (the default run's finishing fault: tests/test_disk_full.py's)
        pytest.param("fsync:summary.json", marks=pytest.mark.slow),
    ],
)
def test_killed_inside_a_write_leaves_whole_files_and_resumes_to_the_same_numbers(tmp_path, reference, point):
    run_dir = tmp_path / "run"
    kill_at(point, run_dir, tmp_path)
    assert_complete_or_absent(run_dir)
    assert_finishes_as_reference(run_dir, reference, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize(
    "point",
    [
        "fsync:config.yaml",
        "fsync:preprocessing.json",
        "fsync:last.ckpt",
        "replace:last.ckpt:2",
        "fsync:best.ckpt:2",
        "fsync:neurons.png",
        "fsync:confusion_matrix.csv",
        "replace:summary.json",
    ],
)
def test_killed_at_every_other_write(tmp_path, reference, point):
    run_dir = tmp_path / "run"
    kill_at(point, run_dir, tmp_path)
    assert_complete_or_absent(run_dir)
    if not (run_dir / RunDir.CONFIG).is_file():  # killed before the run had a config: resume says to run it again
        refused = train(*RUN, f"resume={run_dir}", cwd=tmp_path)
        assert refused.returncode == 2 and "stopped before it wrote its config" in refused.stderr, refused.stderr
        assert "run its command again" in refused.stderr
        return
    assert_finishes_as_reference(run_dir, reference, tmp_path)


@pytest.mark.slow
def test_killed_at_random_moments_again_and_again_it_still_ends_as_the_run_never_killed(tmp_path_factory):
    """One run killed at 24 random moments, each a random time after it has written a new
    epoch (a kill inside a write as likely as elsewhere), and resumed after each: every time
    its files are whole, and it ends with the numbers of the run that was never killed."""
    args = ["data.n_samples=500", "trainer.max_epochs=1500", "regularization=[]", *QUIET]
    args += ["speed.last_checkpoint_seconds=0", "pictures.every_n_epochs=100"]
    cwd = tmp_path_factory.mktemp("random-kills")
    reference = cwd / "reference"
    assert train(*args, f"hydra.run.dir={reference}", cwd=cwd).returncode == 0
    run_dir, draw = cwd / "run", random.Random(23)
    for kill in range(24):
        before = _epoch_kept(run_dir)
        cmd = command(*args, f"resume={run_dir}" if kill else f"hydra.run.dir={run_dir}")
        process = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 240
            while _epoch_kept(run_dir) <= before:
                assert process.poll() is None, f"kill {kill}: it ended first: {process.communicate()[1]}"
                assert time.monotonic() < deadline, f"kill {kill}: no new epoch kept"
                time.sleep(0.005)
            time.sleep(draw.uniform(0.0, 0.3))
            assert process.poll() is None, f"kill {kill}: the run finished before it"
            os.kill(process.pid, signal.SIGKILL)
        finally:
            process.kill()
            process.communicate()
        assert_complete_or_absent(run_dir)
    assert_finishes_as_reference(run_dir, reference, cwd, args)


def _epoch_kept(run_dir: Path) -> int:
    last = RunDir(run_dir).last_checkpoint
    try:
        return load_checkpoint(last)["epoch"] if last.is_file() else -1
    except Exception:  # replaced while read: read it again
        return _epoch_kept(run_dir)
