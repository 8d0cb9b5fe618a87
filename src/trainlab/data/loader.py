"""Mini-batches sliced from tensors in memory: no per-sample __getitem__, no collate."""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch


class InMemoryLoader:
    """Yields (x[idx], y[idx]) mini-batches of ``batch_size`` rows.

    With ``shuffle`` each pass draws a fresh permutation from a generator seeded once
    with ``seed`` (on the tensors' device), so the order differs per epoch and repeats
    per seed. The last batch may be smaller unless ``drop_last``.
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = torch.Generator(device=x.device).manual_seed(seed)

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.x)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator, device=self.x.device)
            for i in range(len(self)):
                idx = order[i * self.batch_size : (i + 1) * self.batch_size]
                yield self.x[idx], self.y[idx]
        else:
            for i in range(len(self)):
                sl = slice(i * self.batch_size, (i + 1) * self.batch_size)
                yield self.x[sl], self.y[sl]
