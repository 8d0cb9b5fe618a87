"""``tune=lr_find``: Lightning's learning-rate range test, as a picture and a suggestion.

The test trains from the run's initial weights for ``num_training`` optimizer steps while
the learning rate grows from ``min_lr`` to ``max_lr`` (exponentially, or linearly), and
records the loss after each step; Lightning stops it early when its smoothed loss exceeds
``early_stop_threshold`` times the best (diverged). The weights go back to their initial
values afterwards.

The curve and the suggestion are trainlab's, from the raw step losses the module records:
the loss smoothed by an exponential moving average with bias correction,
s_t = m_t / (1 - beta^t) with m_t = beta m_{t-1} + (1 - beta) loss_t (beta = 0.98, t from 1),
and the suggested rate is where s falls fastest against log(lr), between the 10th step and
the minimum of s. (Lightning's own curve counts t from 2 here, which makes the first tens
of points rise from half the loss, and its suggestion takes the slope against lr itself, so
noise at the smallest rates outweighs the real descent.)
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.tuner import Tuner
from omegaconf import DictConfig
from rich.console import Console

from trainlab.data import TabularData
from trainlab.data.loader import Chunk
from trainlab.files.rundir import RunDir
from trainlab.internals import lr_finder_without_bar
from trainlab.pictures import figures
from trainlab.training import build
from trainlab.training.callbacks.pictures import log_image
from trainlab.training.losses import Loss
from trainlab.training.module import TrainingModule
from trainlab.training.progress import StepsBar

log = logging.getLogger(__name__)


@dataclass
class LRFind:
    """The range test's outcome: every (lr, smoothed loss) it tried, and the suggested lr
    (None when too few finite losses were recorded to take a slope)."""

    lrs: list[float]
    losses: list[float]  # smoothed
    suggestion: float | None
    min_lr: float
    max_lr: float
    plot: Path | None = None
    image: torch.Tensor | None = field(default=None, repr=False)  # the plot, uint8 [3, H, W]

    def as_dict(self) -> dict[str, float | int | str | None]:
        return {
            "suggested_lr": self.suggestion,
            "min_lr": self.min_lr,
            "max_lr": self.max_lr,
            "steps": len(self.lrs),
            "plot": str(self.plot) if self.plot else None,
        }


class RangeTest(TrainingModule):
    """The module of the range test: eager steps, one per Lightning step; each step's loss is
    returned (Lightning's finder reads it) and kept in ``step_losses``. Lightning's finder
    shows a tqdm bar of its own, whatever ``trainer.enable_progress_bar`` says: it is turned
    off, and ``bar`` (trainlab's, in the training bar's look), when given, counts the steps."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.step_losses: list[float] = []
        self.bar: StepsBar | None = None

    def on_train_start(self) -> None:
        super().on_train_start()
        lr_finder_without_bar(self.trainer)
        if self.bar is not None:
            self.bar.start()

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        super().on_train_batch_end(outputs, batch, batch_idx)
        if self.bar is not None:
            self.bar.advance()

    def training_step(self, batch: Chunk, batch_idx: int) -> torch.Tensor | None:
        super().training_step(batch, batch_idx)
        loss = self.steps.last_loss
        if loss is not None:
            self.step_losses.append(float(loss))
        return loss


def lr_find(cfg: DictConfig, data: TabularData, loss: Loss, out: RunDir, console: Any = None) -> LRFind:
    """Run the range test of ``cfg.tune`` on ``data``; write lr_find.png and lr_find.csv in ``out``.

    One optimizer step per Lightning step, eagerly (no CUDA graph: the lr changes every step).
    With ``trainer.enable_progress_bar``, a bar of its steps on ``console`` (Rich, as training's).
    """
    tune = cfg.tune
    L.seed_everything(cfg.seed, verbose=False)
    module = build.training_module(cfg, data, loss, module_class=RangeTest, cuda_graph=False, stops=False)
    assert isinstance(module, RangeTest)
    if cfg.trainer.get("enable_progress_bar", True):
        module.bar = StepsBar("lr_find", int(tune.num_training), console)
    datamodule = build.datamodule(cfg, data, steps_per_call=1)
    steps_per_epoch = math.ceil(len(data.x_train) / datamodule.batch_size)
    trainer = build.trainer(
        cfg,
        out.path,
        callbacks=[],
        max_epochs=math.ceil(tune.num_training / steps_per_epoch) + 1,
        min_epochs=None,
        max_steps=-1,
        max_time=None,
        enable_checkpointing=False,
        enable_progress_bar=False,
    )
    # The finder saves the initial state with trainer.save_checkpoint(path), leaving its
    # weights_only unset, and Lightning logs that it defaults to False (a full checkpoint:
    # what the finder restores from); no argument of lr_find sets it.
    connector_log = logging.getLogger("lightning.pytorch.trainer.connectors.checkpoint_connector")
    connector_log.addFilter(_drop_weights_only_default)
    try:
        finder = Tuner(trainer).lr_find(
            module,
            datamodule=datamodule,
            min_lr=float(tune.min_lr),
            max_lr=float(tune.max_lr),
            num_training=int(tune.num_training),
            mode=tune.mode,
            early_stop_threshold=tune.early_stop_threshold,
            update_attr=False,
        )
    finally:
        connector_log.removeFilter(_drop_weights_only_default)
        if module.bar is not None:
            module.bar.stop()
    assert finder is not None  # None only under fast_dev_run, which trainlab does not set
    n = min(len(finder.results["lr"]), len(module.step_losses))
    lrs, raw = [float(v) for v in finder.results["lr"][:n]], module.step_losses[:n]
    smoothed = smooth(raw)
    result = LRFind(lrs, smoothed, suggest(lrs, smoothed), float(tune.min_lr), float(tune.max_lr))
    fig = figures.lr_find_figure(lrs, raw, smoothed, result.suggestion, log_x=tune.mode == "exponential")
    result.plot = figures.save(fig, out / out.LR_FIND_PLOT)
    result.image = figures.to_image(fig)
    out.write_csv(out.LR_FIND_CSV, pd.DataFrame({"lr": lrs, "loss": raw, "smoothed_loss": smoothed}))
    return result


def _drop_weights_only_default(record: logging.LogRecord) -> bool:
    """False (drop) for Lightning's "`weights_only` was not set, defaulting to `False`." only."""
    return record.getMessage() != "`weights_only` was not set, defaulting to `False`."


def lr_find_and_report(cfg: DictConfig, data: TabularData, loss: Loss, out: RunDir, console: Any = None) -> LRFind:
    """``lr_find``, then the suggestion in TensorBoard (``tune/suggested_lr``, the plot as
    ``tune/lr_find``) and on the terminal; with ``tune.apply`` it becomes ``optimizer.lr``
    in ``cfg`` for the training that follows."""
    result = lr_find(cfg, data, loss, out, console)
    logger = build.logger(cfg, out.path)
    if isinstance(logger, TensorBoardLogger):
        log_image(logger.experiment, "tune/lr_find", result.image, 0)
        if result.suggestion is not None:
            logger.experiment.add_scalar("tune/suggested_lr", result.suggestion, global_step=0)
        logger.finalize("success")
    console = console or Console(soft_wrap=True)
    if result.suggestion is None:
        console.print(f"lr_find: no suggestion, only {len(result.losses)} steps ran; plot: {result.plot}")
        if cfg.tune.apply:
            log.warning("tune.apply=true, but no suggestion: training with optimizer.lr=%s", cfg.optimizer.lr)
        return result
    console.print(
        f"lr_find: suggested optimizer.lr={result.suggestion:.3g} "
        f"(searched {result.min_lr:g} to {result.max_lr:g} in {len(result.lrs)} steps); plot: {result.plot}"
    )
    if cfg.tune.apply:
        cfg.optimizer.lr = float(result.suggestion)
    return result


def smooth(losses: list[float], beta: float = 0.98) -> list[float]:
    """The bias-corrected exponential moving average s_t = m_t / (1 - beta^t), t = 1, 2, ..."""
    out, m = [], 0.0
    for t, loss in enumerate(losses, 1):
        m = beta * m + (1 - beta) * loss
        out.append(m / (1 - beta**t))
    return out


def suggest(lrs: list[float], smoothed: list[float], skip_begin: int = 10) -> float | None:
    """The lr where the smoothed loss falls fastest against log(lr), from step ``skip_begin``
    (fewer for short tests) up to the step of the lowest loss; None when fewer than 3 finite
    points lie there."""
    lr, loss = np.asarray(lrs, dtype=float), np.asarray(smoothed, dtype=float)
    finite = np.isfinite(loss) & (lr > 0)
    lr, loss = lr[finite], loss[finite]
    if len(loss) < 3:
        return None
    start = min(skip_begin, len(loss) // 10)
    end = int(np.argmin(loss)) + 1
    if end - start < 3:
        return None
    slope = np.gradient(loss[start:end], np.log(lr[start:end]))
    return float(lr[start + int(np.argmin(slope))])
