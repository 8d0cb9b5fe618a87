"""One run on several devices (Lightning's DDP): who writes, Ctrl-C, the gradients.

Lightning starts the processes (``trainer.strategy=ddp``: its subprocess launcher re-runs
the command line for ranks 1..N-1; torchrun and SLURM start every rank themselves, as
Lightning's cluster environments expect) and sets up the process group. trainlab adds:

- **The run directory, decided once**, by rank 0, for every rank (``trainlab.config.launch``).
- **Only global rank 0 writes** run files (config, summary, preprocessing, pictures,
  submission, TensorBoard events; Lightning saves checkpoints from rank 0 only). The other
  ranks print nothing of their own and, when a run stops (diverged, Ctrl-C), exit with 0
  after rank 0 has the say (under torchrun another code would end rank 0 while it writes).
- **Ctrl-C agreed by every rank** (``CtrlC``): a press is recorded, and the ranks agree on it
  where each passes alike: every Lightning step, the end of each epoch's training and of its
  validation, and the end of the test (``DistributedTraining.agree``); then every rank raises
  ``StopRequested`` at the same point.
- **A rank that stops** (killed, crashed, silent): every collective step raises
  ``CollectiveFailed`` on the others, at once where the rank's process ended (its connections
  close), else after the process group's timeout (``distributed.timeout``);
  ``trainlab.training.ddp`` says which rank, and the run stops as failed.
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
from collections.abc import Iterator, Sequence
from typing import Any

# Words of a failed collective step, as gloo, NCCL and c10d's store put them (lower case).
_COMMUNICATION = ("gloo", "nccl", "connection", "timed out", "timeout", "broken pipe", "socket", "peer")


def world() -> tuple[int, int]:
    """(global rank, world size) of the process group; (0, 1) without one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class CtrlC:
    """Ctrl-C under DDP: the press is recorded, and every rank stops at the same point, where
    the ranks agree on it (``GradientSync.stop_requested``: each Lightning step, the end of each
    epoch's training and of its validation, the end of the test). A plain KeyboardInterrupt
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


class CollectiveFailed(RuntimeError):
    """A collective step (all-reduce, broadcast, barrier, the ranks' meeting) failed: another
    rank's process ended (its connections closed: noticed at once) or it did not answer within
    the process group's timeout (``distributed.timeout``); ``timed_out`` says the latter."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.timed_out = any(w in str(error).lower() for w in ("timed out", "timeout"))


def is_communication_error(error: BaseException) -> bool:
    """Whether ``error``, raised by a collective step, is the backend's failure to communicate
    (torch's ``DistError``, or a RuntimeError in gloo's or NCCL's words), not a local one."""
    import torch.distributed as dist

    if isinstance(error, CollectiveFailed | dist.DistError):
        return True
    return isinstance(error, RuntimeError) and any(w in str(error).lower() for w in _COMMUNICATION)


@contextlib.contextmanager
def collective() -> Iterator[None]:
    """Around a collective step: a communication error becomes ``CollectiveFailed``."""
    try:
        yield
    except CollectiveFailed:
        raise
    except RuntimeError as error:
        if not is_communication_error(error):
            raise
        raise CollectiveFailed(error) from error


def collective_failure(error: BaseException | None) -> CollectiveFailed | None:
    """The ``CollectiveFailed`` that ``error`` is, or was raised from or while handling; else None."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, CollectiveFailed):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def _all_reduce(values: Any) -> None:
    """``dist.all_reduce`` (a sum, in place); its failure to communicate as ``CollectiveFailed``."""
    import torch.distributed as dist

    try:
        dist.all_reduce(values)
    except RuntimeError as error:
        if is_communication_error(error):
            raise CollectiveFailed(error) from error
        raise


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

        grads = []
        for p in self.params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            grads.append(p.grad)
        flat = torch.cat([*(g.reshape(-1) for g in grads), loss.detach().reshape(1).to(grads[0].dtype)])
        flat.mul_(rows / global_rows)
        _all_reduce(flat)
        offset = 0
        for g in grads:
            n = g.numel()
            g.copy_(flat[offset : offset + n].view_as(g))
            offset += n
        return flat[offset]

    def stop_requested(self, device: Any) -> bool:
        """Whether Ctrl-C was pressed on any rank (one small all-reduce, read at once)."""
        import torch

        flag = torch.tensor([1.0 if self.ctrl_c is not None and self.ctrl_c.pressed else 0.0], device=device)
        _all_reduce(flag)
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
        _all_reduce(values)
        return values


class DistributedTraining:
    """What a fit under a parallel strategy needs around it: DDP's reducer off (even for one
    process: trainlab steps its optimizer itself, many times per Lightning step) and, on
    several ranks, the step unit's gradients averaged by ``GradientSync`` and Ctrl-C agreed on
    from the start of training to the end of the test (``agree``; ``release`` ends it)."""

    def __init__(self) -> None:
        self._no_sync: contextlib.ExitStack | None = None
        self._ctrl_c: CtrlC | None = None
        self._sync: GradientSync | None = None
        self._device: Any = None

    def watch(self, world_size: int) -> None:
        """On several ranks, Ctrl-C recorded rather than raised (``CtrlC``) until ``release``.
        Called before Lightning's fit or test, whose signal handling puts back at its end the
        handlers it found at its start."""
        if world_size > 1 and self._ctrl_c is None:
            self._ctrl_c = CtrlC()
            self._ctrl_c.install()

    def start(self, trainer: Any, steps: Any, model: Any) -> None:
        """At the start of training: DDP's reducer off; on several ranks, Ctrl-C watched (if
        ``watch`` has not) and the step unit's gradients averaged."""
        self.end()
        block = getattr(trainer.strategy, "block_backward_sync", None)  # Lightning's parallel strategies
        if block is not None:
            self._no_sync = contextlib.ExitStack()
            self._no_sync.enter_context(block())
        if trainer.world_size == 1:
            return
        distribute = getattr(steps, "distribute", None)
        if distribute is None:
            raise RuntimeError(f"{type(steps).__name__} cannot train on several devices")
        self.watch(trainer.world_size)
        self._sync = GradientSync(list(model.parameters()), trainer.global_rank, trainer.world_size, self._ctrl_c)
        self._device = trainer.strategy.root_device
        distribute(self._sync)

    def agree(self) -> None:
        """A point every rank passes alike (the end of an epoch's validation, of the test):
        ``StopRequested`` on every rank where Ctrl-C was pressed on any; nothing on one process."""
        if self._sync is not None and self._sync.stop_requested(self._device):
            raise StopRequested

    def end(self) -> None:
        """Leave DDP's ``no_sync`` (at the end of training). Ctrl-C is still agreed on: the test
        that follows is a step every rank takes too."""
        if self._no_sync is not None:
            self._no_sync.close()
            self._no_sync = None

    def release(self) -> None:
        """Leave what ``start`` set up, Ctrl-C's watch included (after the test, or after an error)."""
        self.end()
        if self._ctrl_c is not None:
            self._ctrl_c.uninstall()
            self._ctrl_c = None
        self._sync = None
