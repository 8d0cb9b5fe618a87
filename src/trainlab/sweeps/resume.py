"""A sweep continued after it stopped (killed outright, Ctrl-C, a power cut):
``python train.py -m resume=<sweep dir>``.

The command line (``sweep_command``) gives Hydra the sweep's own overrides, read from the
``multirun.yaml`` Hydra wrote in the sweep's directory when it started (the launcher and its
settings with them), and the sweep's directory as ``hydra.sweep.dir``, so job n runs again in
``<sweep dir>/<n>``; it names the sweep in ``RESUME_ENV`` for every process that runs its
jobs (a parallel launcher's workers inherit it). Overrides given beside ``resume=`` must be
the sweep's own (the same ``-m`` command with ``resume=`` added reads the same), or settle how
the jobs run (``hydra/launcher=``, ``hydra.launcher.*``); anything else is refused, naming it.
A new sweep into a directory that holds one is refused (``hydra.sweep.dir=``), pointing here.

Each job then looks at its own directory (``job_state``):

- ``KEPT``: its summary.json says it ended (finished, early-stopped, tuned, diverged, failed):
  it does not run again, and its row in the sweep's tables stays as it was;
- ``RESUME``: it stopped while training, and its ``checkpoints/last.ckpt`` (or, for a member of a
  stack that was training, its stack's file: its stack's jobs.json lists it) holds its state: it continues
  from there as ``resume=<sweep dir>/<n>`` continues it, to the numbers of a run that never stopped;
- ``FRESH``: nothing of it was kept (it had not started, or stopped before its first checkpoint,
  or it cannot resume: cross-validation, the learning-rate finder): what it left is cleared
  (``clear_job``) and it runs from the start.

The stacked launcher continues a stack whose members were all training when it stopped (killed,
or written as interrupted by Ctrl-C) from the stack's own file, as one stack
(``stacks_to_resume``), so they draw the dropout masks the uninterrupted stack draws; other
stopped members continue one by one, as a stack of one (with dropout, other masks).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, open_dict

from trainlab.errors import ConfigError
from trainlab.files.rundir import RunDir
from trainlab.files.stack_jobs import STACK_JOBS

log = logging.getLogger(__name__)

RESUME_ENV = "TRAINLAB_RESUME_SWEEP"  # the sweep being continued (resolved), for every process running its jobs
MULTIRUN_FILE = "multirun.yaml"  # Hydra's: the sweep's whole config, its overrides with it
KEPT, RESUME, FRESH = "kept", "resume", "fresh"
ENDED = ("finished", "early-stopped", "tuned", "diverged", "failed")  # statuses a continued sweep keeps
_MULTIRUN_FLAGS = ("-m", "--multirun")
_PLAIN_PATH = re.compile(r"[\w./:~@+-]+")  # a path Hydra's override grammar reads unquoted
_SET_HERE = ("hydra.sweep.dir", "hydra.mode")  # Hydra's overrides that a continued sweep sets itself


# ----- the command line -----------------------------------------------------------------


def sweep_command(args: Sequence[str]) -> list[str]:
    """The arguments Hydra gets for train.py's ``args`` (flags included). With ``-m`` and
    ``resume=<sweep dir>``: the sweep's own overrides and its directory, and ``RESUME_ENV`` set
    (see the module doc); with ``-m`` and a ``hydra.sweep.dir`` that holds a sweep: a
    ConfigError pointing to ``resume=``; else ``args`` as they are. ConfigError, before
    anything is written, for a directory that holds no sweep to continue, a search's, and
    overrides that would change the sweep."""
    args = list(args)
    if not any(a in _MULTIRUN_FLAGS for a in args):
        return args
    flags = [a for a in args if a.startswith("-")]
    given = [a for a in args if not a.startswith("-")]
    target = override_value(given, "resume")
    if target is None:
        _refuse_a_taken_sweep_dir(given)
        return args
    sweep_dir = Path(target)
    hydra_overrides, task_overrides = saved_overrides(sweep_dir, f"resume={target}")
    others = [o for o in given if _key(o) != "resume"]
    command = [*flags, *_merged(hydra_overrides, task_overrides, others, target), f"hydra.sweep.dir={_quoted(target)}"]
    os.environ[RESUME_ENV] = str(sweep_dir.resolve())
    return command


def saved_overrides(sweep_dir: Path, typed: str) -> tuple[list[str], list[str]]:
    """(Hydra's overrides, the task's) of the sweep in ``sweep_dir``, as its ``multirun.yaml``
    keeps them; ConfigError (naming ``typed``) where there is no grid sweep to continue."""
    file = sweep_dir / MULTIRUN_FILE
    if not file.is_file():
        why = f"holds no {MULTIRUN_FILE} (Hydra's record of a sweep)" if sweep_dir.is_dir() else "is not a directory"
        hint = " (a run: continue it without -m)" if (sweep_dir / RunDir.CONFIG).is_file() else ""
        raise ConfigError(f"{typed} with -m is not allowed: {sweep_dir} {why}; -m resume= continues a sweep{hint}")
    try:
        saved = yaml.safe_load(file.read_text(encoding="utf-8"))
        overrides = saved["hydra"]["overrides"]
        hydra_overrides, task_overrides = [str(o) for o in overrides["hydra"]], [str(o) for o in overrides["task"]]
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError) as error:
        raise ConfigError(f"{typed}: {file} cannot be read as Hydra writes it ({type(error).__name__})") from None
    if any(_names_a_search(o) for o in hydra_overrides + task_overrides):
        raise ConfigError(
            f"{typed} with -m is not allowed: that sweep is a search (hydra/sweeper=...), which -m resume= "
            "does not continue: its study goes on when the search runs again on the same hydra.sweeper.storage"
        )
    return hydra_overrides, task_overrides


GRID_SWEEPERS = ("grid", "basic")  # hydra/sweeper= options that sweep a grid: trainlab's default, Hydra's own


def is_grid(sweeper: Any) -> bool:
    """Whether a sweep's ``hydra.sweeper`` config is a grid's (``GRID_SWEEPERS``): what ``-m
    resume=`` continues."""
    return str(sweeper.get("_target_", "")).endswith(("GridSweeper", "BasicSweeper"))


def _names_a_search(override: str) -> bool:
    """Whether ``override`` chooses a sweeper other than a grid (a search: Optuna, ...) or sets a
    sweeper's keys."""
    key = _key(override)
    if key == "hydra/sweeper":
        return override.partition("=")[2].strip() not in GRID_SWEEPERS
    return key.startswith("hydra.sweeper")


