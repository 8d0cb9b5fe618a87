"""A stack's step unit (``trainlab.training.steps``): every member's optimizer steps at once.

Each Lightning step gets a ``StackChunk``: each member's rows of a few consecutive
mini-batches. One optimizer step updates every member still training (``StackedOptimizer``,
masked once some have stopped); on CUDA each full mini-batch's step is one CUDA-graph replay
(``trainlab.training.cuda_graph.capture``): the step was 80-odd launches for the whole stack,
which a GPU spends its time on. Nothing is read back inside a step: the losses and outputs
are summed once per chunk. A member whose loss is not finite or above ``max_loss`` is noted
with its first bad step; it goes on computing in its own slice (no read-back stops it
mid-epoch) and is reported at the epoch's end, when the module records it as diverged and
puts back its weights from the epoch's start (``restart``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from trainlab.data.stacked import StackChunk
from trainlab.errors import Diverged
from trainlab.training.cuda_graph import capture
from trainlab.training.losses import Loss
from trainlab.training.stack.network import StackedNetwork
from trainlab.training.stack.optim import StackedOptimizer
from trainlab.training.steps import EpochTotals, Plan

Outputs = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # a step's losses [M], outputs, targets


class StackSteps:
    """Trains ``network``'s members on ``loss`` with ``optimizer(params)`` (see the module doc).
    ``size``: how many members trained together (a resumed member's: the stack it trained in)."""

    def __init__(
        self,
        network: StackedNetwork,
        loss: Loss,
        optimizer: Callable[[list[torch.Tensor]], StackedOptimizer],
        max_loss: float | None = None,
        cuda_graph: bool = True,
    ) -> None:
        self.model, self.loss, self.factory = network, loss, optimizer
        self.max_loss, self.cuda_graph = max_loss, cuda_graph
        self.size = network.n_members
        self.description = ""
        self._restored: dict[str, Any] | None = None
        self._graph: tuple[torch.cuda.CUDAGraph, Outputs, torch.Tensor] | None = None

    def plan(self, plan: Plan) -> None:
        self.use_graph = self.cuda_graph and plan.device.type == "cuda"
        how = "each full mini-batch one CUDA graph replay" if self.use_graph else "eager"
        self.description = f"a stack of {self.model.n_members} on {plan.device}, {how}"

    def configure_optimizer(self) -> None:
        return None  # the stacked optimizer is not a torch.optim.Optimizer: the unit steps it

    def start(self, optimizer: Any, backward: Callable | None, step: Callable | None) -> None:
        flat, _ = self.model.flatten_()
        self.optimizer = self.factory([flat])
        if self._restored is not None:  # resumed: the state load_state_dict kept
            self.optimizer.load_state_dict(self._restored)
            self._restored = None
        self.graph_active = torch.ones(self.model.n_members, dtype=torch.bool, device=flat.device)
        self._graph = None

    # ----- an epoch -----

    def start_epoch(self, training: Sequence[bool]) -> None:
        device = self.model.flat.device
        self.training = list(training)
        zeros = torch.zeros(self.model.n_members, device=device)
        self.loss_sum, self.metric_sum, self.bad_loss = zeros.clone(), zeros.clone(), zeros.clone()
        self.bad_step = torch.full((self.model.n_members,), -1, device=device, dtype=torch.long)
        self.epoch_start_weights = self.model.flat.detach().clone()  # a diverging member's last good weights
        # Which members step: all (no mask), or, once some have stopped, those still training.
        self.stepping = None if all(training) else torch.tensor(training, device=device)
        self.graph_active.copy_(torch.tensor(training, device=device))
        self.rows, self.epoch = 0, 0
        self._steps: list[Outputs] = []

    def run(self, chunk: StackChunk, done: int, limit: int | None, epoch: int, schedulers: Sequence) -> int:
        self.epoch = epoch
        batches = chunk.batches(limit)
        for rows in batches:
            if self.use_graph and rows.shape[1] == chunk.batch_size:
                self._steps.append(self._replay(chunk, rows))
            else:
                self._steps.append(self._step(chunk, rows, self.stepping))
            self.rows += rows.shape[1]
        self._fold(done, chunk.batch_size)
        return len(batches)

    def end_epoch(self) -> EpochTotals:
        sums = torch.stack([self.loss_sum, self.metric_sum, self.bad_loss]).tolist()  # divided on the host, as alone
        bad_steps, lrs = self.bad_step.tolist(), self.learning_rates()
        rows = max(self.rows, 1)
        diverged = [
            Diverged(self.epoch, step, sums[2][m], lrs[m]) if step >= 0 else None for m, step in enumerate(bad_steps)
        ]
        loss, metric = [s / rows for s in sums[0]], [s / rows for s in sums[1]]
        return EpochTotals(loss, metric, self.training, diverged)

    def learning_rates(self) -> list[float]:
        return self.optimizer.hyper["lr"].tolist()

    # ----- one step of every member -----

    def _step(self, chunk: StackChunk, rows: torch.Tensor, active: torch.Tensor | None) -> Outputs:
        """One optimizer step of every member (of those ``active``, if given) on its ``rows``
        [M, B]: the members' losses [M], outputs and targets."""
        x, y = chunk.mini_batch(rows)
        output = self.model(x)
        losses = self.loss(output, y)
        losses.sum().backward()
        self.optimizer.step(active)
        self.model.zero_grad_()
        return losses.detach(), output.detach(), y

    def _replay(self, chunk: StackChunk, rows: torch.Tensor) -> Outputs:
        """The step on ``rows`` as one replay of the captured step (captured at the first call),
        its outputs copied (the next replay overwrites the graph's)."""
        if self._graph is None:
            static = rows.clone()
            graph, outputs = capture(lambda: self._step(chunk, static, self.graph_active), self._save, self._restore)
            self._graph = graph, outputs, static
        graph, outputs, static = self._graph
        static.copy_(rows)
        graph.replay()
        return tuple(t.clone() for t in outputs)  # type: ignore[return-value]

    def _save(self) -> tuple[torch.Tensor, dict[str, Any]]:
        return self.model.flat.detach().clone(), self.optimizer.state_dict()

    @torch.no_grad()
    def _restore(self, saved: tuple[torch.Tensor, dict[str, Any]]) -> None:
        self.model.flat.copy_(saved[0])
        self.optimizer.load_state_dict(saved[1])
        self.model.zero_grad_()

    @torch.no_grad()
    def _fold(self, done: int, batch_size: int) -> None:
        """Add the chunk's steps (the first of them optimizer step ``done`` + 1) to the epoch's
        sums, and note each member's first diverging step among them (see the module doc)."""
        losses, outputs, targets = zip(*self._steps, strict=True)
        self._steps = []
        table = torch.stack(losses)  # [k, M]
        last = targets[-1].shape[1]  # every step has batch_size rows but maybe the epoch's last
        self.loss_sum += table.sum(0) * batch_size
        if last != batch_size:
            self.loss_sum -= table[-1] * (batch_size - last)
        output, target = torch.cat(outputs, dim=1), torch.cat(targets, dim=1)
        self.metric_sum += self.loss.train_metric_sum(output, target)
        bad = ~torch.isfinite(table)
        if self.max_loss is not None:
            bad |= table > self.max_loss
        first_bad = bad.to(torch.uint8).argmax(0)  # [M]: the first bad step's index (0 if none)
        newly = bad.any(0) & (self.bad_step < 0)
        self.bad_step = torch.where(newly, done + first_bad + 1, self.bad_step)
        self.bad_loss = torch.where(newly, table.gather(0, first_bad.unsqueeze(0)).squeeze(0), self.bad_loss)

    # ----- the members' weights -----

    @torch.no_grad()
    def restart(self, member: int) -> None:
        self.model.flat[member] = self.epoch_start_weights[member]

    def weights(self) -> torch.Tensor:
        return self.model.weights()

    @torch.no_grad()
    def load_weights(self, weights: torch.Tensor, members: torch.Tensor) -> None:
        current = self.model.weights()
        self.model.load_weights(torch.where(members.unsqueeze(1), weights.to(current.device), current))

    def member_state(self, member: int) -> dict[str, torch.Tensor]:
        return self.model.member_state(member)

    def state_dict(self) -> dict[str, Any]:
        """The stacked optimizer's state, the layers' names and the stack's size (what a
        checkpoint needs beyond Lightning's)."""
        return {"names": self.model.names, "size": self.size, "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.size = state["size"]
        self._restored = state["optimizer"]
