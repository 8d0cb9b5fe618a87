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

from trainlab.config.composing import first_line
from trainlab.config.jobs import check_jobs
from trainlab.config.plain import plain, readable
from trainlab.errors import ConfigError, SweepInterrupted
from trainlab.files.batch import durable_batch
from trainlab.files.rundir import RunDir
from trainlab.files.stack_jobs import STATE_DIR, write_stack_jobs
from trainlab.sweeps.grouping import Stack, group_jobs
from trainlab.sweeps.tables import finish, job_rows, record_failure

log = logging.getLogger(__name__)


def start_job(run_dir: Path, cfg: DictConfig, overrides: Sequence[str]) -> Path:
    """A job's directory with its config.yaml and overrides.yaml, before its stack trains (or
    when its stack failed: ``record_failure`` then writes its summary)."""
    run = RunDir(run_dir)
    run.path.mkdir(parents=True, exist_ok=True)
    run.save_config(cfg, list(overrides), plain(cfg))
    return run.path


def train_jobs(
    cfgs: Sequence[DictConfig],
    write: Callable[[int, Any], Any],
    max_stack: int | None = None,
    state_dir: Path | None = None,
    start: Callable[[int], Path] | None = None,
    jobs: Sequence[int] | None = None,
    resumed: Sequence[tuple[Sequence[int], Path]] = (),
    written: Callable[[], Any] | None = None,
) -> dict[int, Any]:
    """Train ``cfgs`` (``jobs`` of them: default all) in stacks; return ``write(job number,
    member)`` of each job trained, by job number in job order.

    A stack that fails hands ``write`` its error for each of its jobs, and the other stacks go
    on, as the basic launcher's jobs do: a ConfigError where only its data shows it cannot
    train (a loss that does not fit the task, a monitor it does not log), or any other error
    (a full disk, memory, a bug). With ``state_dir``, a training stack keeps its last.ckpt in
    ``state_dir/jobs-<first>-<last>/`` with its jobs' list (``resume.STACK_JOBS``; removed
    once its members are written); on Ctrl-C its members are written as interrupted, each
    resumable alone, and ``SweepInterrupted`` names them and the jobs that did not start.
    ``start(job)`` writes a job's config before its stack trains and returns its run
    directory, which the stack's jobs.json lists (``files.stack_jobs``): killed outright,
    each member resumes too. ``resumed``: stacks that continue from their own file, each as
    (its jobs in row order, the directory of its last.ckpt), before the others (a sweep
    continued by ``-m resume=``: ``trainlab.sweeps.resume.stacks_to_resume``). ``written()`` is
    called after each stack's run directories are written."""
    todo = list(range(len(cfgs))) if jobs is None else list(jobs)
    grouping = group_jobs([cfgs[j] for j in todo], max_stack)
    if resumed:
        log.info("stacked launcher: %d stopped stack(s) continue from their checkpoints", len(resumed))
    if todo:
        alone = len(todo) > 1 and all(len(stack.jobs) == 1 for stack in grouping.stacks)
        # A warning when no two jobs share a stack: they train one after another, as with hydra/launcher=basic.
        log.log(logging.WARNING if alone else logging.INFO, "stacked launcher: %s", grouping.describe())
    # (the stack, its state's directory, the file it continues from)
    plan: list[tuple[Stack, Path | None, Path | None]] = [
        (Stack(list(js), [cfgs[j] for j in js], []), directory, directory / "last.ckpt") for js, directory in resumed
    ]
    for group in grouping.stacks:
        stack = Stack([todo[i] for i in group.jobs], group.cfgs, group.varying)
        plan.append((stack, _new_state_dir(state_dir, stack.jobs), None))
    every = sorted(job for stack, _, _ in plan for job in stack.jobs)
    results: dict[int, Any] = {}
    for number, (stack, checkpoints, resume_from) in enumerate(plan, 1):
        how = "continued from its checkpoint" if resume_from else f"varying: {', '.join(stack.varying) or 'nothing'}"
        log.info("stack %d of %d: jobs %s (%s)", number, len(plan), _jobs(stack.jobs), how)
        members = _train_stack(stack, checkpoints, None if resume_from else start, write, results, every, resume_from)
        choose_pictures(members)
        with durable_batch():  # the stack's run directories made durable together (trainlab.files.batch)
            for job, member in zip(stack.jobs, members, strict=True):
                results[job] = write(job, member)
        if written is not None:
            written()
        if checkpoints is not None:
            shutil.rmtree(checkpoints, ignore_errors=True)
    if state_dir is not None and state_dir.is_dir() and not any(state_dir.iterdir()):
        state_dir.rmdir()
    return {job: results[job] for job in every}


def choose_pictures(members: Sequence[Any]) -> None:
    """Mark the members whose pictures are drawn as their run directories are written: each
    stack's best ``pictures.sweep_best`` (by each one's best ``monitor`` value; null: all) of
    those that finished; the others' ``pictures`` is False (``trainlab-pictures`` draws them
    later). A person opens the sweep's picture and a few jobs', not a thousand; drawing each
    member's took 170 ms, seven times the rest of its finishing."""
    finished = [m for m in members if hasattr(m, "record") and m.interrupted is None]  # folded jobs: all drawn
    if not finished:
        return
    best = finished[0].cfg.pictures.sweep_best
    if best is None or len(finished) <= best:
        return
    sign = -1.0 if finished[0].cfg.mode == "max" else 1.0

    def rank(member: Any) -> tuple[bool, float]:
        score = member.record.best_score
        return (member.record.diverged is not None or score is None or score != score, sign * (score or 0.0))

    chosen = {id(m) for m in sorted(finished, key=rank)[:best]}
    for member in finished:
        member.pictures = id(member) in chosen


