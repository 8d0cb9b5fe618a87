"""One model trained, restored to its best weights and tested: the whole run, or one fold."""

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
    callbacks = build.callbacks(cfg, data, loss, out_dir)
    if callbacks.early is not None and callbacks.early.patience >= cfg.trainer.max_epochs:
        log.warning(
            "regularization.early_stopping.patience=%d >= trainer.max_epochs=%d: early stopping cannot fire",
            callbacks.early.patience,
            cfg.trainer.max_epochs,
        )
    logger = build.logger(cfg, out_dir)
    trainer = build.trainer(cfg, out_dir, callbacks.all, logger)
    if resume_from is not None and writes:
        run_dir.remove_stale_temporaries()
    n_params = sum(p.numel() for p in module.model.parameters())
    device_type = trainer.strategy.root_device.type
    start = time.perf_counter()
    policy = thread_policy(cfg.trainer.get("threads"), n_params, datamodule.batch_size, device_type)
    with policy as threads, stopping(trainer, module, out_dir, training=True):
        trainer.fit(module, datamodule=datamodule, ckpt_path=str(resume_from) if resume_from else None)
    fit_seconds = time.perf_counter() - start

    history, best_epoch = module.history, callbacks.restore.best_epoch
    metrics = {k: v for k, v in history[best_epoch - 1].items() if k.startswith("val/")} if best_epoch else {}
    pictures = []
    model = module.model
    with stopping(trainer, module, out_dir, training=False):
        start = time.perf_counter()
        if len(data.x_test):
            trainer.test(module, datamodule=datamodule, verbose=False)
            metrics |= module.test_values
        test_seconds = time.perf_counter() - start
        model.eval()
        if cfg.pictures.enabled and writes:
            pictures += save_input_pictures(
                model, loss, data, out_dir, cfg.pictures.size, cfg.pictures.neurons, epoch=best_epoch
            )
            pictures += save_test_pictures(model, loss, data, out_dir, tensorboard_writer(trainer), len(history))
        pictures_seconds = time.perf_counter() - start - test_seconds
    log_final(logger, params, metrics)
    best = Path(callbacks.best.best_model_path) if callbacks.best.best_model_path else None
    return Fit(
        metrics=metrics,
        history=history,
        model=model,
        best_checkpoint=best,
        best_epoch=best_epoch,
        stopped_by=stopped_by(trainer, callbacks.early),
        device=str(trainer.strategy.root_device),
        fit_seconds=fit_seconds,
        test_seconds=test_seconds,
        pictures_seconds=pictures_seconds,
        threads=threads,
        optimizer_steps=trainer.global_step,
        pictures=pictures,
    )


def stopped_by(trainer: L.Trainer, early: Any) -> str:
    """What ended a finished fit: early stopping, max_steps, max_time or max_epochs."""
    if early is not None and early.stopped_epoch > 0:
        return "early stopping"
    if trainer.max_steps >= 0 and trainer.global_step >= trainer.max_steps:
        return "max_steps"
    timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
    if timer is not None and timer.time_remaining() is not None and timer.time_remaining() <= 0:
        return "max_time"
    return "max_epochs"
