"""A sweep's job that fails at run time, on something no check before it could see (here: out
of memory), is trainlab's one line, ``error: job <n>: <why>``, not Hydra's "Error executing
job" banner and traceback, with every launcher: the job is recorded as failed with its error
in the sweep's tables (its traceback in its train.log), the other jobs go on, and the sweep
ends with exit code 1 after naming the failed jobs (as for a job that failed on its data).

The failure is real: the sweep's processes run under an address-space limit (RLIMIT_AS) of
16 GiB, and job 1's second layer (100000 x 100000 floats, 40 GB) cannot be allocated, as a
model too large for its machine; job 0's tiny model trains."""

import json
import resource
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import command
from overrides import QUIET

LIMIT = 16 * 2**30
JOBS = ["model.hidden=[8],[100000,100000]"]
SMALL = ["data.n_samples=200", "trainer.max_epochs=2", "trainer.accelerator=cpu", "pictures.enabled=false", *QUIET]


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def sweep(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """train.py -m in ``tmp_path`` under the address-space limit (its workers inherit it)."""
    line = command("-m", *args, *JOBS, *SMALL, f"hydra.sweep.dir={tmp_path / 'sweep'}")
    return subprocess.run(line, cwd=tmp_path, capture_output=True, text=True, preexec_fn=_limited, timeout=600)


def assert_one_line_and_recorded(out: subprocess.CompletedProcess, sweep_dir: Path) -> None:
    """Exit 1; stderr: the failed job's one line, then the sweep's; its row failed with the
    error, the other job finished; its traceback in its train.log alone."""
    assert out.returncode == 1, out.stderr[-3000:]
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2, out.stderr[-3000:]
    assert errors[0].startswith("error: job 1: RuntimeError: ") and "can't allocate memory" in errors[0]
    assert errors[0].endswith(f"(traceback in {sweep_dir / '1' / 'train.log'})")
    assert errors[1] == f"error: 1 of 2 jobs failed (job 1); the errors are in {sweep_dir / 'summary.csv'}"
    assert "Error executing job" not in out.stderr and "Traceback" not in out.stderr + out.stdout
    table = pd.read_csv(sweep_dir / "summary.csv")
    assert list(table["job"]) == [0, 1] and list(table["status"]) == ["finished", "failed"]
    assert table["error"].iloc[1].startswith("RuntimeError: ") and "can't allocate memory" in table["error"].iloc[1]
    assert json.loads((sweep_dir / "1" / "summary.json").read_text())["status"] == "failed"
    log = (sweep_dir / "1" / "train.log").read_text()
    assert "Traceback (most recent call last)" in log and "can't allocate memory" in log


def test_a_job_that_runs_out_of_memory_is_one_line_and_the_sweep_goes_on(tmp_path):
    assert_one_line_and_recorded(sweep(tmp_path), tmp_path / "sweep")


def test_a_stack_that_runs_out_of_memory_fails_its_jobs_and_the_other_stacks_go_on(tmp_path):
    out = sweep(tmp_path, "hydra/launcher=stacked")
    assert "2 jobs share nothing, trained as 2 stacks of one" in out.stdout
    assert_one_line_and_recorded(out, tmp_path / "sweep")


@pytest.mark.slow
def test_a_joblib_job_that_runs_out_of_memory_and_the_continued_sweep_keeps_it_failed(tmp_path):
    """In joblib's worker as in the sweep's process; continued with -m resume=, the failed
    job is kept as it was (not run again), and the sweep says so again with exit code 1."""
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher", reason="needs trainlab[scale]")
    sweep_dir = tmp_path / "sweep"
    assert_one_line_and_recorded(sweep(tmp_path, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"), sweep_dir)
    summary = (sweep_dir / "1" / "summary.json").read_bytes()
    again = subprocess.run(command("-m", f"resume={sweep_dir}"), cwd=tmp_path, capture_output=True, text=True)
    assert again.returncode == 1, again.stderr[-3000:]
    assert "job 1 failed before the sweep stopped: kept as it is" in again.stdout
    assert again.stderr.strip() == f"error: 1 of 2 jobs failed (job 1); the errors are in {sweep_dir / 'summary.csv'}"
    assert (sweep_dir / "1" / "summary.json").read_bytes() == summary


def test_a_full_disk_whose_error_names_no_file_names_the_jobs_directory(tmp_path, capsys):
    """A write that fails without naming its file (a writer thread's, a stream's): the line and
    the job's summary.json name the job's directory, never 'a file'."""
    import errno

    from trainlab.sweeps.tables import fail_job

    job = tmp_path / "3"
    job.mkdir()
    fail_job(job, 3, OSError(errno.ENOSPC, "No space left on device"))
    assert f"error: job 3: cannot write {job}: No space left on device" in capsys.readouterr().err
    summary = json.loads((job / "summary.json").read_text())
    assert (summary["status"], summary["file"]) == ("failed", str(job))
