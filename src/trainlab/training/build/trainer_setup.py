"""Config to the Lightning Trainer, its callbacks and its logger."""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.loggers import CSVLogger, Logger
from omegaconf import DictConfig, OmegaConf

from trainlab.config.validate import check_processes
from trainlab.data import TabularData
from trainlab.errors import ConfigError
from trainlab.files.checkpoints import AtomicCheckpointIO, BackgroundCheckpointIO
from trainlab.files.rundir import RunDir
from trainlab.training import ddp
from trainlab.training.callbacks import BestCheckpoint, LastCheckpoint
from trainlab.training.callbacks.pictures import Histograms, Pictures
from trainlab.training.callbacks.pruning import optuna_pruning, stack_pruning
from trainlab.training.loggers import TensorBoard
from trainlab.training.losses import Loss
from trainlab.training.model_summary import CourseModelSummary
from trainlab.training.progress import CourseProgressBar


@dataclass
class Callbacks:
    """A fit's callbacks (``all``, in order), with the ones whose state the run reads afterwards."""

    all: list[L.Callback]
    best: BestCheckpoint  # best.ckpt
    last: LastCheckpoint  # last.ckpt


def callbacks(cfg: DictConfig, data: TabularData, loss: Loss, out_dir: Path) -> Callbacks:
    """best.ckpt (the module's best epoch) and last.ckpt, the pictures, an Optuna trial's
    pruning, and Rich's progress bar and model summary when enabled (in the course's units:
    ``trainlab.training.progress``)."""
    checkpoint_dir = RunDir(out_dir).checkpoints
    best = BestCheckpoint(checkpoint_dir)
    last = last_checkpoint(cfg, checkpoint_dir)
    # Checkpoints act in this order after each epoch (Lightning runs them after the other
    # callbacks and after the module, which records the epoch first).
    result: list[L.Callback] = [best, last]
    result += picture_callbacks(cfg, data, loss)
    result += optuna_pruning(cfg)  # an Optuna trial's job: report each epoch, stop when pruned
    result += progress_callbacks(cfg)
    return Callbacks(result, best, last)


def last_checkpoint(cfg: DictConfig, checkpoint_dir: Path) -> LastCheckpoint:
    """last.ckpt in ``checkpoint_dir``, every ``speed.last_checkpoint_seconds``."""
    # Lightning warns when a checkpoint directory holds files: in trainlab only a resumed run's
    # does (a new run refuses a used directory), and those checkpoints are what it resumes from.
    pattern = rf"Checkpoint directory {re.escape(str(checkpoint_dir))} exists and is not empty\.$"
    warnings.filterwarnings("ignore", message=pattern, category=UserWarning)
    return LastCheckpoint(str(checkpoint_dir), cfg.speed.last_checkpoint_seconds)


def progress_callbacks(cfg: DictConfig) -> list[L.Callback]:
    """Rich's progress bar and model summary, when enabled."""
    found: list[L.Callback] = []
    if cfg.trainer.get("enable_progress_bar", True):
        found.append(CourseProgressBar())
    if cfg.trainer.get("enable_model_summary", True):
        found.append(CourseModelSummary())
    return found


def stack_callbacks(cfgs: DictConfig | Sequence[DictConfig], checkpoint_dir: Path | None) -> list[L.Callback]:
    """A stack's callbacks: the progress bar as configured, the pruning of its members that are
    Optuna trials (``cfgs``: every member's config, in member order; given one config, the
    first's, nothing is pruned), then its last.ckpt in ``checkpoint_dir`` (when given), which
    thus holds each epoch's pruning. Each member's run directory is written afterwards: no
    logger, no pictures."""
    members = [cfgs] if isinstance(cfgs, DictConfig) else list(cfgs)
    cfg = members[0]
    found: list[L.Callback] = [CourseProgressBar()] if cfg.trainer.enable_progress_bar else []
    found += [] if isinstance(cfgs, DictConfig) else stack_pruning(members)
    return found + ([last_checkpoint(cfg, checkpoint_dir)] if checkpoint_dir is not None else [])


