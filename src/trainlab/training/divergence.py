"""Divergence: a non-finite training loss, or one above ``max_loss``, stops the run.

The check reads no value back inside a training step. Per Lightning step (a chunk of
mini-batches), the eager steps' losses and the mean of the CUDA-graph replays' losses are
gathered on the device into one small tensor, copied to the host asynchronously (pinned
memory and an event on CUDA; at once on the CPU), and looked at when the copy has landed:
at the next Lightning step, or at the end of the epoch at the latest. On the CPU, and for
eager steps, the bad step is named exactly; for graph replays, the stretch of steps.

On several devices (``synchronized``) the probed losses are the global mini-batches' (the
same on every rank) and each probe is looked at as soon as it is queued, waiting for its
copy: at the end of each Lightning step, where every rank looks. Every rank then raises
Diverged at the same step; looking whenever a copy has landed could stop one rank while
another waits in the next step's all-reduce.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from trainlab.errors import Diverged


@dataclass
class _Probe:
    values: torch.Tensor  # on the host
    steps: list[tuple[int, int | None]]  # (step, first step of a graph stretch or None) per value
    epoch: int
    lr: float
    event: torch.cuda.Event | None = None


class DivergenceWatch:
    """Collects probes of training losses and raises Diverged for the first bad one."""

    def __init__(self, max_loss: float | None = None) -> None:
        self.max_loss = max_loss
        self.synchronized = False  # several ranks: look only when the caller polls (see the module doc)
        self._pending: list[_Probe] = []

    def probe(
        self,
        losses: list[torch.Tensor],
        steps: list[tuple[int, int | None]],
        epoch: int,
        lr: float,
    ) -> None:
        """Queue the check of ``losses`` (0-d device tensors), one per entry of ``steps``."""
        if not losses:
            return
        values = torch.stack([loss.detach().float().reshape(()) for loss in losses])
        if values.device.type == "cuda":
            host = torch.empty(values.shape, dtype=values.dtype, pin_memory=True)
            host.copy_(values, non_blocking=True)
            event = torch.cuda.Event()
            event.record()
            self._pending.append(_Probe(host, steps, epoch, lr, event))
        else:
            self._pending.append(_Probe(values.cpu(), steps, epoch, lr))
        self.poll(wait=self.synchronized)

    def poll(self, wait: bool = False) -> None:
        """Look at every probe whose copy has landed (all of them with ``wait``), in order."""
        while self._pending:
            probe = self._pending[0]
            if probe.event is not None and not probe.event.query():
                if not wait:
                    return
                probe.event.synchronize()
            self._pending.pop(0)
            for value, (step, first) in zip(probe.values.tolist(), probe.steps, strict=True):
                if not math.isfinite(value) or (self.max_loss is not None and value > self.max_loss):
                    self._pending.clear()
                    raise Diverged(probe.epoch, step, value, probe.lr, first)
