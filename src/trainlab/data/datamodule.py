"""The LightningDataModule over a TabularData: the training rows on the training device."""

from __future__ import annotations

from functools import partial

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset

from trainlab.data.dataset import TabularData
from trainlab.data.loader import (
    EVAL_BATCH,
    ChunkLoader,
    EpochPermutations,
    InMemoryLoader,
    chunk_collate,
    rows_per_epoch,
)


class DataModule(L.LightningDataModule):
    """Serves the train (shuffled) and test splits of ``data`` to Lightning's loops, and each
    split's tensors on the device (``split_on_device``: the module validates from them).

    ``loader="memory"`` (the default): the tensors move to the trainer's device once, and
    each training step gets a ChunkLoader item of ``steps_per_call`` mini-batches.
    ``loader="dataloader"``: a standard ``torch.utils.data.DataLoader`` over the CPU tensors,
    for data that should not sit on the device; each of its batches holds the rows of
    ``steps_per_call`` mini-batches, in the same order as the in-memory path.
    Test batches are large (``eval_batch_size``) since no gradients are kept.

    On several devices (Lightning's DDP) every rank is served the same global mini-batches
    of ``world_size * batch_size`` rows and trains on its slice of each (``loader.Chunk``);
    validation and test give every rank the whole split (``TrainingModule.validate``).
    """

    def __init__(
        self,
        data: TabularData,
        batch_size: int,
        seed: int = 0,
        steps_per_call: int = 1,
        drop_last: bool = False,
        loader: str = "memory",
        eval_batch_size: int = EVAL_BATCH,
    ) -> None:
        super().__init__()
        self.data = data
        self.batch_size = batch_size
        self.seed = seed
        self.steps_per_call = steps_per_call
        self.drop_last = drop_last
        self.loader = loader
        self.eval_batch_size = eval_batch_size
        self._device_splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def split_on_device(self, stage: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``stage`` split's (x, y) on the trainer's device (moved once, then kept)."""
        device = self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")
        x, y = self.data.split(stage)
        if stage not in self._device_splits or self._device_splits[stage][0].device != device:
            self._device_splits[stage] = (x.to(device), y.to(device))
        return self._device_splits[stage]

    @property
    def world(self) -> tuple[int, int]:
        """(this process's global rank, the number of processes) of the trainer's run."""
        if self.trainer is None:
            return 0, 1
        return self.trainer.global_rank, self.trainer.world_size

    def train_dataloader(self) -> ChunkLoader | DataLoader:
        rank, world = self.world
        if self.loader == "dataloader":
            dataset = TensorDataset(self.data.x_train, self.data.y_train)
            pin = self.trainer is not None and self.trainer.strategy.root_device.type == "cuda"
            rows = rows_per_epoch(len(dataset), self.batch_size * world, self.drop_last)
            order = EpochPermutations(len(dataset), self.seed, keep=rows)
            collate = partial(chunk_collate, batch_size=self.batch_size, world=world, rank=rank)
            per_call = self.steps_per_call * self.batch_size * world
            # Its own generator: the loader's per-epoch seed is then not drawn from the global
            # random state, which dropout draws from (the same masks as the in-memory path).
            return DataLoader(
                dataset, per_call, sampler=order, collate_fn=collate, pin_memory=pin, generator=torch.Generator()
            )
        x, y = self.split_on_device("train")
        return ChunkLoader(
            x, y, self.batch_size, self.steps_per_call, seed=self.seed, drop_last=self.drop_last, world=world, rank=rank
        )

    def test_dataloader(self) -> InMemoryLoader:
        x, y = self.split_on_device("test")
        return InMemoryLoader(x, y, self.eval_batch_size)