def pictures_every(cfg: DictConfig) -> int:
    """Epochs between TensorBoard pictures: ``pictures.every_n_epochs``, or for null about
    five per run (max_epochs // 5); 0 when pictures are off."""
    if not cfg.pictures.enabled:
        return 0
    every = cfg.pictures.every_n_epochs
    return max(1, cfg.trainer.max_epochs // 5) if every is None else int(every)


def picture_callbacks(cfg: DictConfig, data: TabularData, loss: Loss) -> list[L.Callback]:
    """Pictures (for 1- or 2-D inputs) and histograms every ``pictures_every`` epochs."""
    every = pictures_every(cfg)
    if every == 0:
        return []
    result: list[L.Callback] = []
    if data.n_features == 2 or (data.n_features == 1 and data.task == "regression"):
        y = loss.targets(data.y_train)
        pictures = cfg.pictures
        result.append(Pictures(data.x_train, y, data.task, loss.scores, every, pictures.size, pictures.neurons))
    if cfg.pictures.histograms:
        result.append(Histograms(every))
    return result


def logger(cfg: DictConfig, out_dir: Path) -> Logger | None:
    """TensorBoard event files in ``out_dir`` (no hparams.yaml: see ``trainlab.training.loggers.TensorBoard``),
    or ``out_dir/csv/metrics.csv``; None for ``logger=none``."""
    if cfg.logger.name == "tensorboard":
        return TensorBoard(save_dir=str(out_dir), name="", version="", default_hp_metric=False)
    if cfg.logger.name == "csv":
        return CSVLogger(save_dir=str(out_dir), name="csv", version="")
    return None


def trainer(
    cfg: DictConfig, out_dir: Path, callbacks: list[L.Callback], logger: Any = None, **overrides: Any
) -> L.Trainer:
    """The Lightning Trainer of ``cfg.trainer`` (``overrides`` replace its arguments), writing
    checkpoints atomically, from a background thread unless ``speed.async_checkpoint=false``."""
    args = OmegaConf.to_container(cfg.trainer, resolve=True)
    # The model summary, when enabled, is Rich's (a callback), not Lightning's default table.
    args["enable_model_summary"] = False
    # Manual optimization: the step unit clips gradients itself; the module validates itself.
    # trainer.threads is trainlab's thread policy (trainlab.training.threads), not a Trainer argument.
    for key in ("gradient_clip_val", "check_val_every_n_epoch", "limit_val_batches", "num_sanity_val_steps", "threads"):
        args.pop(key, None)
    args |= overrides
    args["strategy"] = ddp.strategy(args, cfg.distributed.timeout)  # DDP: distributed.timeout, a stopped rank
    # A stack steps an optimizer of its own (trainlab.training.stack.stack_steps): Lightning has none.
    warnings.filterwarnings("ignore", message=".*configure_optimizers.*returned `None`")
    speed = cfg.speed
    # Every save of last.ckpt is written when it is asked for every epoch; else a newer save
    # may replace a queued one (see BackgroundCheckpointIO).
    io = (
        BackgroundCheckpointIO(coalesce=speed.last_checkpoint_seconds > 0, held=(RunDir.BEST_CKPT,))
        if speed.async_checkpoint
        else None
    )
    return L.Trainer(
        **args,
        logger=logger or False,
        callbacks=callbacks,
        plugins=[io or AtomicCheckpointIO()],
        default_root_dir=str(out_dir),
        # On several devices trainlab's loaders serve every rank the same global mini-batches
        # (each rank takes its slice: data.loader.Chunk) and the whole val/test split.
        use_distributed_sampler=False,
    )


def check_trainer(cfg: DictConfig) -> int:
    """ConfigError, before anything is written, for Trainer arguments Lightning refuses
    (a throwaway Trainer is built from them, quietly: the fit's Trainer says the same).
    Returns the number of processes the run trains in (devices times nodes: Lightning's
    count, ``trainer.devices=auto`` resolved)."""
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    level = rank_zero.level
    rank_zero.setLevel(logging.WARNING)
    try:
        probe = trainer(cfg, Path("."), [], enable_checkpointing=False, enable_progress_bar=False)
    except (MisconfigurationException, ValueError, TypeError, RuntimeError, ImportError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"trainer: Lightning refuses these Trainer arguments: {first}") from None
    finally:
        rank_zero.setLevel(level)
    count = probe.num_devices * probe.num_nodes
    check_processes(cfg, count)  # trainer.devices=auto on a machine with several GPUs: known only now
    return count
