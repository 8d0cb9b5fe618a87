"""last.ckpt: the state at the end of an epoch, which ``resume=`` continues from exactly."""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint

from trainlab.errors import write_failure
from trainlab.files.checkpoints import snapshot
from trainlab.files.rundir import RunDir
from trainlab.internals import dump_checkpoint, stops_after_this_epoch
from trainlab.training.distributed import CollectiveFailed, StopRequested


class LastCheckpoint(ModelCheckpoint):
    """Writes ``<dirpath>/last.ckpt`` at the end of a training epoch (after the module's
    epoch-end hook has recorded the epoch and stepped the schedulers) when ``every_seconds``
    have passed since the previous write, and always at the end of the final epoch. With
    epochs of a few milliseconds (small models, a GPU), writing every epoch would cost as
    much as the training; a crash loses at most ``every_seconds`` plus one epoch.
    ``every_seconds=0`` writes every epoch.

    ``epochs_kept`` is the number of finished epochs the file holds. (Whether early stopping
    ended training there is the module's record's: ``trainlab.training.records``.)

    Ctrl-C keeps every finished epoch: an epoch whose write waits keeps a copy of the
    checkpoint it would have written in memory (the newest only: 0.6 ms per epoch in
    ``scripts/bench.py --only overhead`` on the 2-core CPU), and an interrupt (Ctrl-C, every
    rank's agreed stop under DDP, a lost rank) or a refused write writes it before the run stops.
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
        # (epochs, checkpoint, each record's history length) of a checkpoint not on disk
        self._unwritten: tuple[int, dict[str, Any], list[int]] | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        self._written_at = time.monotonic()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        wait = time.monotonic() - self._written_at < self.every_seconds and not stops_after_this_epoch(trainer)
        if trainer.world_size > 1:  # rank 0's clock decides for every rank: a save is a collective step
            wait = trainer.strategy.broadcast(wait, src=0)
        if wait:
            self._keep_unwritten(trainer)
            return
        self._unwritten = None
        # Set before the write: the file's own state says how many epochs it holds.
        self.epochs_kept = trainer.current_epoch + 1
        flush = getattr(trainer.strategy.checkpoint_io, "flush", None)
        if flush is not None:  # a held best.ckpt goes to disk first (BackgroundCheckpointIO)
            flush()
        super().on_train_epoch_end(trainer, pl_module)
        self._written_at = time.monotonic()

    def _keep_unwritten(self, trainer: L.Trainer) -> None:
        """The checkpoint this epoch's write would have written, copied (its tensors too),
        with the epochs it holds; without the records' histories, which only grow (their
        length now is kept: the module puts them in when it is written), so the
        copy costs the same at epoch 1000 as at epoch 1."""
        module = trainer.lightning_module
        kept, self.epochs_kept = self.epochs_kept, trainer.current_epoch + 1
        module.histories_later = True
        try:
            checkpoint = snapshot(dump_checkpoint(trainer))
            self._unwritten = (self.epochs_kept, checkpoint, [len(record.history) for record in module.records])
        finally:
            self.epochs_kept, module.histories_later = kept, False

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        """An interrupt, a rank lost, or a file the disk refused: the last finished epoch's checkpoint, if
        its write was waiting, is written now (by global rank 0: ``Strategy.save_checkpoint``;
        after a refused write, only if the disk takes it)."""
        disk = write_failure(exception) is not None
        stop = isinstance(exception, KeyboardInterrupt | StopRequested | CollectiveFailed)  # Ctrl-C, a rank lost
        if self._unwritten is None or not (disk or stop):
            return
        epochs, checkpoint, rows = self._unwritten
        self._unwritten = None
        pl_module.add_histories(checkpoint, rows)  # type: ignore[operator]
        path = str(Path(self.dirpath or ".") / RunDir.LAST_CKPT)
        flush = getattr(trainer.strategy.checkpoint_io, "flush", None)
        try:
            if flush is not None:  # a held best.ckpt goes first, as before any last.ckpt
                flush()
            trainer.strategy.save_checkpoint(checkpoint, path)
            if disk:  # written now (a background write waited for), to know whether the disk took it
                trainer.strategy.checkpoint_io.teardown()
        except OSError:
            if not disk:
                raise
            return
        self.epochs_kept = epochs

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "epochs_kept": self.epochs_kept}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        with warnings.catch_warnings():  # a run that moved: nothing here depends on the old paths
            warnings.filterwarnings("ignore", message="The dirpath has changed from")
            super().load_state_dict(state_dict)
        self.epochs_kept = state_dict.get("epochs_kept", 0)