def _merged(hydra_overrides: list[str], task_overrides: list[str], given: list[str], target: str) -> list[str]:
    """The sweep's overrides, with the given ones that settle how its jobs run in place of its
    own; ConfigError naming a given override that would change the sweep."""
    how: dict[str, str] = {}
    for override in given:
        key = _key(override)
        if override in task_overrides or override in hydra_overrides:
            continue
        if key.startswith(("hydra/launcher", "hydra.launcher.")):
            how[key] = override
            continue
        raise ConfigError(
            f"{override}: a continued sweep keeps its own overrides ({' '.join(task_overrides)}); "
            f"give resume={target} alone, or the sweep's -m command unchanged with resume= added"
        )
    kept = [o for o in hydra_overrides if _key(o) not in _SET_HERE and _key(o) not in how]
    return [*kept, *how.values(), *task_overrides]


def _refuse_a_taken_sweep_dir(given: list[str]) -> None:
    """A new grid sweep never writes into a directory that holds a sweep."""
    if any(_names_a_search(o) for o in given):
        return  # a search's workers share a study, each in its own directory: its own rules
    place = override_value(given, "hydra.sweep.dir")
    if place is None or "${" in place:
        return
    if holds_a_sweep(Path(place)):
        raise ConfigError(
            f"hydra.sweep.dir={place} already holds a sweep; trainlab never writes into another sweep's "
            f"directory: choose a new one, or continue that sweep with python train.py -m resume={place}"
        )


