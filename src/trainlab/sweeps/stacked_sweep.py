"""A sweep's jobs trained in stacks: what ``hydra/launcher=stacked`` and ``run_sweep`` share.

Every job's config is composed and checked first (config values, and what the stacked path
cannot serve): one message lists every job that cannot run, and nothing trains. Then the
jobs are grouped (``grouping.group_jobs``; the log says how, and which keys split them),
each stack trains at once (``trainlab.lifecycle.stack.train_stack``), and each member is
handed to ``write`` with its job number, which writes its run directory
(``trainlab.lifecycle.member_dir.write_member``).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig
from rich.console import Console

from trainlab.config.jobs import check_jobs
from trainlab.errors import ConfigError, SweepInterrupted
from trainlab.files.rundir import RunDir
from trainlab.sweeps.grouping import Stack, group_jobs
from trainlab.sweeps.tables import finish, job_rows, record_failure

log = logging.getLogger(__name__)

STATE_DIR = ".stacks"  # in the sweep directory: each training stack's last.ckpt


def start_job(run_dir: Path, cfg: DictConfig, overrides: Sequence[str]) -> Path:
    """A job's directory with its config.yaml and overrides.yaml, before its stack trains (or
    when its stack failed: ``record_failure`` then writes its summary)."""
    run = RunDir(run_dir)
    run.path.mkdir(parents=True, exist_ok=True)
    run.save_config(cfg, list(overrides))
    return run.path


def train_jobs(
    cfgs: Sequence[DictConfig],
    write: Callable[[int, Any], Any],
    max_stack: int | None = None,
    state_dir: Path | None = None,
    start: Callable[[int], Path] | None = None,
) -> list[Any]:
    """Train ``cfgs`` in stacks; return ``write(job number, member)`` of each job, in job order.
    A stack that fails with a ConfigError (what only the data shows: a loss that does not fit
    the task, a monitor it does not log) hands ``write`` that error for each of its jobs, and
    the other stacks go on, as the basic launcher's jobs do. With ``state_dir``, a training
    stack keeps its last.ckpt in ``state_dir/jobs-<first>-<last>/`` (removed once its members
    are written); on Ctrl-C its members are written as interrupted, each resumable alone,
    and ``SweepInterrupted`` names them and the jobs that did not start. ``start(job)``
    writes a job's config before its stack trains and returns its run directory, which then
    notes where its state is (``member_checkpoint.IN_STACK``): killed outright, it resumes too."""
    grouping = group_jobs(cfgs, max_stack)
    alone = len(cfgs) > 1 and all(len(stack.jobs) == 1 for stack in grouping.stacks)
    # A warning when no two jobs share a stack: they train one after another, as with hydra/launcher=basic.
    log.log(logging.WARNING if alone else logging.INFO, "stacked launcher: %s", grouping.describe())
    results: dict[int, Any] = {}
    for number, stack in enumerate(grouping.stacks, 1):
        varying = ", ".join(stack.varying) or "nothing"
        log.info("stack %d of %d: jobs %s (varying: %s)", number, len(grouping.stacks), _jobs(stack.jobs), varying)
        checkpoints = None if state_dir is None else state_dir / f"jobs-{stack.jobs[0]}-{stack.jobs[-1]}"
        members = _train_stack(stack, checkpoints, start, write, results, len(cfgs))
        for job, member in zip(stack.jobs, members, strict=True):
            results[job] = write(job, member)
        if checkpoints is not None:
            shutil.rmtree(checkpoints, ignore_errors=True)
    if state_dir is not None and state_dir.is_dir() and not any(state_dir.iterdir()):
        state_dir.rmdir()
    return [results[job] for job in range(len(cfgs))]


def _train_stack(
    stack: Stack,
    checkpoints: Path | None,
    start: Callable[[int], Path] | None,
    write: Callable[[int, Any], Any],
    results: dict[int, Any],
    n_jobs: int,
) -> list[Any]:
    """One stack's members (its jobs' ConfigError each, where only its data shows it cannot
    train); on Ctrl-C its members written as interrupted, then ``SweepInterrupted``."""
    from trainlab.lifecycle.member import StackInterrupted  # torch and Lightning: once a run is certain
    from trainlab.lifecycle.stack import train_stack
    from trainlab.training.stack.member_checkpoint import write_in_stack

    if checkpoints is not None and start is not None:
        for m, job in enumerate(stack.jobs):
            write_in_stack(start(job), checkpoints, m)
    try:
        return train_stack(list(stack.cfgs), checkpoints)
    except StackInterrupted as stop:  # its members as they stand: finished, interrupted, or not started (None)
        interrupted = []
        for job, member in zip(stack.jobs, stop.members, strict=True):
            if member is not None:
                results[job] = write(job, member)
                interrupted += [job] if member.interrupted is not None else []
        lost = sorted(set(range(n_jobs)) - set(results))
        raise SweepInterrupted(sorted(set(results) - set(interrupted)), interrupted, lost) from None
    except KeyboardInterrupt:  # before the stack's training started
        raise SweepInterrupted(sorted(results), [], sorted(set(range(n_jobs)) - set(results))) from None
    except ConfigError as error:  # what only the data shows: these jobs fail, the sweep goes on
        log.error("a stack (jobs %s) cannot train: %s", _jobs(stack.jobs), error)
        return [error] * len(stack.jobs)


def _jobs(numbers: list[int]) -> str:
    if len(numbers) == 1:
        return str(numbers[0])
    return f"{numbers[0]}-{numbers[-1]}" if numbers == list(range(numbers[0], numbers[-1] + 1)) else str(numbers)


def train_sweep(
    composed: Sequence[tuple[DictConfig, dict[str, str]]],
    jobs: Sequence[Sequence[str]],
    sweep_dir: Path,
    max_stack: int | None = None,
    verbose: bool = True,
) -> list[Any]:
    """``trainlab.run_sweep``'s work: check every job's ``composed`` config (nothing trains if one
    cannot), train them in stacks, write job n's run directory to ``sweep_dir/<n>`` and the
    sweep's tables; one ``RunResult`` (or the job's ConfigError) per job, in job order."""
    from trainlab.lifecycle.member_dir import write_member
    from trainlab.training.quiet import quiet_logs

    cfgs = [cfg for cfg, _ in composed]
    check_jobs(cfgs, jobs, stacked=True)

    def start(number: int) -> Path:
        return start_job(sweep_dir / str(number), cfgs[number], jobs[number])

    def write(number: int, member: Any) -> Any:
        if isinstance(member, ConfigError):
            record_failure(start(number), str(member))
            return member
        path, choices = sweep_dir / str(number), composed[number][1]
        return write_member(member, path, choices, list(jobs[number]), config_written=True)  # by start

    with quiet_logs(not verbose):
        results = train_jobs(cfgs, write, max_stack, sweep_dir / STATE_DIR, start)
    finish(sweep_dir, job_rows(sweep_dir), None if verbose else Console(quiet=True))
    return results
