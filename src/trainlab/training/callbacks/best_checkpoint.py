"""best.ckpt: the best epoch's checkpoint, written when the module's record says an epoch is best."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Checkpoint

from trainlab.files.rundir import RunDir


class BestCheckpoint(Checkpoint):
    """Writes ``<dirpath>/best.ckpt`` at the end of each training epoch whose weights one
    model's record calls its best (``TrainingModule.records[0]``: the one best-epoch rule,
    ``trainlab.training.records``), after the module has recorded the epoch (a ``Checkpoint``:
    Lightning runs it after the module's hook). The file is where it is now, whatever path a
    resumed run's checkpoint remembers (a run directory may have moved)."""

    def __init__(self, dirpath: str | Path) -> None:
        self.file = Path(dirpath) / RunDir.BEST_CKPT

    @property
    def best_model_path(self) -> str:
        """The file once on disk (a write may wait in memory until last.ckpt's: see
        ``BackgroundCheckpointIO``), else ''."""
        return str(self.file) if self.file.is_file() else ""

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if pl_module.records[0].best_epoch == trainer.current_epoch + 1:  # this epoch's weights are the best
            trainer.save_checkpoint(self.file, weights_only=False)

    def state_dict(self) -> dict[str, Any]:
        return {}
