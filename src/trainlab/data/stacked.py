"""The members' data sets on one device: each distinct data set once, and which member trains on which.

Members that differ in ``seed`` (which seeds ``data.seed``), ``data.seed`` or ``data.noise``
train on different rows or values of the same shapes; members that share a data config
share its tensors. The tensors are non-persistent buffers: they move with the module to
its device and are left out of checkpoints.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from trainlab.data import TabularData


class StackedData(nn.Module):
    """``x_<split>`` [D, n, F] and ``y_<split>`` [D, n, ...] for D distinct data sets;
    ``member_data`` [M]: member m trains on data set ``member_data[m]``."""

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

    def rows(self, split: str, rows: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Each member's rows of ``split``: all of them ([M, n, ...]), or ``rows`` [M, B] of
        it (member m's row indices into its own split)."""
        x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
        if rows is None:
            return x[self.member_data], y[self.member_data]
        which = self.member_data.unsqueeze(1)
        return x[which, rows], y[which, rows]
