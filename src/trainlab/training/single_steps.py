"""One model's step unit (``trainlab.training.steps``): the optimizer steps of a chunk of mini-batches.

``SingleModelSteps`` runs the optimizer step of every mini-batch of the chunk, in order:
the arithmetic of separate steps, with Lightning's per-step cost paid once per chunk. On
CUDA, each full mini-batch replays one captured step (``trainlab.training.cuda_graph``).
Nothing in a step reads a value back from the device: the losses and the training metric
are summed on the device (by the graph into static accumulators, or from the eager steps'
detached outputs at the end of the epoch), and read once per epoch. The losses are also
probed for divergence, asynchronously (``trainlab.training.divergence``): a diverging model
raises ``Diverged`` at once (it is the run's only member). With ``log_every_n_steps`` = N every
N-th step's loss is kept on the device for the epoch's log.

On several devices (Lightning's DDP; ``distribute``), each step trains on this rank's slice of
the global mini-batch (``Chunk.shards``), and ``trainlab.training.distributed.GradientSync``
averages the gradients and the step's loss over the ranks after the backward, so every rank
steps alike, probes the global loss (the divergence decision is every rank's) and sums the
epoch over all rows. The steps then run eagerly: the all-reduce sits between the backward and
the optimizer step, outside what a CUDA graph captures here. Ctrl-C is agreed on at each
Lightning step (``StopRequested`` on every rank at once).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from trainlab.data.loader import Chunk
from trainlab.training.cuda_graph import StepGraph, capturable, optimizer_class
from trainlab.training.distributed import GradientSync, StopRequested
from trainlab.training.divergence import DivergenceWatch
from trainlab.training.losses import Loss
from trainlab.training.steps import FAST_PRECISION, EpochTotals, Plan

Factory = Callable[..., torch.optim.Optimizer]


class SingleModelSteps:
    """Trains one ``model`` on ``loss`` with the optimizer ``optimizer(params)`` (see the module doc).

    ``gradient_clip_val``: gradients are clipped to that total norm before each step.
    ``max_loss``: a training loss above it (or not finite) raises ``Diverged``.
    """

    def __init__(
        self,
        model: nn.Module,
        loss: Loss,
        optimizer: Factory,
        cuda_graph: bool = True,
        gradient_clip_val: float | None = None,
        max_loss: float | None = None,
        log_every_n_steps: int | None = None,
    ) -> None:
        self.model, self.loss, self.factory = model, loss, optimizer
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

    def plan(self, plan: Plan) -> None:
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
        if capturable(self.factory) is None:
            cls = optimizer_class(self.factory)
            reasons.append(f"optimizer {cls.__name__ if cls else self.factory} cannot be captured")
        if not self.cuda_graph:
            self.description = f"{base}, eager (speed.cuda_graph=false)"
        elif reasons:
            self.description = f"{base}, eager (no CUDA graph: {'; '.join(reasons)})"
        else:
            self.description = f"{base}, each full mini-batch one CUDA graph replay"
        self._graph_wanted = self.cuda_graph and not reasons

    def configure_optimizer(self) -> torch.optim.Optimizer:
        factory = capturable(self.factory) if self._graph_wanted else self.factory
        assert factory is not None
        return factory(self.model.parameters())

    def start(self, optimizer: Any, backward: Callable | None, step: Callable | None) -> None:
        self.optimizer = optimizer
        self._backward = backward or (lambda loss: loss.backward())
        self._optimizer_step = step or optimizer.step
        device = next(self.model.parameters()).device
        self._loss_sum = torch.zeros((), device=device)  # the graph's static accumulators
        self._metric_sum = torch.zeros((), device=device)

    # ----- an epoch -----

    def start_epoch(self, training: Sequence[bool] = (True,)) -> None:
        """(One model trains whenever Lightning runs an epoch: ``training`` is not read.)"""
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
                assert self._graph is not None
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
        self.watch.probe(probes, probe_steps, epoch, self.learning_rates()[0])
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
            try:
                loss_sum, metric_sum, rows_read = self.sync.epoch_sums(loss_sum, metric_sum, self._rows)
            except StopRequested:
                self._eager, self._step_log = [], []
                raise
        read = [loss_sum, metric_sum, *(loss for _, loss in self._step_log)]
        values = torch.stack([t.to(torch.float32) for t in read]).tolist()  # one wait for the device
        rows = max(rows_read, 1)
        kept = list(zip((step for step, _ in self._step_log), values[2:], strict=True))
        self._eager, self._step_log = [], []
        return EpochTotals([values[0] / rows], [values[1] / rows], [True], [None], kept)

    @property
    def last_loss(self) -> torch.Tensor | None:
        """The latest eager step's loss (on the device), or None."""
        return self._eager[-1][0] if self._eager else None

    def learning_rates(self) -> list[float]:
        lr = self.optimizer.param_groups[0]["lr"]
        return [lr if isinstance(lr, float | int) else float("nan")]  # a tensor lr is not read mid-epoch

    # ----- the model's weights, as a member of one -----

    def restart(self, member: int) -> None:
        raise AssertionError("one model's divergence stops its run: nothing trains on to restart")

    def weights(self) -> torch.Tensor:
        return torch.cat([p.detach().reshape(1, -1) for p in self.model.parameters()], dim=1)

    @torch.no_grad()
    def load_weights(self, weights: torch.Tensor, members: torch.Tensor) -> None:
        if not bool(members[0]):
            return
        sizes = [p.numel() for p in self.model.parameters()]
        for p, row in zip(self.model.parameters(), weights[0].split(sizes), strict=True):
            p.copy_(row.view_as(p))

    def member_state(self, member: int) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def state_dict(self) -> dict[str, Any]:
        return {}  # Lightning keeps the optimizer's

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

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
            accumulators = (self._loss_sum, self._metric_sum)
            self._graph = StepGraph(self._step, x, y, size, self.optimizer, self.model.parameters(), accumulators)
        finally:
            self._capturing = False

    def _keeps(self, step: int) -> bool:
        return bool(self.log_every_n_steps) and step % self.log_every_n_steps == 0