def _new_state_dir(state_dir: Path | None, jobs: list[int]) -> Path | None:
    """Where the stack of ``jobs`` keeps its state: ``state_dir/jobs-<first>-<last>/``, emptied
    of what a stopped sweep's stack of that name left (None without ``state_dir``)."""
    if state_dir is None:
        return None
    directory = state_dir / f"jobs-{jobs[0]}-{jobs[-1]}"
    shutil.rmtree(directory, ignore_errors=True)
    return directory


def _train_stack(
    stack: Stack,
    checkpoints: Path | None,
    start: Callable[[int], Path] | None,
    write: Callable[[int, Any], Any],
    results: dict[int, Any],
    every: list[int],
    resume_from: Path | None = None,
) -> list[Any]:
    """One stack's members (from ``resume_from``, the stack's own file, if given), or its
    error for each of its jobs where it failed; on Ctrl-C its members written as interrupted,
    then ``SweepInterrupted`` (``every``: the jobs of this launch)."""
    from trainlab.lifecycle.member import StackInterrupted  # torch and Lightning: once a run is certain
    from trainlab.lifecycle.stack import train_stack

    folded = any(int(readable(cfg)["data"].get("folds", 1)) > 1 for cfg in stack.cfgs)
    if folded:  # cross-validation's jobs keep no stack state: stopped, they train again from the start
        checkpoints = None
    if start is not None and (checkpoints is not None or folded):
        with durable_batch():  # every job's config, durable before its stack trains
            run_dirs = [start(job) for job in stack.jobs]
            if checkpoints is not None:  # where each member's state is (a continued sweep, resume=<run dir>)
                write_stack_jobs(checkpoints, stack.jobs, run_dirs)
    try:
        return _folded_jobs(stack) if folded else train_stack(list(stack.cfgs), checkpoints, resume_from)
    except StackInterrupted as stop:  # its members as they stand: finished, interrupted, or not started (None)
        if folded:  # its jobs train again from the start when the sweep continues
            raise SweepInterrupted(sorted(results), [], sorted(set(every) - set(results))) from None
        interrupted = []
        with durable_batch():
            for job, member in zip(stack.jobs, stop.members, strict=True):
                if member is not None:
                    results[job] = write(job, member)
                    interrupted += [job] if member.interrupted is not None else []
        lost = sorted(set(every) - set(results))
        raise SweepInterrupted(sorted(set(results) - set(interrupted)), interrupted, lost) from None
    except KeyboardInterrupt:  # before the stack's training started
        raise SweepInterrupted(sorted(results), [], sorted(set(every) - set(results))) from None
    except ConfigError as error:  # what only the data shows: these jobs fail, the sweep goes on
        log.error("a stack (jobs %s) cannot train: %s", _jobs(stack.jobs), error)
        return [error] * len(stack.jobs)
    except Exception as error:  # what nothing foresaw (a full disk, memory, a bug): the same
        log.error("a stack (jobs %s) failed: %s: %s", _jobs(stack.jobs), type(error).__name__, first_line(error))
        return [error] * len(stack.jobs)


def _folded_jobs(stack: Stack) -> list[Any]:
    """Jobs with cross-validation (``data.folds`` > 1) trained as one stack of jobs x folds
    (``trainlab.lifecycle.folds.fold_members``); each job's folds, as a ``FoldedJob``."""
    from trainlab.lifecycle.folds import fold_members
    from trainlab.lifecycle.member import FoldedJob
    from trainlab.lifecycle.stack import train_stack

    member_cfgs, datasets, owners = fold_members(list(stack.cfgs))
    members = train_stack(member_cfgs, None, None, datasets=datasets)
    return [FoldedJob([m for m, (j, _) in zip(members, owners, strict=True) if j == i]) for i in range(len(stack.jobs))]


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
    sweep's tables; one ``RunResult`` (or the error its stack failed with) per job, in job order."""
    from trainlab.lifecycle.member_dir import write_member
    from trainlab.training.quiet import quiet_logs

    cfgs = [cfg for cfg, _ in composed]
    check_jobs(cfgs, jobs, stacked=True)

    def start(number: int) -> Path:
        return start_job(sweep_dir / str(number), cfgs[number], jobs[number])

    def write(number: int, member: Any) -> Any:
        if isinstance(member, Exception):  # its stack failed
            why = str(member) if isinstance(member, ConfigError) else f"{type(member).__name__}: {member}"
            record_failure(start(number), why)
            return member
        path, choices = sweep_dir / str(number), composed[number][1]
        return write_member(member, path, choices, list(jobs[number]), config_written=True)  # by start

    with quiet_logs(not verbose):
        results = train_jobs(cfgs, write, max_stack, sweep_dir / STATE_DIR, start)
    finish(sweep_dir, job_rows(sweep_dir), None if verbose else Console(quiet=True))
    return list(results.values())