def holds_a_sweep(directory: Path) -> bool:
    """Whether ``directory`` holds a sweep: Hydra's multirun.yaml, or a job's directory ``<n>/``
    holding a run or Hydra's files."""
    if (directory / MULTIRUN_FILE).is_file():
        return True
    if not directory.is_dir():
        return False
    jobs = (p for p in directory.iterdir() if p.is_dir() and p.name.isdigit())
    return any(RunDir(p).holds_a_run() or (p / ".hydra").is_dir() for p in jobs)


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def override_value(overrides: Sequence[str], key: str) -> str | None:
    """The value of the last override of ``key``, unquoted as Hydra reads it."""
    found = next((o for o in reversed(overrides) if _key(o) == key), None)
    if found is None:
        return None
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        value = OverridesParser.create().parse_overrides([found])[0].value()
    except HydraException:
        value = found.split("=", 1)[1]
    return None if value is None else str(value)


def _quoted(path: str) -> str:
    """``path`` as a value Hydra's override grammar reads back unchanged."""
    if _PLAIN_PATH.fullmatch(path):
        return path
    # In a quoted value, backslashes escape only a quote, and those before a quote or at the end.
    escaped = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", path)
    return "'" + re.sub(r"(\\+)$", lambda m: m.group(1) * 2, escaped) + "'"


# ----- each job ---------------------------------------------------------------------------


def continuing(sweep_dir: str | os.PathLike[str]) -> bool:
    """Whether this process runs jobs of a sweep continued by ``-m resume=`` (``RESUME_ENV``)."""
    named = os.environ.get(RESUME_ENV)
    return bool(named) and Path(sweep_dir).resolve() == Path(str(named))


def resumable(cfg: DictConfig) -> bool:
    """Whether a run of ``cfg`` continues from its checkpoint (else it starts over): not with
    cross-validation or the learning-rate finder (``lifecycle.resume.check_resume`` refuses them)."""
    return int(cfg.data.get("folds", 1) or 1) <= 1 and cfg.tune.name == "none"


def job_state(cfg: DictConfig, run_dir: Path) -> str:
    """``KEPT``, ``RESUME`` or ``FRESH``: what a continued sweep does with the job of ``cfg``
    in ``run_dir`` (see the module doc)."""
    run = RunDir(run_dir)
    if ended(run_dir):
        return KEPT
    if resumable(cfg) and (run.last_checkpoint.is_file() or _in_stack_file(run) is not None):
        return RESUME
    return FRESH


def ended(run_dir: Path) -> bool:
    """Whether the job in ``run_dir`` ended: its summary.json says so (one of ``ENDED``). A job
    that failed because a file could not be written (a full disk: the summary names the
    ``file``) or a rank of it stopped (``ranks``) did not end: it continues, as an interrupted one."""
    summary = RunDir(run_dir).read_json(RunDir.SUMMARY) or {}
    if summary.get("status") == "failed" and ("file" in summary or "ranks" in summary):
        return False
    return summary.get("status") in ENDED


def _in_stack_file(run: RunDir) -> Path | None:
    """The file of the stack the member in ``run`` was training in, where one was written."""
    from trainlab.training.stack.member_checkpoint import training_file  # torch: only in a job

    found = training_file(run.path)
    return None if found is None else found[0]


def clear_job(run_dir: Path) -> None:
    """Remove what a job that starts over left in ``run_dir``: everything but Hydra's files
    (``.hydra/``, its log) and other hidden files. It has no summary and no checkpoint to
    continue from, so nothing there is a result."""
    if not run_dir.is_dir():
        return
    for path in run_dir.iterdir():
        if path.name.startswith(".") or path.suffix == ".log":
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


@dataclass
class Continued:
    """How a job of a continued sweep goes on: ``kept`` as it ended (``value``: its monitored
    metric, as its task returned it), or trained with ``cfg`` and ``overrides`` (resuming
    from its checkpoint: ``resume=<its dir>`` among them; or from the start)."""

    kept: bool
    value: float | None = None
    cfg: DictConfig | None = None
    overrides: list[str] = field(default_factory=list)


