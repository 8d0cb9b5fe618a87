"""Restore the best weights when fit ends (Keras's restore_best_weights)."""

from __future__ import annotations

import logging
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Checkpoint, ModelCheckpoint

from trainlab.files.checkpoints import load_checkpoint

log = logging.getLogger(__name__)


class RestoreBestWeights(Checkpoint):
    """At the end of fit, put the best epoch's weights back into the module; the one source
    of a run's best epoch (``best_epoch``, counted from 1).

    "Best" is the monitored metric's best value in ``mode`` (strictly better replaces, as
    ModelCheckpoint's top-1 does, so both keep the same epoch). It is read at the end of
    each training epoch, after the module has reported the epoch, like ModelCheckpoint and
    EarlyStopping (a ``Checkpoint``, Lightning runs it with them): a ``val/`` metric
    of that epoch's validation, or a ``train/`` metric of that epoch's training. A copy of
    the weights is kept on the device whenever the metric improves (no file is read back),
    so training may end by early stopping or at max_epochs and the model then holds the
    weights that scored best: test metrics and the returned model come from them. After a
    resume, when no later epoch improved, they are read back from best.ckpt.
    """

    def __init__(self, monitor: str, mode: str = "min") -> None:
        self.monitor = monitor
        self.mode = mode
        self.best_score: float | None = None
        self.best_epoch: int | None = None
        self._best_state: dict[str, torch.Tensor] | None = None

    def _improved(self, score: float) -> bool:
        if self.best_score is None:
            return True
        return score < self.best_score if self.mode == "min" else score > self.best_score

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.monitor not in trainer.callback_metrics:
            return
        score = float(trainer.callback_metrics[self.monitor])
        if score != score or not self._improved(score):  # NaN never counts as an improvement
            return
        self.best_score, self.best_epoch = score, trainer.current_epoch + 1
        with torch.no_grad():
            self._best_state = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}

    def state_dict(self) -> dict[str, Any]:
        return {"best_score": self.best_score, "best_epoch": self.best_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best_score, self.best_epoch = state_dict["best_score"], state_dict["best_epoch"]

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._best_state is None and self.best_score is not None:
            # Resumed, and no epoch since improved: the best weights are in the checkpoint
            # that the ModelCheckpoint on the same metric wrote then.
            self._best_state = self._from_checkpoint_file(trainer)
        if self._best_state is not None:
            pl_module.load_state_dict(self._best_state)

    def _from_checkpoint_file(self, trainer: L.Trainer) -> dict[str, torch.Tensor] | None:
        for callback in trainer.checkpoint_callbacks:
            if isinstance(callback, ModelCheckpoint) and callback.monitor == self.monitor and callback.best_model_path:
                checkpoint = load_checkpoint(callback.best_model_path)
                if checkpoint["epoch"] + 1 != self.best_epoch:
                    # Written after the last.ckpt the run resumed from, in epochs lost with the crash.
                    log.warning(
                        "%s holds epoch %d, not the best epoch %s that the resumed run recorded; "
                        "keeping the final weights",
                        callback.best_model_path,
                        checkpoint["epoch"] + 1,
                        self.best_epoch,
                    )
                    return None
                return checkpoint["state_dict"]
        return None
