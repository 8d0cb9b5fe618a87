"""The thread policy: how many threads torch's CPU operators use while a model trains.

A small model's step is a few tiny matrix products: splitting each over threads gains
nothing on a quiet machine and costs a lot on a busy one (the default run's fit took 3.6x
as long with one of two cores busy, and no longer with one thread). So, training on the
CPU, trainlab uses one thread when the model's parameters times the batch size (the work of
one step, in multiply-adds) is below ``SMALL_STEP``, and leaves torch's own choice (one per
core) above it. ``trainer.threads`` sets the count instead; so do the usual environment
variables (``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``), which trainlab then leaves alone.
Training on a GPU leaves the CPU threads alone.
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
    """The thread count for training (None: leave torch's) and why, in words for the log."""
    if setting is not None:
        return setting, f"trainer.threads={setting}"
    for name in ENVIRONMENT:
        if os.environ.get(name):
            return None, f"{name}={os.environ[name]} is set"
    if device_type != "cpu":
        return None, f"training on {device_type}"
    work = n_params * batch_size
    if work < SMALL_STEP:
        return 1, f"a small model: {n_params:,} parameters x batch {batch_size} < 2^24 a step"
    return None, f"{n_params:,} parameters x batch {batch_size} >= 2^24 a step"


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
