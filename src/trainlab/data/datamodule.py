"""The LightningDataModule over a TabularData, with in-memory loaders on the training device."""

from __future__ import annotations

import lightning as L
import torch

from trainlab.data.dataset import TabularData
from trainlab.data.loader import InMemoryLoader


class DataModule(L.LightningDataModule):
    """Serves the train (shuffled), val and test splits of ``data`` in ``batch_size`` rows.

    The tensors move to the trainer's device once, when a loader is first asked for;
    evaluation batches are as large as memory-cheap (``eval_batch_size``) since no
    gradients are kept.
    """

    def __init__(self, data: TabularData, batch_size: int, seed: int = 0, eval_batch_size: int = 4096) -> None:
        super().__init__()
        self.data = data
        self.batch_size = batch_size
        self.seed = seed
        self.eval_batch_size = eval_batch_size
        self._device_splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def _split(self, stage: str) -> tuple[torch.Tensor, torch.Tensor]:
        device = self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")
        x, y = self.data.split(stage)
        if stage not in self._device_splits or self._device_splits[stage][0].device != device:
            self._device_splits[stage] = (x.to(device), y.to(device))
        return self._device_splits[stage]

    def train_dataloader(self) -> InMemoryLoader:
        x, y = self._split("train")
        return InMemoryLoader(x, y, self.batch_size, shuffle=True, seed=self.seed)

    def val_dataloader(self) -> InMemoryLoader:
        x, y = self._split("val")
        return InMemoryLoader(x, y, self.eval_batch_size)

    def test_dataloader(self) -> InMemoryLoader:
        x, y = self._split("test")
        return InMemoryLoader(x, y, self.eval_batch_size)
