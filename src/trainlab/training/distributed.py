"""One run on several devices (Lightning's DDP): who writes, Ctrl-C, the gradients.

Lightning starts the processes (``trainer.strategy=ddp``: its subprocess launcher re-runs
the command line for ranks 1..N-1; torchrun and SLURM start every rank themselves, as
Lightning's cluster environments expect) and sets up the process group. trainlab adds:

- **The run directory, decided once**, by rank 0, for every rank (``trainlab.config.launch``).
- **Only global rank 0 writes** run files (config, summary, preprocessing, pictures,
  submission, TensorBoard events; Lightning saves checkpoints from rank 0 only). The other
  ranks print nothing of their own and, when a run stops (diverged, Ctrl-C), exit with 0
  after rank 0 has the say: Lightning's launcher kills every process when a child exits
  with another code, which would cut rank 0's summary short.
- **Gradients averaged by trainlab, not by DDP's reducer.** trainlab optimizes manually and
  runs many optimizer steps per Lightning step (``trainlab.training.single_steps.SingleModelSteps``); DDP's reducer
  expects one backward per forward of its wrapper. So the fit runs inside the strategy's
  ``block_backward_sync()`` (DDP's ``no_sync``: the reducer never syncs; DDP still
  broadcasts rank 0's initial weights), and after each backward ``GradientSync`` all-reduces
  one flat buffer: every gradient and the step's loss, each rank's weighted by its share of
  the global mini-batch. The sum is the global mini-batch's mean gradient and mean loss,
  bit for bit the same on every rank, so every rank steps alike and takes the same
  divergence decision.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Sequence
from typing import Any


def world() -> tuple[int, int]:
    """(global rank, world size) of the process group; (0, 1) without one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class CtrlC:
    """Ctrl-C under DDP: the press is recorded, and every rank stops at the same point
    (``GradientSync.stop_requested``), where the ranks agree on it. A plain KeyboardInterrupt
    could land while one rank waits in a collective the other ranks have left: a hang. A
    second press interrupts at once."""

    def __init__(self) -> None:
        self.pressed = False
        self._previous: Any = None

    def install(self) -> None:
        self.pressed = False
        self._previous = signal.signal(signal.SIGINT, self._press)

    def _press(self, signum: int, frame: Any) -> None:
        self.pressed = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def uninstall(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


class StopRequested(Exception):
    """Every rank stops: Ctrl-C was pressed on one of them (``CtrlC``). Not a KeyboardInterrupt,
    whose handling in Lightning kills the other ranks while rank 0 still writes."""


class GradientSync:
    """Averages gradients and step losses over the ranks (see the module doc)."""

    def __init__(self, params: Sequence[Any], rank: int, world_size: int, ctrl_c: CtrlC | None = None) -> None:
        self.params, self.rank, self.world_size = list(params), rank, world_size
        self.ctrl_c = ctrl_c

    def average(self, loss: Any, rows: int, global_rows: int) -> Any:
        """After this rank's backward on ``rows`` of the step's ``global_rows``: every
        parameter's gradient becomes the global mini-batch's mean gradient; returns the
        global mean loss (a 0-d tensor on the device). A rank without rows in a step (the
        epoch's last, partial mini-batch) joins with zeros."""
        import torch
        import torch.distributed as dist

        grads = []
        for p in self.params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            grads.append(p.grad)
        flat = torch.cat([*(g.reshape(-1) for g in grads), loss.detach().reshape(1).to(grads[0].dtype)])
        flat.mul_(rows / global_rows)
        dist.all_reduce(flat)
        offset = 0
        for g in grads:
            n = g.numel()
            g.copy_(flat[offset : offset + n].view_as(g))
            offset += n
        return flat[offset]

    def stop_requested(self, device: Any) -> bool:
        """Whether Ctrl-C was pressed on any rank (one small all-reduce, read at once)."""
        import torch
        import torch.distributed as dist

        flag = torch.tensor([1.0 if self.ctrl_c is not None and self.ctrl_c.pressed else 0.0], device=device)
        dist.all_reduce(flag)
        return bool(flag.item() > 0)

    def epoch_sums(self, loss_sum: Any, metric_sum: Any, rows: int) -> tuple[Any, Any, int]:
        """An epoch's loss and metric sums and its rows, over every rank (one all-reduce, in
        float64 for exact counts); ``StopRequested`` on every rank where Ctrl-C was pressed on any."""
        import torch

        pressed = float(self.ctrl_c is not None and self.ctrl_c.pressed)
        extra = torch.tensor([rows, pressed], device=loss_sum.device, dtype=torch.float64)
        totals = self.sum(torch.cat([loss_sum.reshape(1).double(), metric_sum.reshape(1).double(), extra]))
        rows_read, pressed_anywhere = (int(v) for v in totals[2:].tolist())
        if pressed_anywhere:
            raise StopRequested
        return totals[0], totals[1], rows_read

    def sum(self, values: Any) -> Any:
        """``values`` (a 1-d device tensor) summed over the ranks."""
        import torch.distributed as dist

        dist.all_reduce(values)
        return values


class DistributedTraining:
    """What a fit under a parallel strategy needs around it: DDP's reducer off (even for one
    process: trainlab steps its optimizer itself, many times per Lightning step) and, on
    several ranks, the step unit's gradients averaged by ``GradientSync`` and Ctrl-C agreed on."""

    def __init__(self) -> None:
        self._no_sync: contextlib.ExitStack | None = None
        self._ctrl_c: CtrlC | None = None

    def start(self, trainer: Any, steps: Any, model: Any) -> None:
        self.end()
        block = getattr(trainer.strategy, "block_backward_sync", None)  # Lightning's parallel strategies
        if block is not None:
            self._no_sync = contextlib.ExitStack()
            self._no_sync.enter_context(block())
        if trainer.world_size == 1:
            return
        self._ctrl_c = CtrlC()
        self._ctrl_c.install()
        distribute = getattr(steps, "distribute", None)
        if distribute is None:
            raise RuntimeError(f"{type(steps).__name__} cannot train on several devices")
        distribute(GradientSync(list(model.parameters()), trainer.global_rank, trainer.world_size, self._ctrl_c))

    def end(self) -> None:
        """Leave what ``start`` set up (at the end of training, or after an error)."""
        if self._no_sync is not None:
            self._no_sync.close()
            self._no_sync = None
        if self._ctrl_c is not None:
            self._ctrl_c.uninstall()
            self._ctrl_c = None
