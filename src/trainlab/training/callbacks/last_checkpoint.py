"""last.ckpt: the state at the end of an epoch, which ``resume=`` continues from exactly."""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint

from trainlab.files.rundir import RunDir
from trainlab.internals import stops_after_this_epoch


class LastCheckpoint(ModelCheckpoint):
    """Writes ``<dirpath>/last.ckpt`` at the end of a training epoch (after the module's
    epoch-end hook has recorded the epoch and stepped the schedulers) when ``every_seconds``
    have passed since the previous write, and always at the end of the final epoch. With
    epochs of a few milliseconds (small models, a GPU), writing every epoch would cost as
    much as the training; a crash loses at most ``every_seconds`` plus one epoch.
    ``every_seconds=0`` writes every epoch.

    ``epochs_kept`` is the number of finished epochs the file holds. (Whether early stopping
    ended training there is the module's record's: ``trainlab.training.records``.)
    """

    def __init__(self, dirpath: str, every_seconds: float = 0.0) -> None:
        super().__init__(
            dirpath=dirpath,
            filename=Path(RunDir.LAST_CKPT).stem,
            monitor=None,
            save_top_k=1,
            every_n_epochs=1,
            save_on_train_epoch_end=True,
            enable_version_counter=False,
        )
        self.every_seconds = every_seconds
        self.epochs_kept = 0
        self._written_at = time.monotonic()

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        self._written_at = time.monotonic()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        wait = time.monotonic() - self._written_at < self.every_seconds and not stops_after_this_epoch(trainer)
        if trainer.world_size > 1:  # rank 0's clock decides for every rank: a save is a collective step
            wait = trainer.strategy.broadcast(wait, src=0)
        if wait:
            return
        # Set before the write: the file's own state says how many epochs it holds.
        self.epochs_kept = trainer.current_epoch + 1
        flush = getattr(trainer.strategy.checkpoint_io, "flush", None)
        if flush is not None:  # a held best.ckpt goes to disk first (BackgroundCheckpointIO)
            flush()
        super().on_train_epoch_end(trainer, pl_module)
        self._written_at = time.monotonic()

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "epochs_kept": self.epochs_kept}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        with warnings.catch_warnings():  # a run that moved: nothing here depends on the old paths
            warnings.filterwarnings("ignore", message="The dirpath has changed from")
            super().load_state_dict(state_dict)
        self.epochs_kept = state_dict.get("epochs_kept", 0)
