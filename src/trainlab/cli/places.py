"""Where a command writes, checked before Hydra writes anything there: an output directory
that cannot be written, a ``resume=`` that names no run, a run another process is writing."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig

from trainlab.errors import ConfigError
from trainlab.files.lock import writer_of
from trainlab.files.rundir import RunDir
from trainlab.files.stack_jobs import training_stack
from trainlab.lifecycle.resume import resume_target
from trainlab.sweeps.resume import override_value

MIN_FREE_BYTES = 64 * 1024  # below this not even a run's config and first checkpoint fit


def output_root(overrides: Sequence[str], multirun: bool) -> tuple[str, Path]:
    """The key that places the output (``hydra.run.dir``, ``hydra.sweep.dir``) and the directory
    Hydra will write under: the one given, or ``outputs`` (``outputs/multirun``) as conf/train.yaml
    sets it; its date and time folders are made below it."""
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    given = override_value(overrides, key)  # unquoted, as Hydra reads it (Lightning's ranks quote it)
    if given and "${" not in given:
        return key, Path(given)
    return key, Path("outputs/multirun" if multirun else "outputs")


def check_writable(key: str, directory: Path) -> None:
    """ConfigError, before anything is written, when ``directory`` (or the nearest folder above
    it that exists) is read-only, not writable, or on a disk with almost no space left."""
    existing = directory.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    elsewhere = (
        "make it writable, or copy the run to a writable folder and resume the copy"
        if key == "resume"
        else f"choose another with {key}=<a writable folder>"
    )
    if not os.access(existing, os.W_OK):
        why = "read-only" if _read_only(existing) else "not writable by this user"
        raise ConfigError(
            f"{key}: the output directory {directory} cannot be written ({existing} is {why}); {elsewhere}"
        )
    free = shutil.disk_usage(existing).free
    if free < MIN_FREE_BYTES:
        raise ConfigError(
            f"{key}: the disk of {directory} has {free // 1024} KiB free, not enough for a run "
            f"(its config and first checkpoint); free some space, or {elsewhere}"
        )


def _read_only(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


def check_resume_place(cfg: DictConfig) -> Path | None:
    """``resume=``/``ckpt_path=`` must name a run directory that no other process is writing
    (a sweep's folder is pointed to its jobs, or to continuing the whole sweep); the run
    directory, or None for a new run."""
    target = resume_target(cfg)
    if target is None:
        return None
    run_dir = target[0]
    key = "ckpt_path" if cfg.get("ckpt_path") else "resume"
    value = cfg.get(key)
    if not run_dir.is_dir():
        raise ConfigError(f"{key}={value!r} is not allowed: {run_dir} is not a directory")
    if not (run_dir / RunDir.CONFIG).is_file():
        runs = sorted(p for p in run_dir.iterdir() if p.is_dir() and (p / RunDir.CONFIG).is_file())
        if (run_dir / "multirun.yaml").is_file() and "optuna" in (run_dir / "multirun.yaml").read_text(
            errors="replace"
        ):
            raise ConfigError(
                f"{key}={value!r} is not allowed: {run_dir} is a search's directory (hydra/sweeper=optuna), not a "
                f"run's; continue one of its trials with resume={runs[0] if runs else run_dir / '0'}, or the "
                "search by running it again on the same hydra.sweeper.storage and study_name"
            )
        if (run_dir / "multirun.yaml").is_file():
            raise ConfigError(
                f"{key}={value!r} is not allowed: {run_dir} is a sweep's directory, not a run's; continue "
                f"one of its jobs with resume={runs[0] if runs else run_dir / '0'}, or the whole sweep with "
                f"`python train.py -m resume={run_dir}`"
            )
        if runs:
            raise ConfigError(
                f"{key}={value!r} is not allowed: {run_dir} holds runs ({len(runs)}), it is not one; "
                f"continue one of them, e.g. resume={runs[-1]}"
            )
        if (run_dir / ".hydra" / "overrides.yaml").is_file():  # Hydra made it; the run stopped before its config
            raise ConfigError(
                f"{key}={value!r} is not allowed: {run_dir} holds a run that stopped before it wrote its config "
                f"(no config.yaml: nothing was trained); run its command again (its overrides are in "
                f"{run_dir / '.hydra' / 'overrides.yaml'})"
            )
        raise ConfigError(f"{key}={value!r} is not allowed: {run_dir} is not a trainlab run directory (no config.yaml)")
    pid = writer_of(run_dir)
    stack = training_stack(run_dir) if pid is None else None
    if stack is not None:  # a stack member: its stacked sweep's process writes it while the stack trains
        pid = writer_of(stack[0].parent.parent)  # <sweep dir>/.stacks/jobs-<first>-<last>
    if pid is not None:
        who = f"pid {pid}" if pid else "another process"
        raise ConfigError(
            f"{key}={value!r} is not allowed: {run_dir} is being written by another trainlab process "
            f"({who}); a run directory has one writer at a time: wait for it to end (or stop it)"
        )
    return run_dir
