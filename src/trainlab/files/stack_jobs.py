"""Which training stack holds a sweep member's state: the stack's ``jobs.json``.

While a stack of a sweep trains, its state directory, ``<sweep dir>/.stacks/jobs-<first>-<last>/``,
holds its last.ckpt (``LastCheckpoint``) and ``jobs.json``: the stack's job numbers and each
job's run directory (absolute), in the stack's row order, written with the jobs' configs
before the stack trains, and removed with the directory once its members are written. A
member killed with its stack (SIGKILL, a power cut) finds its state there: ``training_stack``
looks for ``.stacks/`` in the run directory's parents (the sweep directory, wherever
``hydra.sweep.subdir`` puts the job), and ``-m resume=<sweep dir>`` reads the jobs of each
stack. One file per stack, where each member once had its own note: on a disk, each file a
thousand-job sweep writes costs it a quarter of a millisecond a job.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from trainlab.files.rundir import RunDir

STATE_DIR = ".stacks"  # in the sweep directory: each training stack's state directory
STACK_JOBS = "jobs.json"  # in a training stack's state directory: its jobs and their run directories, in row order


def write_stack_jobs(stack_dir: Path, jobs: Sequence[int], run_dirs: Sequence[Path]) -> None:
    """Note in ``stack_dir`` the stack's ``jobs`` and their ``run_dirs``, in the stack's row order."""
    listed = [str(Path(d).resolve()) for d in run_dirs]
    RunDir(stack_dir).write_json(STACK_JOBS, {"jobs": list(jobs), "run_dirs": listed})


def training_stack(run_dir: Path) -> tuple[Path, int] | None:
    """(the state directory of the stack that was training the member in ``run_dir``, the
    member's row there), or None where no stack's ``jobs.json`` lists it (a lone run, or a
    member whose stack ended: its own files hold it). The sweep is the nearest parent that
    holds ``.stacks/``; a damaged jobs.json there is ``DamagedFile`` naming it."""
    run_dir = Path(run_dir).resolve()
    state_dir = next((p / STATE_DIR for p in run_dir.parents if (p / STATE_DIR).is_dir()), None)
    for stack_dir in sorted(state_dir.glob("jobs-*")) if state_dir is not None else []:
        noted = RunDir(stack_dir).read_json(STACK_JOBS)
        listed = (noted.get("run_dirs") or []) if isinstance(noted, dict) else []
        if str(run_dir) in listed:
            return stack_dir, listed.index(str(run_dir))
    return None
