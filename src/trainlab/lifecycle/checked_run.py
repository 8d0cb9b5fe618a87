"""A composed config whose values have passed, trained: the checks only the data, Lightning or
the run directory can make; the learning-rate finder; one fit, or cross-validation's folds;
the submission; the summary (``trainlab.lifecycle.finish``).

Cross-validation (``data.folds`` = k > 1) trains its k folds as one stack
(``trainlab.lifecycle.folds``), each written in ``fold_<k>/``; a config whose folds the
stacked path cannot serve (``config.stackable.folds_unserved``: a scheduler, max_steps, a
precision other than 32, ...) trains them one after another (``fit``), as before. Then the
run's summary: each metric's mean and standard deviation over the folds, with the best fold's model.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from trainlab.config.hparams import hyperparameters
from trainlab.config.launch import RUN_DIR_ENV, launched_from_outside, launched_rank
from trainlab.config.stackable import folds_unserved
from trainlab.config.validate import check_monitor, check_processes
from trainlab.data import TabularData
from trainlab.errors import ConfigError, RankFailed, Stopped
from trainlab.files.rundir import RunDir
from trainlab.lifecycle.finish import finish
from trainlab.lifecycle.fit import Fit, fit
from trainlab.lifecycle.fold_outcome import run_outcome
from trainlab.lifecycle.folds import train_folds
from trainlab.lifecycle.member_resume import resume_member
from trainlab.lifecycle.result import RunResult
from trainlab.lifecycle.resume import check_resume, resuming_line
from trainlab.lifecycle.summary import print_summary, write_stop_summary
from trainlab.lifecycle.tune import LRFind, lr_find_and_report
from trainlab.predict import Predictor
from trainlab.training import build
from trainlab.training.losses import Loss, resolve_loss
from trainlab.training.payload import STACKED
from trainlab.training.quiet import quiet_lightning
from trainlab.training.threads import crowded

log = logging.getLogger(__name__)

# Cross-validation's folds as one stack where the stacked path serves the config; False (tests
# only): every fold trained alone, one after another, as before.
STACK_FOLDS = True


@dataclass
class Setup:
    """What ``trainlab.lifecycle.train.train`` hands over: the checked config, where it runs,
    each group's choice, the command line's overrides (and those overrides.yaml keeps), the
    console, whether the command line runs it, and the run to resume (its dir, its checkpoint)."""

    cfg: DictConfig
    run_dir: Path
    choices: dict[str, str]
    given: list[str]
    kept: list[str] | None
    console: Any
    script: bool
    target: tuple[Path, Path] | None


def run_checked(setup: Setup) -> RunResult:
    """Train ``setup``'s config in its run directory (see the module doc)."""
    cfg, out = setup.cfg, RunDir(setup.run_dir)
    writes = launched_rank() == 0  # global rank 0 writes the run's files; the other ranks only train
    if setup.target is None:
        if writes:
            out.refuse_existing()
    else:
        loaded = check_resume(cfg, out.path, setup.target[1], setup.given)
        if loaded and writes:  # where it continues from, before it trains
            log.info(resuming_line(cfg, setup.target[1], loaded))
        if STACKED in loaded:  # a stack's member, interrupted: it trains on as a stack of one
            return resume_member(cfg, out.path, setup.choices, setup.target[1], setup.kept or [], setup.console)
        if not loaded:  # stopped before it kept an epoch: it trains again from its first
            setup.target = None
            if writes:
                out.remove_stale_temporaries()
    quiet_lightning()
    processes = build.check_trainer(cfg)
    if processes > 1:
        _check_distributed(cfg, processes, setup.script, out.path)
    datasets = build.datasets(cfg)
    first = datasets[0]
    loss = resolve_loss(cfg.loss.name, first.task, first.n_classes)
    check_monitor(cfg, first.task)
    to_predict = build.submission_input(cfg, first)
    tuned = None
    if cfg.tune.name == "lr_find":
        tuned = lr_find_and_report(cfg, first, Loss(loss, first.task, *first.target_scale), out, setup.console)
        if not cfg.tune.apply:  # (one device: validate.check_processes)
            return _tuned(cfg, out, setup.kept, tuned)
    if writes:
        out.save_config(cfg, setup.kept)
    params = hyperparameters(cfg, setup.choices, loss, setup.kept or ())
    fits = _fits(cfg, datasets, loss, out, params, setup.target, writes)
    outcome = run_outcome(cfg, fits, first, loss, out.path, tuned)
    if to_predict is not None and writes:
        predictions = Predictor.from_checkpoint(outcome.best_checkpoint).predict(to_predict, source=str(cfg.data.test))
        outcome.submission = out.write_csv(out.SUBMISSION, predictions)
    (result,) = finish([outcome], writes)
    if writes:
        print_summary(out.read_json(out.SUMMARY), setup.console)
    return result


