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
    of its mini-batches (consecutive ``batch_size`` pieces of ``indices``)."""

    x: torch.Tensor
    y: torch.Tensor
    indices: torch.Tensor
    batch_size: int


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
    ``drop_last`` a final partial mini-batch is left out.
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        steps_per_call: int = 1,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if batch_size < 1 or steps_per_call < 1:
            raise ValueError(f"batch_size and steps_per_call must be >= 1, got {batch_size}, {steps_per_call}")
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.steps_per_call = steps_per_call
        self.drop_last = drop_last
        rows = rows_per_epoch(len(x), batch_size, drop_last)
        self.sampler = EpochPermutations(len(x), seed, x.device, keep=rows)  # Lightning sets its epoch

    @property
    def n_batches(self) -> int:
        """Mini-batches (optimizer steps) per epoch."""
        return math.ceil(self.sampler.keep / self.batch_size)

    def __len__(self) -> int:
        return math.ceil(self.n_batches / self.steps_per_call)

    def __iter__(self) -> Iterator[Chunk]:
        order = self.sampler.permutation()[: self.sampler.keep]
        rows = self.steps_per_call * self.batch_size
        for start in range(0, len(order), rows):
            yield Chunk(self.x, self.y, order[start : start + rows], self.batch_size)


def rows_per_epoch(n: int, batch_size: int, drop_last: bool) -> int:
    """The training rows an epoch uses: all ``n``, or with ``drop_last`` those of its full mini-batches."""
    return n // batch_size * batch_size if drop_last else n


def chunk_collate(rows: list[tuple[torch.Tensor, torch.Tensor]], batch_size: int) -> Chunk:
    """A DataLoader's rows (``steps_per_call`` mini-batches of them) as one Chunk."""
    x = torch.stack([row[0] for row in rows])
    y = torch.stack([row[1] for row in rows])
    return Chunk(x, y, torch.arange(len(rows)), batch_size)
