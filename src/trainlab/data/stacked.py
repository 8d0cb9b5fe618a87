"""A stack's data: each distinct data set once on the device, which member trains on which, and
its mini-batches: what ``DataModule`` is to one model, ``StackedDataModule`` is to a stack.

Members that differ in ``seed`` (which seeds ``data.seed``), ``data.seed`` or ``data.noise``
train on different rows or values of the same shapes; members that share a data config share
its tensors. Per epoch, member m's rows are shuffled exactly as a lone run with m's seed
shuffles them (``EpochPermutations``, drawn on the device), so member m sees the
mini-batches, in the order, that it would see alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import lightning as L
import torch
from torch import nn

from trainlab.data.dataset import TabularData
from trainlab.data.loader import EVAL_BATCH, EpochPermutations, rows_per_epoch


class StackedData(nn.Module):
    """``x_<split>`` [D, n, F] and ``y_<split>`` [D, n, ...] for D distinct data sets;
    ``member_data`` [M]: member m trains on data set ``member_data[m]``. Non-persistent
    buffers: they move with ``.to(device)`` and are never saved."""

    SPLITS = ("train", "val", "test")

    def __init__(self, datasets: Sequence[TabularData], member_data: Sequence[int]) -> None:
        super().__init__()
        self.datasets = list(datasets)
        for split in self.SPLITS:
            x, y = zip(*(data.split(split) for data in self.datasets), strict=True)
            shapes = {(tuple(a.shape), tuple(b.shape)) for a, b in zip(x, y, strict=True)}
            if len(shapes) != 1:
                raise ValueError(f"stacked members' {split} splits differ in shape: {sorted(shapes)}")
            self.register_buffer(f"x_{split}", torch.stack(x), persistent=False)
            self.register_buffer(f"y_{split}", torch.stack(y), persistent=False)
        self.register_buffer("member_data", torch.tensor(list(member_data)), persistent=False)

    @property
    def n_train(self) -> int:
        return self.x_train.shape[1]

    def member(self, m: int) -> TabularData:
        """Member ``m``'s data set, as a lone run would have prepared it."""
        return self.datasets[int(self.member_data[m])]

    def rows(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Each member's rows of ``split``: x [M, n, F], y [M, n, ...]."""
        x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
        return x[self.member_data], y[self.member_data]


def mini_batches(rows: int, batch_size: int) -> int:
    """Mini-batches (optimizer steps) in an epoch of ``rows`` rows (a last partial one counts)."""
    return math.ceil(rows / batch_size)


class StackChunk(NamedTuple):
    """What one Lightning training step of a stack receives: the training split of each
    distinct data set (``x`` [D, n, F], ``y`` [D, n, ...]), which one each member trains on
    (``member_data`` [M]), and each member's row indices of its ``steps_per_call`` (or fewer)
    consecutive mini-batches, ``rows`` [M, k], in ``batch_size`` pieces. Tensors only: Lightning's
    move of a batch to the device costs nothing for tensors already there."""

    x: torch.Tensor
    y: torch.Tensor
    member_data: torch.Tensor
    rows: torch.Tensor
    batch_size: int

    def batches(self, limit: int | None = None) -> list[torch.Tensor]:
        """Each mini-batch's rows [M, B] (the first ``limit``)."""
        return list(self.rows.split(self.batch_size, dim=1))[:limit]

    def mini_batch(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each member's ``rows`` [M, B] of its training split: x [M, B, F], y [M, B, ...]."""
        which = self.member_data.unsqueeze(1)
        return self.x[which, rows], self.y[which, rows]


class _Epochs:
    """The members' permutations, which Lightning tells the epoch (its ``set_epoch``)."""

    def __init__(self, n: int, seeds: Sequence[int], keep: int) -> None:
        self.n, self.seeds, self.keep = n, list(seeds), keep
        self.epoch = 0
        self._orders: list[EpochPermutations] = []

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def order(self, device: torch.device) -> torch.Tensor:
        """[M, keep]: this epoch's order of each member's rows, drawn on ``device`` (a CUDA
        generator's permutations differ from a CPU one's: as a lone run's loader draws them)."""
        if not self._orders or self._orders[0].generator.device != device:
            self._orders = [EpochPermutations(self.n, seed, device) for seed in self.seeds]
        for order in self._orders:
            order.set_epoch(self.epoch)
        return torch.stack([order.permutation()[: self.keep] for order in self._orders])

    def __len__(self) -> int:
        return self.keep


class StackChunkLoader:
    """An epoch's training batches for Lightning: ``StackChunk``s of ``steps_per_call``
    mini-batches of ``batch_size`` rows of every member's order (see the module doc)."""

    def __init__(
        self, data: StackedData, seeds: Sequence[int], batch_size: int, steps_per_call: int, drop_last: bool
    ) -> None:
        self.data, self.batch_size, self.steps_per_call = data, batch_size, steps_per_call
        self.sampler = _Epochs(data.n_train, seeds, rows_per_epoch(data.n_train, batch_size, drop_last))

    @property
    def n_batches(self) -> int:
        """Mini-batches (optimizer steps) per epoch."""
        return mini_batches(len(self.sampler), self.batch_size)

    def __len__(self) -> int:
        return math.ceil(self.n_batches / self.steps_per_call)

    def __iter__(self) -> Iterator[StackChunk]:
        order = self.sampler.order(self.data.x_train.device)
        width = self.steps_per_call * self.batch_size
        for start in range(0, order.shape[1], width):
            rows = order[:, start : start + width]
            yield StackChunk(self.data.x_train, self.data.y_train, self.data.member_data, rows, self.batch_size)


class StackedDataModule(L.LightningDataModule):
    """Serves a stack's training chunks and test batches to Lightning's loops, and each split's
    rows of every member ([M, n, ...]) on the trainer's device (``split_on_device``)."""

    loader = "memory"

    def __init__(
        self,
        data: StackedData,
        seeds: Sequence[int],
        batch_size: int,
        steps_per_call: int = 1,
        drop_last: bool = False,
        eval_batch_size: int = EVAL_BATCH,
    ) -> None:
        super().__init__()
        self.data, self.seeds = data, list(seeds)
        self.batch_size, self.steps_per_call, self.drop_last = batch_size, steps_per_call, drop_last
        self.eval_batch_size = eval_batch_size

    @property
    def n_batches(self) -> int:
        """Mini-batches (optimizer steps) per epoch."""
        return mini_batches(rows_per_epoch(self.data.n_train, self.batch_size, self.drop_last), self.batch_size)

    def _on_device(self) -> StackedData:
        device = self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")
        if self.data.x_train.device != device:
            self.data.to(device)
        return self.data

    def split_on_device(self, stage: str) -> tuple[torch.Tensor, torch.Tensor]:
        return self._on_device().rows(stage)

    def train_dataloader(self) -> StackChunkLoader:
        return StackChunkLoader(self._on_device(), self.seeds, self.batch_size, self.steps_per_call, self.drop_last)

    def test_dataloader(self) -> StackEvalLoader:
        return StackEvalLoader(*self.split_on_device("test"), self.eval_batch_size)


class StackEvalLoader:
    """Yields every member's rows ``[M, b, ...]`` of a split ``b`` rows at a time, in order
    (``InMemoryLoader`` of a stack)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> None:
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self) -> int:
        return math.ceil(self.x.shape[1] / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for start in range(0, self.x.shape[1], self.batch_size):
            yield self.x[:, start : start + self.batch_size], self.y[:, start : start + self.batch_size]