def _fits(
    cfg: DictConfig,
    datasets: list[TabularData],
    loss: str,
    out: RunDir,
    params: dict[str, Any],
    target: tuple[Path, Path] | None,
    writes: bool,
) -> list[Fit]:
    """One fit of the run, or one per cross-validation fold (in ``fold_<k>/``: see the module
    doc); a stopped run (diverged, interrupted, pruned) writes its summary.json and raises."""
    try:
        if len(datasets) == 1:
            return [fit(cfg, datasets[0], loss, out.path, params, target[1] if target else None)]
        unserved = folds_unserved(cfg) if STACK_FOLDS else "STACK_FOLDS is off"
        if unserved is None:
            return train_folds(cfg, datasets, out, params)
        log.info("data.folds=%d: the folds train one after another, not as a stack: %s", len(datasets), unserved)
        folds = enumerate(datasets, 1)
        return [fit(cfg, data, loss, out.fold(k).path, {**params, "fold": k}) for k, data in folds]
    except Stopped as stop:
        if writes or _survivor_writes(stop, out):
            write_stop_summary(out.path, stop, cfg.monitor, cfg.mode)
        raise


def _survivor_writes(stop: Stopped, out: RunDir) -> bool:
    """Whether this rank, not rank 0, writes the stopped run's summary: rank 0's process is
    gone, and it had not recorded a failure of its own first (a refused write, an error only
    it met: its summary.json names that, and the survivor leaves it)."""
    if not (isinstance(stop, RankFailed) and stop.rank_zero_ended):
        return False
    try:
        return (out.read_json(out.SUMMARY) or {}).get("status") != "failed"
    except ConfigError:  # damaged: rank 0 died writing it
        return True


def _tuned(cfg: DictConfig, out: RunDir, kept: list[str] | None, tuned: LRFind) -> RunResult:
    """A run of the learning-rate finder alone (``tune.apply=false``): its config and summary."""
    from torch import nn

    out.save_config(cfg, kept)
    out.write_json(out.SUMMARY, {"status": "tuned", "run_dir": str(out.path), "lr_find": tuned.as_dict()})
    return RunResult(metrics={}, history=[], model=nn.Identity(), run_dir=out.path, best_checkpoint=None)


def _check_distributed(cfg: DictConfig, processes: int, script: bool, run_dir: Path) -> None:
    """A run on several devices: refused where no launcher can start its other ranks; else
    rank 0 exports its run dir for them (``trainlab.training.distributed``)."""
    check_processes(cfg, processes)
    if not script and not launched_from_outside():
        devices = cfg.trainer.get("devices")
        raise ConfigError(
            f"trainer.devices={devices} trains in {processes} processes, which trainlab.run() cannot start "
            "from a Python session (Lightning would run this interpreter's command line again for each): "
            "run `python train.py trainer.devices=... trainer.strategy=ddp ...` instead, or launch your "
            "script with torchrun"
        )
    if launched_rank() == 0:
        os.environ[RUN_DIR_ENV] = str(run_dir)
        _warn_if_cores_are_shared(cfg, processes)


def _warn_if_cores_are_shared(cfg: DictConfig, processes: int) -> None:
    """One warning, from rank 0 before the other ranks start, where a run on the CPU starts more
    processes on this machine than it has cores (``threads.crowded``)."""
    import torch

    accelerator = str(cfg.trainer.get("accelerator", "auto"))
    if accelerator != "cpu" and (accelerator != "auto" or torch.cuda.is_available()):
        return
    devices = cfg.trainer.get("devices")
    shown = OmegaConf.to_container(devices) if OmegaConf.is_list(devices) else devices
    warning = crowded(processes // max(1, int(cfg.trainer.get("num_nodes") or 1)), shown)
    if warning is not None:
        log.warning(warning)
