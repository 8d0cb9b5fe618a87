"""The step unit: how one Lightning training step runs its optimizer steps.

``TrainingModule`` hands every training batch (a ``Chunk`` of consecutive mini-batches) to
a step unit and asks it once per epoch for the epoch's training sums. ``StepUnit`` is the
interface; ``SingleModelSteps`` trains one model. (A unit that steps many stacked models at
once implements the same interface.)

``SingleModelSteps`` runs the optimizer step of every mini-batch of the chunk, in order:
the arithmetic of separate steps, with Lightning's per-step cost paid once per chunk. On
CUDA, each full mini-batch replays one captured step (``trainlab.training.cuda_graph``). Nothing in
a step reads a value back from the device: the losses and the training metric are summed
on the device (by the graph into static accumulators, or from the eager steps' detached
outputs at the end of the epoch), and read once per epoch. The losses are also probed for
divergence, asynchronously (``trainlab.training.divergence``), and with ``log_every_n_steps`` = N
every N-th step's loss is kept on the device for the epoch's log.

On several devices (Lightning's DDP; ``distribute``), each step trains on this rank's
slice of the global mini-batch (``Chunk.shards``), and ``trainlab.training.distributed.GradientSync``
averages the gradients and the step's loss over the ranks after the backward, so every
rank steps alike, probes the global loss (the divergence decision is every rank's) and
sums the epoch over all rows. The steps then run eagerly: the all-reduce sits between the
backward and the optimizer step, outside what a CUDA graph captures here. Ctrl-C is agreed
on at each Lightning step (``StopRequested`` on every rank at once).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import nn

from trainlab.data.loader import Chunk
from trainlab.training.cuda_graph import StepGraph, capturable, optimizer_class
from trainlab.training.distributed import GradientSync, StopRequested
from trainlab.training.divergence import DivergenceWatch
from trainlab.training.losses import Loss

log = logging.getLogger(__name__)
FAST_PRECISION = ("32-true", "32", 32)


@dataclass
class EpochTotals:
    """One epoch's training, read from the device at once: mean loss and mean metric
    (accuracy, or mean absolute error for regression) over its rows, and the kept
    (optimizer step, loss) pairs."""

    loss: float
    metric: float
    step_losses: list[tuple[int, float]] = field(default_factory=list)


@dataclass
class Plan:
    """Where and how a unit trains: decided before the optimizer is built."""

    device: torch.device
    loader: str  # "memory" or "dataloader"
    steps_per_call: int
    precision: str
    world_size: int = 1  # processes training together (Lightning's DDP)


class StepUnit(Protocol):
    """What ``TrainingModule`` needs from a step unit."""

    description: str

    def plan(self, plan: Plan, optimizer: Callable[..., torch.optim.Optimizer]) -> Callable[..., torch.optim.Optimizer]:
        """Choose the path; return the optimizer factory to build the optimizer with."""

    def start(self, optimizer: torch.optim.Optimizer, backward: Callable | None, step: Callable | None) -> None:
        """Training begins with ``optimizer``; ``backward``/``step`` replace ``loss.backward()``
        and ``optimizer.step()`` when given (Lightning's precision plugins)."""

    def start_epoch(self) -> None: ...

    def run(self, chunk: Chunk, done: int, limit: int | None, epoch: int, schedulers: Sequence) -> int:
        """Run the chunk's optimizer steps (at most ``limit``), counted from ``done`` + 1;
        step ``schedulers`` after each. Returns the number of steps run."""

    def end_epoch(self) -> EpochTotals: ...


class SingleModelSteps:
    """Trains one ``model`` on ``loss`` (see the module doc).

    ``gradient_clip_val``: gradients are clipped to that total norm before each step.
    ``max_loss``: a training loss above it (or not finite) raises ``Diverged``.
    """

    def __init__(
        self,
        model: nn.Module,
        loss: Loss,
        cuda_graph: bool = True,
        gradient_clip_val: float | None = None,
        max_loss: float | None = None,
        log_every_n_steps: int | None = None,
    ) -> None:
        self.model, self.loss = model, loss
        self.cuda_graph, self.gradient_clip_val = cuda_graph, gradient_clip_val
        self.log_every_n_steps = log_every_n_steps
        self.description = ""
        self.watch = DivergenceWatch(max_loss)
        self._graph_wanted = False
        self._graph: StepGraph | None = None
        self._capturing = False
        self._eager: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []  # (loss, output, target)
        self._step_log: list[tuple[int, torch.Tensor]] = []
        self._rows = 0
        self.sync: GradientSync | None = None

    def distribute(self, sync: GradientSync | None) -> None:
        """Train as one rank of several: gradients and losses averaged by ``sync`` (None: alone)."""
        self.sync = sync
        self.watch.synchronized = sync is not None

    # ----- the path -----

    def plan(self, plan: Plan, optimizer: Callable[..., torch.optim.Optimizer]) -> Callable[..., torch.optim.Optimizer]:
        base = (
            f"in-memory tensors on {plan.device}, {plan.steps_per_call} mini-batch(es) per Lightning step"
            if plan.loader == "memory"
            else f"torch DataLoader, {plan.steps_per_call} mini-batch(es) per Lightning step"
        )
        reasons = []
        if plan.device.type != "cuda":
            reasons.append("not on CUDA")
        if plan.loader != "memory":
            reasons.append("speed.loader is not memory")
        if plan.precision not in map(str, FAST_PRECISION):
            reasons.append(f"precision {plan.precision}")
        if plan.world_size > 1:
            reasons.append("DDP averages the gradients between the processes after each backward")
        if capturable(optimizer) is None:
            cls = optimizer_class(optimizer)
            reasons.append(f"optimizer {cls.__name__ if cls else optimizer} cannot be captured")
        if not self.cuda_graph:
            self.description = f"{base}, eager (speed.cuda_graph=false)"
        elif reasons:
            self.description = f"{base}, eager (no CUDA graph: {'; '.join(reasons)})"
        else:
            self.description = f"{base}, each full mini-batch one CUDA graph replay"
        self._graph_wanted = self.cuda_graph and not reasons
        return capturable(optimizer) if self._graph_wanted else optimizer

    def start(self, optimizer: torch.optim.Optimizer, backward: Callable | None, step: Callable | None) -> None:
        self.optimizer = optimizer
        self._backward = backward or (lambda loss: loss.backward())
        self._optimizer_step = step or optimizer.step
        device = next(self.model.parameters()).device
        self._loss_sum = torch.zeros((), device=device)  # the graph's static accumulators
        self._metric_sum = torch.zeros((), device=device)

    # ----- an epoch -----

    def start_epoch(self) -> None:
        self._loss_sum.zero_()
        self._metric_sum.zero_()
        self._eager, self._step_log, self._rows = [], [], 0
        if self._graph is not None and self._graph.stale():
            self._graph = None  # a scheduler changed the learning rate: capture again

    def run(self, chunk: Chunk, done: int, limit: int | None, epoch: int, schedulers: Sequence) -> int:
        x, y, size = chunk.x, chunk.y, chunk.batch_size
        pieces = chunk.shards(limit)
        self.watch.poll()  # earlier chunks' losses, where their copy to the host has landed
        if self.sync is not None and self.sync.stop_requested(x.device):  # Ctrl-C on any rank: every rank stops here
            raise StopRequested
        probes: list[torch.Tensor] = []
        probe_steps: list[tuple[int, int | None]] = []
        graph_before, graph_rows, graph_first, graph_last = None, 0, 0, 0
        for step, (rows, global_rows) in enumerate(pieces, done + 1):
            if self._graph_wanted and len(rows) == size:
                if self._graph is None:
                    self._capture(x, y, size)
                if graph_before is None:
                    graph_before, graph_first = self._loss_sum.clone(), step
                kept = self._keeps(step)
                before = self._loss_sum.clone() if kept else None
                self._graph.replay(rows)
                graph_rows, graph_last = graph_rows + len(rows), step
                if kept:
                    self._step_log.append((step, (self._loss_sum - before) / len(rows)))
            else:
                loss = self._step(x.index_select(0, rows), y.index_select(0, rows), global_rows)
                probes.append(loss)
                probe_steps.append((step, None))
                if self._keeps(step):
                    self._step_log.append((step, loss))
            for scheduler in schedulers:  # step-interval schedulers (the LR finder's ramp)
                scheduler.step()
            self._rows += len(rows)
        if graph_rows:  # the replays' mean loss, for their stretch of steps
            probes.append((self._loss_sum - graph_before) / graph_rows)
            probe_steps.append((graph_last, graph_first))
        self.watch.probe(probes, probe_steps, epoch, self._lr())
        return len(pieces)

    def end_epoch(self) -> EpochTotals:
        self.watch.poll(wait=True)  # every step of the epoch is checked before it counts as done
        loss_sum, metric_sum = self._loss_sum.clone(), self._metric_sum.clone()
        if self._eager:
            with torch.no_grad():
                losses, outputs, targets = zip(*self._eager, strict=True)
                sizes = torch.tensor([len(t) for t in targets], device=loss_sum.device, dtype=loss_sum.dtype)
                loss_sum += (torch.stack(losses) * sizes).sum()
                metric_sum += self.loss.train_metric_sum(torch.cat(outputs), torch.cat(targets))
        rows_read = self._rows
        if self.sync is not None:  # the sums over every rank's rows, and a Ctrl-C press on any rank
            pressed = float(self.sync.ctrl_c is not None and self.sync.ctrl_c.pressed)
            extra = torch.tensor([self._rows, pressed], device=loss_sum.device, dtype=torch.float64)  # exact counts
            totals = self.sync.sum(torch.cat([loss_sum.reshape(1).double(), metric_sum.reshape(1).double(), extra]))
            loss_sum, metric_sum = totals[0], totals[1]
            rows_read, pressed = (int(v) for v in totals[2:].tolist())
            if pressed:
                self._eager, self._step_log = [], []
                raise StopRequested
        read = [loss_sum, metric_sum, *(loss for _, loss in self._step_log)]
        values = torch.stack([t.to(torch.float32) for t in read]).tolist()  # one wait for the device
        rows = max(rows_read, 1)
        kept = list(zip((step for step, _ in self._step_log), values[2:], strict=True))
        self._eager, self._step_log = [], []
        return EpochTotals(values[0] / rows, values[1] / rows, kept)

    @property
    def last_loss(self) -> torch.Tensor | None:
        """The latest eager step's loss (on the device), or None."""
        return self._eager[-1][0] if self._eager else None

    # ----- one optimizer step -----

    def _step(self, x: torch.Tensor, y: torch.Tensor, global_rows: int | None = None) -> torch.Tensor:
        """One optimizer step on one mini-batch; adds its loss and metric to the sums.
        Returns the step's loss (on several devices: the global mini-batch's, of
        ``global_rows`` rows, all ranks' gradients averaged)."""
        if len(x) or self.sync is None:
            output = self.model(x)
            loss = self.loss(output, y)
            self.optimizer.zero_grad(set_to_none=True)
            self._backward(loss)
        else:  # no rows of the epoch's last, partial mini-batch: zero gradients, weighed 0
            self.optimizer.zero_grad(set_to_none=True)
            output, loss = None, torch.zeros((), device=x.device)
        step_loss = loss
        if self.sync is not None:
            step_loss = self.sync.average(loss, len(x), global_rows or len(x))
        if self.gradient_clip_val:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.gradient_clip_val)
        self._optimizer_step()
        if self._capturing:
            with torch.no_grad():  # static accumulators, updated by every replay
                self._loss_sum.add_(loss.detach() * len(x))
                self._metric_sum.add_(self.loss.train_metric_sum(output.detach(), y))
        elif output is not None:  # no kernels per step: the sums are taken once, at the end of the epoch
            self._eager.append((loss.detach(), output.detach(), y))
        return step_loss.detach()

    def _capture(self, x: torch.Tensor, y: torch.Tensor, size: int) -> None:
        self._capturing = True
        try:
            accumulators: Iterable[torch.Tensor] = (self._loss_sum, self._metric_sum)
            self._graph = StepGraph(self._step, x, y, size, self.optimizer, self.model.parameters(), accumulators)
        finally:
            self._capturing = False

    def _keeps(self, step: int) -> bool:
        return bool(self.log_every_n_steps) and step % self.log_every_n_steps == 0

    def _lr(self) -> float:
        lr = self.optimizer.param_groups[0]["lr"]
        return lr if isinstance(lr, float | int) else float("nan")  # a tensor lr is not read mid-epoch
