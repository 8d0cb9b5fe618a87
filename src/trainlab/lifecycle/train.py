"""One composed config trained, from its checks to its finished run directory.

Every check (config values, data files and columns, loss against task, monitored metric,
Trainer arguments, the run to resume or a fresh directory) runs before the run directory is
written or anything trains. Lightning is imported only after the config values have passed
(``trainlab.lifecycle.checked_run``, where the run trains), so a bad value is refused at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from trainlab.config.composing import compose
from trainlab.config.launch import launched_rank
from trainlab.config.validate import validate
from trainlab.errors import WriteFailed, write_failure
from trainlab.files.lock import sole_writer
from trainlab.internals import tensorboard_file_of
from trainlab.lifecycle.result import RunResult
from trainlab.lifecycle.resume import kept_overrides, resume_overrides, resume_target
from trainlab.lifecycle.summary import write_failed_summary


def train(
    cfg: DictConfig,
    run_dir: Path,
    choices: dict[str, str] | None = None,
    console: Any = None,
    overrides: Sequence[str] | None = None,
    script: bool = False,
) -> RunResult:
    """Check, train, restore the best weights, test and summarise one composed config in
    ``run_dir`` (see the module doc). With ``resume``/``ckpt_path`` the run continues from
    its checkpoint in ``run_dir``: given ``overrides`` (the command line's), the config is
    composed again from the run's own overrides.yaml followed by them, so ``resume=<dir>``
    alone suffices. A diverged or interrupted run raises ``Diverged`` or ``Interrupted``
    after writing its summary.json.

    Several devices (Lightning's DDP, ``trainlab.training.distributed``): ``script`` says the caller
    is the command line (``python train.py``), whose command Lightning runs again for the
    other ranks; elsewhere (a notebook, pytest) only a run whose ranks a launcher started
    (torchrun, SLURM) may train on several devices. Only global rank 0 writes the run's
    files and prints; every rank returns the same result.
    """
    given = list(overrides) if overrides is not None else None
    target = resume_target(cfg)
    if target is not None and given is not None:
        given = resume_overrides(target[0], given)
        cfg, choices = compose(given)
    validate(cfg)
    from trainlab.lifecycle.checked_run import Setup, run_checked  # imports Lightning: the config has passed

    kept = kept_overrides(given) if given is not None else None
    setup = Setup(cfg, run_dir, choices or {}, list(overrides or []), kept, console, script, target)
    # Global rank 0 writes the run's files: it holds the directory's lock (one writer at a time).
    with sole_writer(run_dir) if launched_rank() == 0 else contextlib.nullcontext():
        try:
            return run_checked(setup)
        except OSError as error:
            failure = write_failure(error)
            if failure is None:
                raise
            if failure.path is None:  # TensorBoard's event writer names no file
                failure = WriteFailed(tensorboard_file_of(error) or run_dir, error)
            if launched_rank() == 0:
                write_failed_summary(run_dir, failure)
            raise failure from None
