"""Per-epoch values to Lightning's callbacks, the progress bar and the loggers, without ``self.log``.

trainlab's metrics are plain floats once per epoch. Lightning's ``self.log`` would keep a
result object per key, move it between devices at every call and again at every epoch end,
and flush every logger twice per epoch: measured on the 2-core CPU, that is several
milliseconds per epoch, the whole epoch's training of a small model on a GPU. So the values
go straight where Lightning's logging would put them:

- ``trainer.callback_metrics``, which ModelCheckpoint, EarlyStopping and RestoreBestWeights read;
- ``trainer.progress_bar_metrics``, which the progress bar shows;
- each logger's ``log_metrics``, at step = the epoch (counted from 1, as in ``history`` and
  the pictures), or at step = the optimizer step for per-step values.

Loggers are saved (flushed to disk) at most every ``save_every`` seconds; Lightning saves them
once more when training ends.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import lightning as L
import torch


class Reporter:
    """Hands values to a trainer's callbacks, progress bar and loggers (see the module doc)."""

    def __init__(self, save_every: float = 2.0) -> None:
        self.save_every = save_every
        self._saved_at = time.monotonic()

    def to_callbacks(self, trainer: L.Trainer, values: dict[str, float]) -> None:
        """Makes ``values`` visible to callbacks that monitor a metric (as 0-dim CPU tensors,
        what Lightning's own logging stores)."""
        trainer.callback_metrics.update({k: torch.tensor(v) for k, v in values.items()})

    def to_progress_bar(self, trainer: L.Trainer, values: dict[str, float]) -> None:
        trainer.progress_bar_metrics.update(values)

    def to_loggers(self, trainer: L.Trainer, values: dict[str, float], step: int) -> None:
        """``values`` at ``step`` in every logger."""
        for logger in trainer.loggers:
            logger.log_metrics(values, step=step)
        self._maybe_save(trainer)

    def series_to_loggers(self, trainer: L.Trainer, name: str, points: Iterable[tuple[int, float]]) -> None:
        """One value of ``name`` per (step, value) point, in every logger."""
        for step, value in points:
            for logger in trainer.loggers:
                logger.log_metrics({name: value}, step=step)
        self._maybe_save(trainer)

    def _maybe_save(self, trainer: L.Trainer) -> None:
        now = time.monotonic()
        if now - self._saved_at >= self.save_every:
            for logger in trainer.loggers:
                logger.save()
            self._saved_at = now
