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

**A stack that shrinks.** Members stop at different epochs (early stopping, divergence, their
own max_epochs, a pruner: anything that ends their ``Record``). A stopped member is first
masked: it is computed but not stepped. At the start of an epoch (``start_epoch``), when the
members still training are at most ``shrink_below`` of those computed (``SHRINK_BELOW`` by
default: measured, see below), the unit gathers everything with a member axis down to them:
the network (``StackedNetwork.keep_only``), the optimizer's hyper-parameters, step counts and
moments (``StackedOptimizer.gather_``) and each chunk's rows (``rows[members]``: each member's
order is drawn from its own seed's generator, so the survivors' mini-batches do not change);
the CUDA graph is captured again at the new width. The stack's time then follows its live
members. The dropped members' weights and optimizer state are kept as they stopped, and
scattered back wherever the module sees the stack: ``weights()`` [M, P], ``member_state(m)``,
``learning_rates()``, ``end_epoch()`` (dropped members: not trained), ``state_dict()`` (the
checkpoint's full-width form: resume, a member's share of last.ckpt and Ctrl-C are unchanged),
and validation evaluates the computed members only (``Evaluation.evaluate``'s ``members``).
``load_weights`` (the best weights put in at the end of training) grows the stack back to all
M members, for the test loop. A stack resumed from a checkpoint in which some members had
stopped shrinks at its first epoch. A survivor's numbers are those of the unshrunk stack up to
float rounding (a reduction or batched matmul at another width may sum in another order:
1e-6 on CPU); dropout draws every member's uniform numbers and keeps the survivors' rows, so
its masks are unchanged too. ``shrink_below=0`` never shrinks (masked members are computed
to the end, as before).

Measured (``scripts/bench_shrink.py``, 2-core CPU, 2-16-16-2 on 20k rows, batch 32, Adam): a
shrink (the gathers) costs about 0.4 ms for 64 members, against an optimizer step that costs
about 230 us + 8 us per member; so shrinking as soon as anyone stops (``SHRINK_BELOW = 1.0``)
was fastest: 64 members stopping four per epoch from epoch 5 to 20 trained in 8.4 s (fit),
against 8.8 s at 0.75, 9.5 s at 0.5 and 12.0 s never shrinking. 48 of 64 members stopping
after 5 of 20 epochs: 7.6 s, 1.01x the time of 5 epochs at 64 plus 15 at 16 (never
shrinking: 12.9 s, 1.73x). On CUDA each shrink adds a capture (a few steps); not measured here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import torch

from trainlab.data.stacked import StackChunk, Step
from trainlab.errors import Diverged
from trainlab.training.cuda_graph import capture
from trainlab.training.losses import Loss
from trainlab.training.stack.network import StackedNetwork
from trainlab.training.stack.optim import StackedOptimizer, scatter_state
from trainlab.training.steps import EpochTotals, Plan

log = logging.getLogger(__name__)

Outputs = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # a step's losses [M], outputs, targets

# Shrink when the members still training are at most this share of the members computed
# (1.0: as soon as one stops; 0: never). Measured: see the module doc.
SHRINK_BELOW = 1.0


class StackSteps:
    """Trains ``network``'s members on ``loss`` with ``optimizer(params)`` (see the module doc).
    ``size``: how many members trained together (a resumed member's: the stack it trained in).
    ``shrink_below``: when to shrink (see the module doc); None: ``SHRINK_BELOW`` at ``start``."""

    def __init__(
        self,
        network: StackedNetwork,
        loss: Loss,
        optimizer: Callable[[list[torch.Tensor]], StackedOptimizer],
        max_loss: float | None = None,
        cuda_graph: bool = True,
        shrink_below: float | None = None,
    ) -> None:
        self.model, self.loss, self.factory = network, loss, optimizer
        self.max_loss, self.cuda_graph, self.shrink_below = max_loss, cuda_graph, shrink_below
        self.size = network.width
        self._full_optimizer: dict[str, Any] | None = None  # shrunk: the optimizer's full-width state then
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
        self.model.grow()  # training starts with every member; start_epoch shrinks
        flat, _ = self.model.flatten_()
        self.optimizer = self.factory([flat])
        if self._restored is not None:  # resumed: the state load_state_dict kept
            self.optimizer.load_state_dict(self._restored)
            self._restored = None
        self._full_optimizer = None
        self.threshold = SHRINK_BELOW if self.shrink_below is None else self.shrink_below
        self._new_width()

    # ----- an epoch -----

    def start_epoch(self, training: Sequence[bool]) -> None:
        self.training = list(training)
        computed = self.computed()
        live = [m for m in computed if training[m]]
        if live and len(live) < len(computed) and len(live) <= self.threshold * len(computed):
            self._shrink(live)
            computed = live
        device = self.model.flat.device
        active = [training[m] for m in computed]
        zeros = torch.zeros(self.model.n_members, device=device)
        self.loss_sum, self.metric_sum, self.bad_loss = zeros.clone(), zeros.clone(), zeros.clone()
        self.ragged_rows = zeros.clone()  # each member's rows of the ragged chunks (beside ``rows``: every member's)
        self.bad_step = torch.full((self.model.n_members,), -1, device=device, dtype=torch.long)
        self.epoch_start_weights = self.model.flat.detach().clone()  # a diverging member's last good weights
        # Which computed members step: all (no mask), or, once some have stopped, those still training.
        self.stepping = None if all(active) else torch.tensor(active, device=device)
        self.graph_active.copy_(torch.tensor(active, device=device))
        self.rows, self.epoch = 0, 0
        self._steps: list[Outputs] = []

    def run(self, chunk: StackChunk, done: int, limit: int | None, epoch: int, schedulers: Sequence) -> int:
        self.epoch = epoch
        members = self.model.members
        if members is not None:  # shrunk: the computed members' rows
            keeps = None if chunk.keeps is None else tuple(chunk.keeps[m] for m in members.tolist())
            chunk = chunk._replace(member_data=chunk.member_data[members], rows=chunk.rows[members], keeps=keeps)
        steps = chunk.steps(limit)  # a member with fewer rows than others steps on its own only
        for rows, active, _ in steps:
            if active is not None:
                self._steps.append(self._step(chunk, rows, active if self.stepping is None else active & self.stepping))
            elif self.use_graph and rows.shape[1] == chunk.batch_size:
                self._steps.append(self._replay(chunk, rows))
            else:
                self._steps.append(self._step(chunk, rows, self.stepping))
        if any(step.active is not None for step in steps):
            self._fold_ragged(done, steps)
        else:
            self.rows += sum(step.rows.shape[1] for step in steps)
            self._fold(done, chunk.batch_size)
        return steps[-1].index + 1 if steps else 0

    def end_epoch(self) -> EpochTotals:
        """The epoch's totals for all M members (those not computed: not trained, zeros)."""
        # divided on the host, as alone, each member by its own rows (a ragged stack's differ)
        sums = torch.stack([self.loss_sum, self.metric_sum, self.bad_loss, self.ragged_rows]).tolist()
        bad_steps, lrs = self.bad_step.tolist(), self.learning_rates()
        width = self.model.width
        loss, metric, diverged = [0.0] * width, [0.0] * width, [None] * width
        for at, m in enumerate(self.computed()):
            rows = max(self.rows + int(sums[3][at]), 1)
            loss[m], metric[m] = sums[0][at] / rows, sums[1][at] / rows
            if bad_steps[at] >= 0:
                diverged[m] = Diverged(self.epoch, bad_steps[at], sums[2][at], lrs[m])
        return EpochTotals(loss, metric, self.training, diverged)  # type: ignore[arg-type]

    def learning_rates(self) -> list[float]:
        """Each of the M members' learning rate (a dropped member's as it stopped)."""
        lr = self.optimizer.hyper["lr"]
        if self._full_optimizer is not None:
            lr = self._full_optimizer["hyper"]["lr"].index_copy(0, self.model.members, lr)
        return lr.tolist()

    def computed(self) -> list[int]:
        """The members the stack computes now (indices among its M), ascending."""
        members = self.model.members
        return list(range(self.model.width)) if members is None else members.tolist()

    # ----- shrinking (see the module doc) -----

    def _shrink(self, live: list[int]) -> None:
        """Compute only ``live`` from now on: the network, the optimizer and the rows gathered."""
        full = self._optimizer_state()
        before = self.model.n_members
        positions = self.model.keep_only(torch.tensor(live, device=self.model.flat.device))
        self.optimizer.gather_(positions, [self.model.flat])
        self._full_optimizer = full
        self._new_width()
        log.info(
            "the stack computes %d of its %d members (was %d): the others have stopped",
            len(live),
            self.model.width,
            before,
        )

    def _grow(self) -> None:
        """Compute every member again (training has ended), with its optimizer's full state."""
        full = self._optimizer_state()
        self.model.grow()
        self.optimizer = self.factory([self.model.flat])
        self.optimizer.load_state_dict(full)
        self._full_optimizer = None
        self._new_width()

    def _new_width(self) -> None:
        """The graph captured anew at the next full mini-batch, its member mask at the new width."""
        self.graph_active = torch.ones(self.model.n_members, dtype=torch.bool, device=self.model.flat.device)
        self._graph = None

    def _optimizer_state(self) -> dict[str, Any]:
        """The optimizer's state for all M members (the dropped ones' as they stopped)."""
        state = self.optimizer.state_dict()
        if self._full_optimizer is None:
            return state
        return scatter_state(self._full_optimizer, state, self.model.members)

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

    @torch.no_grad()
    def _fold_ragged(self, done: int, steps: Sequence[Step]) -> None:
        """``_fold`` for a chunk whose members differ in rows (``StackChunk.steps``): each step
        counts for its active members alone, weighted by their rows; a member's first bad step
        is numbered by its mini-batch."""
        losses, outputs, targets = zip(*self._steps, strict=True)
        self._steps = []
        table = torch.stack(losses)  # [k, M]
        every = torch.ones_like(table[0], dtype=torch.bool)
        active = torch.stack([every if step.active is None else step.active for step in steps])  # [k, M]
        weight = active * torch.tensor([[step.rows.shape[1]] for step in steps], device=table.device)
        self.loss_sum += (table * weight).sum(0)
        self.ragged_rows += weight.sum(0)
        for output, target, on in zip(outputs, targets, active, strict=True):
            self.metric_sum += self.loss.train_metric_sum(output, target) * on
        bad = ~torch.isfinite(table)
        if self.max_loss is not None:
            bad |= table > self.max_loss
        bad &= active
        first_bad = bad.to(torch.uint8).argmax(0)
        batch = torch.tensor([step.index for step in steps], device=table.device)[first_bad]
        newly = bad.any(0) & (self.bad_step < 0)
        self.bad_step = torch.where(newly, done + batch + 1, self.bad_step)
        self.bad_loss = torch.where(newly, table.gather(0, first_bad.unsqueeze(0)).squeeze(0), self.bad_loss)

    # ----- the members' weights -----

    @torch.no_grad()
    def restart(self, member: int) -> None:
        computed = self.computed()
        if member in computed:  # (a dropped member did not change in this epoch)
            at = computed.index(member)
            self.model.flat[at] = self.epoch_start_weights[at]

    def weights(self) -> torch.Tensor:
        """All M members' weights [M, P], the dropped ones' as they stopped."""
        return self.model.full_weights()

    @torch.no_grad()
    def load_weights(self, weights: torch.Tensor, members: torch.Tensor) -> None:
        """Set the rows of ``weights`` [M, P] where ``members``; a shrunk stack grows back to all
        M members first (this is the end of training: the test loop tests every member)."""
        if self.model.members is not None:
            self._grow()
        current = self.model.weights()
        self.model.load_weights(torch.where(members.unsqueeze(1), weights.to(current.device), current))

    def member_state(self, member: int) -> dict[str, torch.Tensor]:
        return self.model.member_state(member)

    def state_dict(self) -> dict[str, Any]:
        """The stacked optimizer's state (all M members', shrunk or not), the layers' names and
        the stack's size (what a checkpoint needs beyond Lightning's)."""
        return {"names": self.model.names, "size": self.size, "optimizer": self._optimizer_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.size = state["size"]
        self._restored = state["optimizer"]
