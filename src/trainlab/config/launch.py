"""Where a run writes, as the command line and the launcher's environment decide it, before
anything heavy is imported: conf/train.yaml's resolvers for ``hydra.run.dir`` and
``hydra.sweep.dir``, and this process's rank among several (torch-free).

- **A fresh directory** per run: ``outputs/<date>/<time>`` (``unique_dir``), or the run to
  resume (``resume=``, ``ckpt_path=``).
- **One directory for every rank** of a run on several devices (``trainlab.training.distributed``):
  rank 0 decides it and exports it as ``TRAINLAB_RUN_DIR`` before Lightning starts the other
  ranks, which inherit it; where every rank starts from outside, the name a launcher gives
  every rank alike (``launcher_dir``): under torchrun ``outputs/torchrun-<TORCHELASTIC_RUN_ID>``
  (``torchrun --standalone`` draws one; multi-node launches name it with ``--rdzv-id``), under
  SLURM ``outputs/slurm-<job id>-<step id>``. Without one (torchrun's default run id ``none``),
  give ``hydra.run.dir=``.
- **One sweep directory for every worker** of a parallel launcher (joblib, submitit): the
  sweep's process names it in ``TRAINLAB_SWEEP_DIR`` (``trainlab.sweeps.tables.SweepSummary``).
- **Hydra's own files by rank 0 alone**: ``.hydra/`` (``hydra.output_subdir``) and the log file
  (conf/hydra/job_logging/trainlab.yaml) are rank 0's; the other ranks, which run Hydra too
  (torchrun's; the processes Lightning starts, with their ``train_ddp_process_<r>`` job name),
  write neither.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from trainlab.files.rundir import RunDir

RUN_DIR_ENV = "TRAINLAB_RUN_DIR"  # rank 0's run dir, for the ranks Lightning starts
SWEEP_DIR_ENV = "TRAINLAB_SWEEP_DIR"  # the sweep's dir, for a parallel launcher's workers
_RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")


def launched_rank() -> int:
    """This process's rank as its launcher's environment says it before any process group
    exists: 0 for a plain ``python train.py`` (rank 0 starts the others), else a value > 0
    for any process that is not global rank 0 (a Lightning child, a torchrun or SLURM rank)."""
    return max((int(os.environ[k]) for k in _RANK_VARIABLES if os.environ.get(k, "").isdigit()), default=0)


def launched_from_outside() -> bool:
    """Whether a launcher started this process as one rank of several (torchrun, SLURM, a
    Lightning child): Lightning then starts no process of its own."""
    if "LOCAL_RANK" in os.environ or "TORCHELASTIC_RUN_ID" in os.environ:
        return True
    return int(os.environ.get("WORLD_SIZE", "1") or 1) > 1


def launcher_dir(root: str) -> str | None:
    """The run dir every rank started from outside names alike: ``root/torchrun-<run id>``
    under torchrun with a run id, ``root/slurm-<job id>-<step id>`` for a SLURM job step of
    several tasks (``srun``); else None (see the module doc)."""
    run_id = os.environ.get("TORCHELASTIC_RUN_ID", "")
    if run_id and run_id != "none":
        return os.path.join(root, f"torchrun-{run_id}")
    # An srun job step of several tasks (not the allocation's size: a batch script's plain
    # `python train.py` runs alone, and each of several such runs needs a directory of its own).
    job, tasks = os.environ.get("SLURM_JOB_ID"), os.environ.get("SLURM_STEP_NUM_TASKS", "1")
    if job and tasks.isdigit() and int(tasks) > 1:
        return os.path.join(root, f"slurm-{job}-{os.environ.get('SLURM_STEP_ID', '0')}")
    return None


def unique_dir(root: Path, now: dt.datetime | None = None) -> Path:
    """``root/<date>/<time>``, with ``-1``, ``-2``, ... appended while that already exists."""
    now = now or dt.datetime.now()
    base = root / now.strftime("%Y-%m-%d") / now.strftime("%H-%M-%S")
    path, n = base, 1
    while path.exists():
        path, n = base.with_name(f"{base.name}-{n}"), n + 1
    return path


@functools.cache
def _fresh(root: str) -> str:
    # Cached: Hydra may resolve its output dir more than once in a process.
    return str(unique_dir(Path(root)))


def run_dir_of_checkpoint(path: Path) -> Path:
    """The run directory of a checkpoint file in ``<run dir>/checkpoints/``."""
    return path.parent.parent if path.parent.name == RunDir.CHECKPOINTS else path.parent


def hydra_run_dir(resume: Any, ckpt_path: Any, root: str = "outputs") -> str:
    """Resolver behind ``hydra.run.dir``: rank 0's exported dir, else the run to resume, else
    the launcher's shared name, else a fresh ``root/<date>/<time>`` (see the module doc)."""
    if os.environ.get(RUN_DIR_ENV):
        return os.environ[RUN_DIR_ENV]
    if resume:
        return str(resume)
    if ckpt_path:
        return str(run_dir_of_checkpoint(Path(str(ckpt_path))))
    return launcher_dir(root) or _fresh(root)


def hydra_sweep_dir(root: str) -> str:
    """Resolver behind ``hydra.sweep.dir``: a fresh ``root/<date>/<time>``, or, in a launcher's
    worker process (joblib, submitit), the sweep's own (``SWEEP_DIR_ENV``), since each worker
    resolves Hydra's config again and would otherwise make a directory of its own."""
    return os.environ.get(SWEEP_DIR_ENV) or _fresh(root)


def rank_zero(value: Any) -> Any:
    """Resolver behind ``hydra.output_subdir``: ``value`` in global rank 0, None (nothing
    written) in the other ranks of a run on several devices."""
    return value if launched_rank() == 0 else None


def rank_zero_log(path: str) -> str:
    """Resolver behind the job log's file name: ``path`` in global rank 0, the null device in
    the other ranks (which log to the console only)."""
    return path if launched_rank() == 0 else os.devnull


def register_resolvers() -> None:
    """``${trainlab_run_dir:${resume},${ckpt_path}}``, ``${trainlab_sweep_dir:root}``,
    ``${trainlab_rank_zero:value}`` and ``${trainlab_rank_zero_log:path}`` for conf/."""
    resolvers = {
        "trainlab_run_dir": hydra_run_dir,
        "trainlab_sweep_dir": hydra_sweep_dir,
        "trainlab_rank_zero": rank_zero,
        "trainlab_rank_zero_log": rank_zero_log,
    }
    for name, resolver in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, resolver)