def continued_job(cfg: DictConfig, run_dir: Path, overrides: Sequence[str], sweep_dir: Path) -> Continued | None:
    """For the job of ``cfg`` in ``run_dir`` (its ``overrides``): None unless the sweep in
    ``sweep_dir`` is being continued; else how it goes on (``job_state``), its directory
    cleared where it starts over."""
    if not continuing(sweep_dir):
        return None
    from trainlab.files.lock import Taken, writer_of

    pid = writer_of(run_dir)
    if pid is not None:  # the sweep it belongs to still runs it: never cleared or written here
        raise Taken(f"{run_dir} is being written by another trainlab process (pid {pid or '?'}); wait for it to end")
    state = job_state(cfg, run_dir)
    job = run_dir.name
    if state == KEPT:
        summary = RunDir(run_dir).read_json(RunDir.SUMMARY)
        log.info("job %s %s before the sweep stopped: kept as it is", job, summary["status"])
        return Continued(kept=True, value=_monitored(summary, cfg))
    if state == RESUME:
        log.info("job %s stopped while training: continued from its checkpoint", job)
        resumed = cfg.copy()
        with open_dict(resumed):
            resumed.resume = str(run_dir)
        return Continued(kept=False, cfg=resumed, overrides=[*overrides, f"resume={_quoted(str(run_dir))}"])
    clear_job(run_dir)
    log.info("job %s had not started (or kept nothing): run from the start", job)
    return Continued(kept=False, cfg=cfg, overrides=list(overrides))


def _monitored(summary: dict[str, Any], cfg: DictConfig) -> float | None:
    value = (summary.get("metrics") or {}).get(cfg.monitor)
    return value if isinstance(value, int | float) else None


def stacks_to_resume(state_dir: Path, states: Sequence[str]) -> list[tuple[list[int], Path]]:
    """What the stacked launcher continues as stacks from their own files: (the jobs, in the
    stack's row order; the directory of the file holding them) for each stack of ``state_dir``
    (its jobs listed there: ``STACK_JOBS``) whose every job is to ``RESUME`` (``states``, by job
    number): killed outright or by Ctrl-C while it trained, none of its members written since.
    A stack cut to fit its device, or split by its data sets' shapes, continues piece by piece,
    each from its own file; a stack whose pieces are not all written is left out (its members
    resume one by one, or start over)."""
    found: list[tuple[list[int], Path]] = []
    for stack_dir in sorted(state_dir.glob("jobs-*")) if state_dir.is_dir() else []:
        jobs = (RunDir(stack_dir).read_json(STACK_JOBS) or {}).get("jobs")
        if not jobs or any(not 0 <= job < len(states) or states[job] != RESUME for job in jobs):
            continue
        found += _files(stack_dir, [int(job) for job in jobs]) or []
    return found


def _files(directory: Path, jobs: list[int]) -> list[tuple[list[int], Path]] | None:
    """The files below ``directory`` holding the stack of ``jobs`` (in row order): its own
    last.ckpt, or its shape groups' (``shape-<k>/``) or pieces' (``members-<first>-<last>/``),
    each of which may be cut again; None where one of its members is in none."""
    from trainlab.training.stack.member_checkpoint import SHAPES, shape_dir  # torch: only in the launcher

    if (directory / "last.ckpt").is_file():
        return [(jobs, directory)]
    shapes = RunDir(directory).read_json(SHAPES)
    if shapes is not None:
        parts = [([jobs[m] for m in group], directory / shape_dir(k)) for k, group in enumerate(shapes["groups"])]
    else:
        bounds = sorted(([int(n) for n in piece.name.split("-")[1:]], piece) for piece in directory.glob("members-*-*"))
        parts = [(jobs[first : last + 1], piece) for (first, last), piece in bounds]
    if sorted(job for part, _ in parts for job in part) != sorted(jobs):
        return None
    found: list[tuple[list[int], Path]] = []
    for part, below in parts:
        files = _files(below, part)
        if files is None:
            return None
        found += files
    return found
