"""One model trained, restored to its best weights and tested: the whole run, or one fold; and
the fit and test that a stack's training shares with it (``fit_under_policy``, ``test_timed``)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Timer
from omegaconf import DictConfig
from torch import nn

from trainlab.config.launch import launched_rank
from trainlab.data import TabularData
from trainlab.files.rundir import RunDir
from trainlab.lifecycle.interrupts import stopping
from trainlab.pictures.report import save_input_pictures, save_test_pictures
from trainlab.training import build
from trainlab.training.callbacks.pictures import tensorboard_writer
from trainlab.training.loggers import log_final
from trainlab.training.losses import Loss
from trainlab.training.module import TrainingModule
from trainlab.training.records import EARLY_STOPPING, Record, Rules
from trainlab.training.threads import thread_policy

log = logging.getLogger(__name__)


@dataclass
class Fit:
    """One trained model: its final metrics (val of the best epoch, test of the best
    weights), history, the model holding the best weights, and how training went."""

    metrics: dict[str, float]
    history: list[dict[str, float]]
    model: nn.Module
    best_checkpoint: Path | None
    best_epoch: int | None
    stopped_by: str  # early stopping, max_epochs, max_steps or max_time
    device: str
    fit_seconds: float
    test_seconds: float
    pictures_seconds: float
    threads: int  # torch's CPU threads while training (trainlab.training.threads)
    optimizer_steps: int
    pictures: list[Path]


def fit(
    cfg: DictConfig,
    data: TabularData,
    loss_name: str,
    out_dir: Path,
    params: dict[str, Any],
    resume_from: Path | None = None,
) -> Fit:
    """Train one model on ``data`` in ``out_dir`` (from ``resume_from``, a checkpoint, when
    given), restore its best weights, test them, draw the pictures and log ``params`` with
    the final metrics. On several devices every rank trains, validates and tests alike
    (the same seed: the same initial weights and dropout draws); global rank 0 alone writes
    files (``trainlab.training.distributed``)."""
    writes = launched_rank() == 0
    L.seed_everything(cfg.seed, verbose=False)
    loss = Loss(loss_name, data.task, *data.target_scale)  # regression: this split's target scale
    module = build.training_module(cfg, data, loss)
    datamodule = build.datamodule(cfg, data)
    run_dir = RunDir(out_dir)
    if writes:
        run_dir.write_json(run_dir.PREPROCESSING, module.checkpoint_extra["preprocessing"])
    _warn_if_patience_too_long(module.records[0].rules)
    callbacks = build.callbacks(cfg, data, loss, out_dir)
    logger = build.logger(cfg, out_dir)
    trainer = build.trainer(cfg, out_dir, callbacks.all, logger)
    if resume_from is not None and writes:
        run_dir.remove_stale_temporaries()
    fit_seconds, threads = fit_under_policy(
        trainer, module, datamodule, out_dir, cfg.trainer.get("threads"), resume_from
    )
    record = module.records[0]
    metrics = best_val(record)
    with stopping(trainer, module, out_dir, training=False):
        test_seconds = test_timed(trainer, module, datamodule) if len(data.x_test) else 0.0
        metrics |= module.test_values[0] if module.test_values else {}
        module.model.eval()
        start = time.perf_counter()
        pictures = _pictures(cfg, module, loss, data, out_dir, trainer) if writes else []
        pictures_seconds = time.perf_counter() - start
    log_final(logger, params, metrics)
    best = Path(callbacks.best.best_model_path) if callbacks.best.best_model_path else None
    return Fit(
        metrics=metrics,
        history=record.history,
        model=module.model,
        best_checkpoint=best,
        best_epoch=record.best_epoch,
        stopped_by=stopped_by(trainer, record.stopped_by),
        device=str(trainer.strategy.root_device),
        fit_seconds=fit_seconds,
        test_seconds=test_seconds,
        pictures_seconds=pictures_seconds,
        threads=threads,
        optimizer_steps=trainer.global_step,
        pictures=pictures,
    )


def _warn_if_patience_too_long(rules: Rules) -> None:
    if rules.patience is not None and rules.patience >= rules.max_epochs:
        log.warning(
            "regularization.early_stopping.patience=%d >= trainer.max_epochs=%d: early stopping cannot fire",
            rules.patience,
            rules.max_epochs,
        )


def fit_under_policy(
    trainer: L.Trainer,
    module: TrainingModule,
    datamodule: L.LightningDataModule,
    out_dir: Path,
    threads: int | None,
    resume_from: Path | None = None,
) -> tuple[float, int]:
    """``trainer.fit`` (from the checkpoint ``resume_from``) under the thread policy
    (``trainlab.training.threads``; ``threads``: ``trainer.threads``), Ctrl-C as ``Interrupted``
    naming ``out_dir``: (its wall seconds, the threads torch used)."""
    n_params = sum(p.numel() for p in module.model.parameters())
    device_type = trainer.strategy.root_device.type
    start = time.perf_counter()
    policy = thread_policy(threads, n_params, datamodule.batch_size, device_type)
    with policy as used, stopping(trainer, module, out_dir, training=True):
        trainer.fit(module, datamodule=datamodule, ckpt_path=str(resume_from) if resume_from else None)
    return time.perf_counter() - start, used


def test_timed(trainer: L.Trainer, module: TrainingModule, datamodule: L.LightningDataModule) -> float:
    """Lightning's test loop on the module's best weights (``module.test_values``): its seconds."""
    start = time.perf_counter()
    trainer.test(module, datamodule=datamodule, verbose=False)
    return time.perf_counter() - start


def _pictures(
    cfg: DictConfig, module: TrainingModule, loss: Loss, data: TabularData, out_dir: Path, trainer: L.Trainer
) -> list[Path]:
    """The pictures of the best weights, when ``pictures.enabled`` (``trainlab.pictures.report``)."""
    if not cfg.pictures.enabled:
        return []
    model, epochs = module.model, len(module.history)
    best = module.records[0].best_epoch
    found = save_input_pictures(model, loss, data, out_dir, cfg.pictures.size, cfg.pictures.neurons, epoch=best)
    return found + save_test_pictures(model, loss, data, out_dir, tensorboard_writer(trainer), epochs)


def best_val(record: Record) -> dict[str, float]:
    """The val metrics of a member's best epoch ({} without one)."""
    if record.best_epoch is None:
        return {}
    return {k: v for k, v in record.history[record.best_epoch - 1].items() if k.startswith("val/")}


def stopped_by(trainer: L.Trainer, recorded: str | None) -> str:
    """What ended a finished fit: early stopping (the member's record), max_steps, max_time or max_epochs."""
    if recorded == EARLY_STOPPING:
        return EARLY_STOPPING
    if trainer.max_steps >= 0 and trainer.global_step >= trainer.max_steps:
        return "max_steps"
    timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
    if timer is not None and timer.time_remaining() is not None and timer.time_remaining() <= 0:
        return "max_time"
    return "max_epochs"
