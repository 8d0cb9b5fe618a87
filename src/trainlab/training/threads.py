"""The thread policy: how many threads torch's CPU operators use while a model trains.

A small model's step is a few tiny matrix products: splitting each over threads gains
nothing on a quiet machine and costs a lot on a busy one (the default run's fit took 3.6x
as long with one of two cores busy, and no longer with one thread). So, training on the
CPU, trainlab uses one thread when the model's parameters times the batch size (the work of
one step, in multiply-adds) is below ``SMALL_STEP``, and leaves torch's own choice (one per
core) above it. ``trainer.threads`` sets the count instead; so do the usual environment
variables (``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``), which trainlab then leaves alone.
Training on a GPU leaves the CPU threads alone. A sweep job that a parallel launcher runs
beside others (joblib, submitit) gets its share of the cores at most, so jobs don't fight.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

log = logging.getLogger(__name__)

# Measured on the 2-core CPU (2026-11-27, 3-layer MLPs, Adam): one thread ties or wins up to
# about 2.5M multiply-adds a step, two threads win by under 15% up to about 20M, by 30% at 86M.
SMALL_STEP = 2**24
ENVIRONMENT = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def choose(setting: int | None, n_params: int, batch_size: int, device_type: str) -> tuple[int | None, str]:
    """The thread count for training (None: leave torch's) and why, in words for the log.

    Order: ``trainer.threads``; then a parallel launcher's share of the cores (``share``),
    which caps what the rules below would give; then the environment variables; then the
    device and the size of a step."""
    if setting is not None:
        return setting, f"trainer.threads={setting}"
    given = share()
    if given is not None and device_type == "cpu":
        threads, why = given
        small = n_params * batch_size < SMALL_STEP
        return (1, f"{why}; a small model uses 1") if small else (threads, why)
    for name in ENVIRONMENT:
        if os.environ.get(name):
            return None, f"{name}={os.environ[name]} is set"
    if device_type != "cpu":
        return None, f"training on {device_type}"
    work = n_params * batch_size
    if work < SMALL_STEP:
        return 1, f"a small model: {n_params:,} parameters x batch {batch_size} < 2^24 a step"
    return None, f"{n_params:,} parameters x batch {batch_size} >= 2^24 a step"


def share() -> tuple[int, str] | None:
    """This job's share of the CPU cores when a launcher runs sweep jobs side by side, and why:
    ``hydra/launcher=joblib`` runs ``n_jobs`` at once on this machine's cores (-1: one per core,
    -2: all but one, as joblib counts), ``hydra/launcher=submitit_*`` gives each job
    ``cpus_per_task``. None outside such a job (one run, the basic or stacked launcher)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    launcher = HydraConfig.get().get("launcher") or {}
    target = str(launcher.get("_target_", ""))
    cores = usable_cores()
    if target.endswith("JoblibLauncher"):
        n_jobs = int(launcher.get("n_jobs") or 1)
        at_once = max(1, cores + 1 + n_jobs) if n_jobs < 0 else n_jobs
        return max(1, cores // at_once), f"joblib runs {at_once} jobs at once on {cores} cores"
    if "submitit" in target and launcher.get("cpus_per_task"):
        cpus = int(launcher.cpus_per_task)
        return cpus, f"hydra.launcher.cpus_per_task={cpus}"
    return None


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity where the system says, else all)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def crowded(processes: int, devices: object) -> str | None:
    """The warning for a run on the CPU in more ``processes`` on this machine (``trainer.devices=devices``)
    than it has cores, or None: they share the cores, each waiting for the others."""
    cores = usable_cores()
    if processes <= cores:
        return None
    return (
        f"trainer.devices={devices} on the CPU: {processes} training processes share {cores} "
        f"core{'s' if cores > 1 else ''}, so they take turns and each trains slower than alone; "
        f"trainer.devices={cores} runs one process per core"
    )


@contextmanager
def thread_policy(setting: int | None, n_params: int, batch_size: int, device_type: str) -> Iterator[int]:
    """Within the block, torch uses the count ``choose`` gives; the previous count after.
    Yields the count in use."""
    before = torch.get_num_threads()
    threads, why = choose(setting, n_params, batch_size, device_type)
    if threads is not None:
        torch.set_num_threads(threads)
    hint = "" if setting is not None else "; trainer.threads sets it"
    log.info("CPU threads: %d (%s%s)", torch.get_num_threads(), why, hint)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
