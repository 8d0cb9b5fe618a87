"""Mini-batches sliced from tensors in memory: no per-sample __getitem__, no collate."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import NamedTuple

import torch
from torch.utils.data import Sampler

EVAL_BATCH = 8192  # rows per forward pass in evaluation: no gradients are kept


class InMemoryLoader:
    """Yields (x[i:i+batch_size], y[i:i+batch_size]) in order: evaluation batches, sliced
    from tensors in memory (no per-sample __getitem__, no collate)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.x, self.y = x, y
        self.batch_size = batch_size

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for start in range(0, len(self.x), self.batch_size):
            yield self.x[start : start + self.batch_size], self.y[start : start + self.batch_size]


class Chunk(NamedTuple):
    """What one Lightning training step receives: all training rows, and the row indices
    of its mini-batches (consecutive ``batch_size`` pieces of ``indices``).

    On several devices (``world`` > 1, this process being ``rank``) the pieces are global
    mini-batches of ``world * batch_size`` rows, the same on every rank (Lightning's
    per-device convention: ``data.batch_size`` rows per device and step); rank r trains on
    its slice ``[r * batch_size, (r + 1) * batch_size)`` of each (``shards``). A partial last
    global mini-batch is cut the same way: the first ranks take full slices, the next one
    the rest, the others none (its gradient is then the whole mini-batch's mean all the same:
    ``trainlab.training.distributed.GradientSync`` weighs each rank by its rows).
    """

    x: torch.Tensor
    y: torch.Tensor
    indices: torch.Tensor
    batch_size: int
    world: int = 1
    rank: int = 0

    def shards(self, limit: int | None = None) -> list[tuple[torch.Tensor, int]]:
        """(this rank's row indices, the global mini-batch's row count) of each of the
        chunk's optimizer steps (its first ``limit``)."""
        pieces = self.indices.split(self.batch_size * self.world)[:limit]
        if self.world == 1:
            return [(piece, len(piece)) for piece in pieces]
        start, stop = self.rank * self.batch_size, (self.rank + 1) * self.batch_size
        return [(piece[start:stop], len(piece)) for piece in pieces]


class EpochPermutations(Sampler[int]):
    """Epoch e's order of ``n`` rows (its first ``keep`` when given): a permutation drawn from a generator seeded with
    (``seed``, e), on ``device``. It depends on nothing but the seed and the epoch, so a run
    resumed at epoch e sees the same order as one that never stopped. Lightning calls
    ``set_epoch`` before each training epoch (as for a DistributedSampler)."""

    def __init__(self, n: int, seed: int = 0, device: torch.device | str = "cpu", keep: int | None = None) -> None:
        self.n, self.seed, self.epoch = n, seed, 0
        self.keep = n if keep is None else keep  # the first ``keep`` rows of each permutation
        self.generator = torch.Generator(device=device)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def permutation(self) -> torch.Tensor:
        self.generator.manual_seed(self.seed * 1_000_003 + self.epoch)
        return torch.randperm(self.n, generator=self.generator, device=self.generator.device)

    def __iter__(self) -> Iterator[int]:
        return iter(self.permutation()[: self.keep].tolist())

    def __len__(self) -> int:
        return self.keep


class ChunkLoader:
    """Per epoch, one permutation of the training rows drawn on their device (see
    EpochPermutations); each item covers ``steps_per_call`` consecutive mini-batches of it,
    so Lightning's per-step cost is paid once per that many optimizer steps. With
    ``drop_last`` a final partial mini-batch is left out. On ``world`` devices every rank
    draws the same permutation and its chunks hold global mini-batches of ``world *
    batch_size`` rows (see ``Chunk``).
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        steps_per_call: int = 1,
        seed: int = 0,
        drop_last: bool = False,
        world: int = 1,
        rank: int = 0,
    ) -> None:
        if batch_size < 1 or steps_per_call < 1:
            raise ValueError(f"batch_size and steps_per_call must be >= 1, got {batch_size}, {steps_per_call}")
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.steps_per_call = steps_per_call
        self.drop_last = drop_last
        self.world, self.rank = world, rank
        rows = rows_per_epoch(len(x), batch_size * world, drop_last)
        self.sampler = EpochPermutations(len(x), seed, x.device, keep=rows)  # Lightning sets its epoch

    @property
    def n_batches(self) -> int:
        """Mini-batches (optimizer steps) per epoch (global ones on several devices)."""
        return math.ceil(self.sampler.keep / (self.batch_size * self.world))

    def __len__(self) -> int:
        return math.ceil(self.n_batches / self.steps_per_call)

    def __iter__(self) -> Iterator[Chunk]:
        order = self.sampler.permutation()[: self.sampler.keep]
        rows = self.steps_per_call * self.batch_size * self.world
        for start in range(0, len(order), rows):
            yield Chunk(self.x, self.y, order[start : start + rows], self.batch_size, self.world, self.rank)


def rows_per_epoch(n: int, batch_size: int, drop_last: bool) -> int:
    """The training rows an epoch uses: all ``n``, or with ``drop_last`` those of its full mini-batches."""
    return n // batch_size * batch_size if drop_last else n


def chunk_collate(
    rows: list[tuple[torch.Tensor, torch.Tensor]], batch_size: int, world: int = 1, rank: int = 0
) -> Chunk:
    """A DataLoader's rows (``steps_per_call`` mini-batches of them, global ones on ``world``
    devices) as one Chunk."""
    x = torch.stack([row[0] for row in rows])
    y = torch.stack([row[1] for row in rows])
    return Chunk(x, y, torch.arange(len(rows)), batch_size, world, rank)
