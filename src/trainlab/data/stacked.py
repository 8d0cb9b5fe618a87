"""A stack's data: each distinct data set once on the device, which member trains on which, and
its mini-batches: what ``DataModule`` is to one model, ``StackedDataModule`` is to a stack.

Members that differ in ``seed`` (which seeds ``data.seed``), ``data.seed`` or ``data.noise``
train on different rows or values of the same shapes; members that share a data config share
its tensors. Per epoch, member m's rows are shuffled exactly as a lone run with m's seed
shuffles them (``EpochPermutations``, drawn on the device), so member m sees the
mini-batches, in the order, that it would see alone.

Data sets whose splits differ in rows (cross-validation's folds when the rows do not divide
by k) share a stack all the same: each split is padded with zero rows to its longest data
set's, and each data set keeps its own row counts (``StackedData.counts``). Member m's epoch
is its own rows' permutation, in its own number of mini-batches; a chunk says, for each
mini-batch, how many of its rows each member really has (``StackChunk.steps``), so that a
member steps on its own rows only, never on padding, and the step unit sums each member's
epoch over its own rows. Validation and test are evaluated on each member's own rows
(``StackedDataModule.member_rows``, ``trainlab.training.evaluation``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import lightning as L
import numpy as np
import torch
from torch import nn

from trainlab.data.dataset import TabularData
from trainlab.data.loader import EVAL_BATCH, EpochPermutations, rows_per_epoch


class StackedData(nn.Module):
    """``x_<split>`` [D, n, F] and ``y_<split>`` [D, n, ...] for D distinct data sets;
    ``member_data`` [M]: member m trains on data set ``member_data[m]``. Non-persistent
    buffers: they move with ``.to(device)`` and are never saved. A split's data sets may
    differ in rows (not in features or targets): each is padded with zero rows to n, the
    most rows of any, and ``counts[split][d]`` keeps data set d's own."""

    SPLITS = ("train", "val", "test")

    def __init__(self, datasets: Sequence[TabularData], member_data: Sequence[int]) -> None:
        super().__init__()
        self.datasets = list(datasets)
        self.counts: dict[str, list[int]] = {}
        for split in self.SPLITS:
            x, y = zip(*(data.split(split) for data in self.datasets), strict=True)
            shapes = {(tuple(a.shape[1:]), tuple(b.shape[1:])) for a, b in zip(x, y, strict=True)}
            if len(shapes) != 1:
                raise ValueError(f"stacked members' {split} splits differ in shape: {sorted(shapes)}")
            self.counts[split] = [len(a) for a in x]
            self.register_buffer(f"x_{split}", _padded(x), persistent=False)
            self.register_buffer(f"y_{split}", _padded(y), persistent=False)
        self.register_buffer("member_data", torch.tensor(list(member_data)), persistent=False)

    @property
    def n_train(self) -> int:
        """Training rows of the longest data set (the padded width)."""
        return self.x_train.shape[1]

    def member(self, m: int) -> TabularData:
        """Member ``m``'s data set, as a lone run would have prepared it."""
        return self.datasets[int(self.member_data[m])]

    def member_counts(self, split: str) -> list[int]:
        """Each member's own rows of ``split``."""
        return [self.counts[split][d] for d in self.member_data.tolist()]

    def member_rows(self, split: str) -> list[int] | None:
        """Each member's own rows of ``split``; None when every member has all of them (no
        padding: then nothing is read from the device)."""
        width = getattr(self, f"x_{split}").shape[1]
        return None if all(c == width for c in self.counts[split]) else self.member_counts(split)

    def rows(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Each member's rows of ``split``: x [M, n, F], y [M, n, ...]."""
        x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
        return x[self.member_data], y[self.member_data]


def _padded(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """``tensors`` [n_d, ...] stacked as [D, n, ...], each padded with zero rows to n = max n_d."""
    n = max(len(t) for t in tensors)
    if all(len(t) == n for t in tensors):
        return torch.stack(list(tensors))
    return torch.stack([torch.cat([t, t.new_zeros((n - len(t), *t.shape[1:]))]) for t in tensors])


def mini_batches(rows: int, batch_size: int) -> int:
    """Mini-batches (optimizer steps) in an epoch of ``rows`` rows (a last partial one counts)."""
    return math.ceil(rows / batch_size)


class Step(NamedTuple):
    """One optimizer step of a stack: each member's ``rows`` [M, b] (indices into its training
    split); ``active`` [M] (bool, on the rows' device): the members that really have those b
    rows, None for all. ``index``: which of the chunk's mini-batches it belongs to (a
    mini-batch whose members have different rows is several steps, one per row count)."""

    rows: torch.Tensor
    active: torch.Tensor | None
    index: int


class StackChunk(NamedTuple):
    """What one Lightning training step of a stack receives: the training split of each
    distinct data set (``x`` [D, n, F], ``y`` [D, n, ...]), which one each member trains on
    (``member_data`` [M]), and each member's row indices of its ``steps_per_call`` (or fewer)
    consecutive mini-batches, ``rows`` [M, k], in ``batch_size`` pieces. Tensors only: Lightning's
    move of a batch to the device costs nothing for tensors already there.

    ``keeps``: each member's rows in this epoch, when they differ (else None), and ``start``:
    the epoch's position of the chunk's first row; member m's rows of the chunk past
    ``keeps[m]`` are padding (see ``steps``)."""

    x: torch.Tensor
    y: torch.Tensor
    member_data: torch.Tensor
    rows: torch.Tensor
    batch_size: int
    start: int = 0
    keeps: tuple[int, ...] | None = None

    def batches(self, limit: int | None = None) -> list[torch.Tensor]:
        """Each mini-batch's rows [M, B] (the first ``limit``)."""
        return list(self.rows.split(self.batch_size, dim=1))[:limit]

    def steps(self, limit: int | None = None) -> list[Step]:
        """The chunk's optimizer steps (of its first ``limit`` mini-batches). A mini-batch where
        every member has all b rows is one step for all (``active`` None). Otherwise member m
        has r_m = clamp(keeps[m] - position, 0, b) real rows, the first r_m of its piece: the
        mini-batch is one step per distinct r > 0, on the first r rows of every member, with
        the members whose r_m = r active. So each member steps exactly on its own mini-batches,
        as alone (its mean loss over its own rows), and a member whose epoch has ended (r_m = 0)
        does not step."""
        if self.keeps is None:
            return [Step(rows, None, index) for index, rows in enumerate(self.batches(limit))]
        steps, position = [], self.start
        for index, rows in enumerate(self.batches(limit)):
            width = rows.shape[1]
            real = [min(max(keep - position, 0), width) for keep in self.keeps]
            position += width
            if all(r == width for r in real):
                steps.append(Step(rows, None, index))
                continue
            counts = np.asarray(real)
            for r in sorted(set(real) - {0}, reverse=True):
                active = torch.from_numpy(counts == r).to(rows.device)
                steps.append(Step(rows[:, :r], active, index))
        return steps

    def mini_batch(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each member's ``rows`` [M, B] of its training split: x [M, B, F], y [M, B, ...]."""
        which = self.member_data.unsqueeze(1)
        return self.x[which, rows], self.y[which, rows]


class _Epochs:
    """The members' permutations, which Lightning tells the epoch (its ``set_epoch``): member m
    draws a permutation of its ``rows[m]`` rows and keeps the first ``keeps[m]``."""

    def __init__(self, rows: Sequence[int], seeds: Sequence[int], keeps: Sequence[int]) -> None:
        self.rows, self.seeds, self.keeps = list(rows), list(seeds), list(keeps)
        self.keep = max(self.keeps)
        self.epoch = 0
        self._orders: list[EpochPermutations] = []

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def ragged(self) -> bool:
        """Whether the members' epochs differ in rows."""
        return any(k != self.keep for k in self.keeps)

    def order(self, device: torch.device) -> torch.Tensor:
        """[M, keep]: this epoch's order of each member's rows, drawn on ``device`` (a CUDA
        generator's permutations differ from a CPU one's: as a lone run's loader draws them);
        a member with fewer rows is padded with row 0, which it never steps on."""
        if not self._orders or self._orders[0].generator.device != device:
            self._orders = [EpochPermutations(n, seed, device) for n, seed in zip(self.rows, self.seeds, strict=True)]
        for order in self._orders:
            order.set_epoch(self.epoch)
        orders = [order.permutation()[:keep] for order, keep in zip(self._orders, self.keeps, strict=True)]
        if not self.ragged:
            return torch.stack(orders)
        return torch.stack([torch.cat([o, o.new_zeros(self.keep - len(o))]) for o in orders])

    def __len__(self) -> int:
        return self.keep


class StackChunkLoader:
    """An epoch's training batches for Lightning: ``StackChunk``s of ``steps_per_call``
    mini-batches of ``batch_size`` rows of every member's order (see the module doc)."""

    def __init__(
        self, data: StackedData, seeds: Sequence[int], batch_size: int, steps_per_call: int, drop_last: bool
    ) -> None:
        self.data, self.batch_size, self.steps_per_call = data, batch_size, steps_per_call
        rows = data.member_counts("train")
        keeps = [rows_per_epoch(n, batch_size, drop_last) for n in rows]
        self.sampler = _Epochs(rows, seeds, keeps)

    @property
    def n_batches(self) -> int:
        """Mini-batches per epoch (of the member with the most; optimizer steps of each member:
        ``member_batches``)."""
        return mini_batches(len(self.sampler), self.batch_size)

    def __len__(self) -> int:
        return math.ceil(self.n_batches / self.steps_per_call)

    def __iter__(self) -> Iterator[StackChunk]:
        order = self.sampler.order(self.data.x_train.device)
        width = self.steps_per_call * self.batch_size
        keeps = tuple(self.sampler.keeps) if self.sampler.ragged else None
        data = self.data
        for start in range(0, order.shape[1], width):
            rows = order[:, start : start + width]
            yield StackChunk(data.x_train, data.y_train, data.member_data, rows, self.batch_size, start, keeps)


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
        """Mini-batches per epoch (of the member with the most)."""
        return mini_batches(rows_per_epoch(self.data.n_train, self.batch_size, self.drop_last), self.batch_size)

    def member_batches(self) -> list[int]:
        """Each member's mini-batches (optimizer steps) per epoch, as alone."""
        rows = self.data.member_counts("train")
        return [mini_batches(rows_per_epoch(n, self.batch_size, self.drop_last), self.batch_size) for n in rows]

    def member_rows(self, split: str) -> list[int] | None:
        """Each member's own rows of ``split`` (None: all of them, no padding); what validation
        and test evaluate each member on (``trainlab.training.evaluation``)."""
        return self.data.member_rows(split)

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
