"""Per-epoch values to the progress bar and the loggers, without ``self.log``.

trainlab's metrics are plain floats once per epoch. Lightning's ``self.log`` would keep a
result object per key, move it between devices at every call and again at every epoch end,
and flush every logger twice per epoch: measured on the 2-core CPU, that is several
milliseconds per epoch, the whole epoch's training of a small model on a GPU. So the values
go straight where Lightning's logging would put them (``trainlab.internals``):

- the progress bar's metrics;
- each logger's ``log_metrics``, at step = the epoch (counted from 1, as in ``history`` and
  the pictures), or at step = the optimizer step for per-step values.

Loggers are saved (flushed to disk) at most every ``save_every`` seconds; Lightning saves them
once more when training ends. (Callbacks read a run's values from its module: its records.)
"""

from __future__ import annotations

import time

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger

from trainlab.internals import (
    add_scalar_summaries,
    publish_to_progress_bar,
)

# Validation values the progress bar shows, beside the training loss and metric.
PROGRESS = ("val/loss", "val/acc", "val/mae")


class Reporter:
    """Hands one run's values to its trainer's progress bar and loggers."""

    def __init__(self, save_every: float = 2.0) -> None:
        self.save_every = save_every
        self._saved_at = time.monotonic()

    def epoch(
        self,
        trainer: L.Trainer,
        train: dict[str, float],
        val: dict[str, float],
        lr: float,
        epoch: int,
        step_losses: list[tuple[int, float]],
    ) -> None:
        """A finished training epoch: the main values to the progress bar; ``train``, ``val`` and
        ``lr`` to the loggers at step = ``epoch``; each (optimizer step, loss) of ``step_losses``
        as ``train/loss_step`` at its step."""
        values = {**train, **val}
        publish_to_progress_bar(trainer, {**train, **{k: v for k, v in val.items() if k in PROGRESS}})
        values["lr"] = lr
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):  # one event per step, not one per value
                add_scalar_summaries(logger.experiment, values, epoch)
                for step, loss in step_losses:
                    add_scalar_summaries(logger.experiment, {"train/loss_step": loss}, step)
                continue
            logger.log_metrics(values, step=epoch)
            for step, loss in step_losses:
                logger.log_metrics({"train/loss_step": loss}, step=step)
        self._maybe_save(trainer)

    def test(self, trainer: L.Trainer, values: dict[str, float], step: int) -> None:
        """Test values, in the loggers at ``step`` (the last epoch trained)."""
        for logger in trainer.loggers:
            logger.log_metrics(values, step=step)
        self._maybe_save(trainer)

    def _maybe_save(self, trainer: L.Trainer) -> None:
        now = time.monotonic()
        if now - self._saved_at >= self.save_every:
            for logger in trainer.loggers:
                logger.save()
            self._saved_at = now
