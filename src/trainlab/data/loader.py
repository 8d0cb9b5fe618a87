"""Mini-batches sliced from tensors in memory: no per-sample __getitem__, no collate."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import NamedTuple

import torch


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


class ChunkLoader:
    """Per epoch, one permutation of the training rows drawn on their device from a
    generator seeded once with ``seed``; each item covers ``steps_per_call`` consecutive
    mini-batches of it, so Lightning's per-step cost is paid once per that many optimizer
    steps. With ``drop_last`` a final partial mini-batch is left out.
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
        self.generator = torch.Generator(device=x.device).manual_seed(seed)

    @property
    def n_batches(self) -> int:
        """Mini-batches (optimizer steps) per epoch."""
        n = len(self.x)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __len__(self) -> int:
        return math.ceil(self.n_batches / self.steps_per_call)

    def __iter__(self) -> Iterator[Chunk]:
        order = torch.randperm(len(self.x), generator=self.generator, device=self.x.device)
        order = order[: self.n_batches * self.batch_size] if self.drop_last else order
        rows = self.steps_per_call * self.batch_size
        for start in range(0, len(order), rows):
            yield Chunk(self.x, self.y, order[start : start + rows], self.batch_size)
