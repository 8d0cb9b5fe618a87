"""The LightningModule of a stack: M members trained at once, each by its own rules.

Lightning's Trainer drives it as it drives ``TrainingModule``: each training batch is a
number c, the c-th chunk of ``steps_per_call`` mini-batches of the epoch. Per epoch, member
m's rows are shuffled exactly as a lone run with m's seed shuffles them
(``EpochPermutations``), so member m sees the mini-batches, in the order, that it would see
alone. One optimizer step updates every member still training (``StackedOptimizer``,
masked once some have stopped); nothing is read back inside a step: the losses and outputs
are summed once per chunk. A member whose loss is not finite or above ``max_loss`` is
recorded as diverged at the epoch's end, with its first bad step and its weights from the
epoch's start (what it computes meanwhile stays in its own slice). At the end of each
epoch the members are validated together, their values read in one transfer, and each
member's rules (``trainlab.training.members``) decide
its best epoch (whose weights are kept on the device) and whether it stops; a stopped
member's weights freeze. Training ends when every member has stopped.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import lightning as L
import torch

from trainlab.data.loader import EpochPermutations, rows_per_epoch
from trainlab.data.stacked import StackedData
from trainlab.errors import Diverged
from trainlab.files.checkpoints import restore_rng, rng_state
from trainlab.internals import count_optimizer_steps
from trainlab.training.evaluation import Evaluation
from trainlab.training.losses import Loss
from trainlab.training.members import Record
from trainlab.training.stack.checkpoint import STACKED, load_record, record_state, to_stacked_state_dict
from trainlab.training.stack.graph import StackStepGraph
from trainlab.training.stack.network import StackedNetwork
from trainlab.training.stack.optim import StackedOptimizer


class Chunks:
    """An epoch's training batches for Lightning: the chunk numbers 0..n-1, each
    ``steps_per_call`` mini-batches of ``batch_size`` of the epoch's ``rows`` (what the
    progress bar counts: ``trainlab.training.progress``)."""

    def __init__(self, n: int, steps_per_call: int, batch_size: int, rows: int) -> None:
        self.n, self.steps_per_call, self.batch_size = n, steps_per_call, batch_size
        self.sampler = range(rows)

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.n))


class StackedModule(L.LightningModule):
    """Trains ``net``'s members on ``data`` (see the module doc)."""

    def __init__(
        self,
        net: StackedNetwork,
        data: StackedData,
        loss: Loss,
        optimizer: Callable[[list[torch.Tensor]], StackedOptimizer],
        records: Sequence[Record],
        seeds: Sequence[int],
        batch_size: int,
        steps_per_call: int,
        drop_last: bool = False,
        max_loss: float | None = None,
        cuda_graph: bool = True,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.net, self.data, self.loss = net, data, loss
        self.optimizer_factory, self.records = optimizer, list(records)
        self.batch_size, self.steps_per_call, self.max_loss = batch_size, steps_per_call, max_loss
        self.rows = rows_per_epoch(data.n_train, batch_size, drop_last)
        self.n_batches = math.ceil(self.rows / batch_size)
        self.seeds = list(seeds)
        self.stack_size = len(self.seeds)  # a resumed member's: the stack it trained in
        self.cuda_graph = cuda_graph  # on CUDA: each full mini-batch's step one graph replay (``graph``)
        self.graph: StackStepGraph | None = None
        self.best_states: list[dict[str, torch.Tensor]] | None = None  # set when training ends
        self._restored: dict[str, Any] | None = None
        self.evaluation = Evaluation(loss)

    @property
    def n_members(self) -> int:
        return len(self.records)

    def train_chunks(self) -> Chunks:
        return Chunks(math.ceil(self.n_batches / self.steps_per_call), self.steps_per_call, self.batch_size, self.rows)

    def configure_optimizers(self) -> None:
        return None  # the stacked optimizer is not a torch.optim.Optimizer: the module steps it

    def on_train_start(self) -> None:
        device = self.net.W[0].device
        flat, _ = self.net.flatten_()
        self.optimizer = self.optimizer_factory([flat])
        self.active = torch.tensor([r.training for r in self.records], device=device)
        self.best = flat.detach().clone()  # each member's best epoch's weights (``flatten_``'s layout)
        if self._restored is not None:  # resumed: the state on_load_checkpoint kept
            self.optimizer.load_state_dict(self._restored["optimizer"])
            self.best.copy_(self._restored["best"])
            self._restored = None
        if not self.active.any():  # resumed after every member had stopped
            self.trainer.should_stop = True
        self.graph_active = self.active.clone()  # the captured step's mask (static)
        self.graph = None
        self.use_graph = self.cuda_graph and device.type == "cuda"
        # Drawn on the device, as a lone run's loader draws them there (a CUDA generator's
        # permutations differ from a CPU one's).
        self.orders = [EpochPermutations(self.data.n_train, seed, device) for seed in self.seeds]

    def on_train_epoch_start(self) -> None:
        self._epoch_start = time.perf_counter()
        device = self.active.device
        for order in self.orders:
            order.set_epoch(self.current_epoch)
        self.order = torch.stack([order.permutation()[: self.rows] for order in self.orders])
        zeros = torch.zeros(self.n_members, device=device)
        self.loss_sum, self.metric_sum, self.bad_loss = zeros.clone(), zeros.clone(), zeros.clone()
        self.bad_step = torch.full((self.n_members,), -1, device=device, dtype=torch.long)
        self.epoch_start_weights = self.net.flat.detach().clone()  # a diverging member's last good weights
        # Which members step: all (no mask), or, once some have stopped, those still training.
        self.stepping = None if all(r.training for r in self.records) else self.active
        self.graph_active.copy_(self.active)
        self._steps: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    def training_step(self, chunk: int, batch_idx: int) -> None:
        first = chunk * self.steps_per_call
        steps = range(first, min(first + self.steps_per_call, self.n_batches))
        for s in steps:
            rows = self.order[:, s * self.batch_size : (s + 1) * self.batch_size]
            if self.use_graph and rows.shape[1] == self.batch_size:
                if self.graph is None:
                    self.graph = StackStepGraph(
                        lambda r: self._step(r, self.graph_active), rows, self._save, self._restore
                    )
                self._steps.append(self.graph.replay(rows))  # type: ignore[arg-type]
            else:
                self._steps.append(self._step(rows, self.stepping))
        self._fold(self.current_epoch * self.n_batches + first)
        count_optimizer_steps(self.trainer, len(steps))

    def _step(self, rows: torch.Tensor, active: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One optimizer step of every member (of those ``active``, if given) on its ``rows``
        [M, B]: the members' losses [M], outputs and targets."""
        x, y = self.data.rows("train", rows)
        output = self.net(x)
        losses = self.loss(output, y)
        losses.sum().backward()
        self.optimizer.step(active)
        self.net.zero_grad_()
        return losses.detach(), output.detach(), y

    def _save(self) -> tuple[torch.Tensor, dict[str, Any]]:
        return self.net.flat.detach().clone(), self.optimizer.state_dict()

    @torch.no_grad()
    def _restore(self, saved: tuple[torch.Tensor, dict[str, Any]]) -> None:
        self.net.flat.copy_(saved[0])
        self.optimizer.load_state_dict(saved[1])
        self.net.zero_grad_()

    @torch.no_grad()
    def _fold(self, done: int) -> None:
        """Add the chunk's steps (the first of them optimizer step ``done`` + 1) to the epoch's
        sums, and note each member's first diverging step among them: a member that diverges
        goes on stepping in its own slice (no read-back stops it mid-epoch) and is recorded as
        diverged at the epoch's end, with its weights from the epoch's start."""
        losses, outputs, targets = zip(*self._steps, strict=True)
        self._steps = []
        table = torch.stack(losses)  # [k, M]
        last = targets[-1].shape[1]  # every step has batch_size rows but maybe the epoch's last
        self.loss_sum += table.sum(0) * self.batch_size
        if last != self.batch_size:
            self.loss_sum -= table[-1] * (self.batch_size - last)
        output, target = torch.cat(outputs, dim=1), torch.cat(targets, dim=1)
        self.metric_sum += self.loss.train_metric_sum(output, target)
        bad = ~torch.isfinite(table)
        if self.max_loss is not None:
            bad |= table > self.max_loss
        first_bad = bad.to(torch.uint8).argmax(0)  # [M]: the first bad step's index (0 if none)
        newly = bad.any(0) & (self.bad_step < 0)
        self.bad_step = torch.where(newly, done + first_bad + 1, self.bad_step)
        self.bad_loss = torch.where(newly, table.gather(0, first_bad.unsqueeze(0)).squeeze(0), self.bad_loss)

    def on_train_epoch_end(self) -> None:
        epoch = self.current_epoch + 1
        sums = torch.stack([self.loss_sum, self.metric_sum, self.bad_loss]).tolist()  # divided on the host, as alone
        bad_steps = self.bad_step.tolist()
        val = self.evaluate("val")
        seconds = time.perf_counter() - self._epoch_start
        lrs = self.optimizer.hyper["lr"].tolist()
        improved = []
        for m, record in enumerate(self.records):
            if not record.training:
                improved.append(False)
                continue
            if bad_steps[m] >= 0:
                record.diverge(Diverged(epoch, bad_steps[m], sums[2][m], lrs[m]))
                with torch.no_grad():  # its last good weights, as a lone run's last.ckpt keeps them
                    self.net.flat[m] = self.epoch_start_weights[m]
                improved.append(False)
                continue
            train = {
                "train/loss": sums[0][m] / self.rows,
                f"train/{self.loss.train_metric_name}": sums[1][m] / self.rows,
            }
            row = {"epoch": epoch, **train, **val[m], "lr": lrs[m], "epoch_seconds": seconds}
            improved.append(record.finish_epoch(row))
        self._keep_best(improved)
        self.active = torch.tensor([r.training for r in self.records], device=self.active.device)
        if not any(r.training for r in self.records):
            self.trainer.should_stop = True

    @torch.no_grad()
    def _keep_best(self, improved: list[bool]) -> None:
        if any(improved):
            mask = torch.tensor(improved, device=self.best.device).unsqueeze(1)
            self.best.copy_(torch.where(mask, self.net.flat, self.best))

    def evaluate(self, split: str) -> list[dict[str, float]]:
        """Every member's ``split`` loss and metrics with the current weights (dropout off)."""
        x, y = self.data.rows(split)
        if x.shape[1] == 0:
            return [{} for _ in self.records]
        return self.evaluation.evaluate(self.net, x, y, split)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """The stack's training state beside Lightning's (``trainlab.training.stack.checkpoint``)."""
        checkpoint[STACKED] = {
            "names": self.net.names,
            "size": self.stack_size,
            "optimizer": self.optimizer.state_dict(),
            "best": self.best.detach().clone(),
            "records": [record_state(record) for record in self.records],
        }
        checkpoint["rng"] = rng_state()  # dropout's: a resumed stack draws the same masks

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Take a whole stack's checkpoint, or one member's (its weights in the lone form)."""
        to_stacked_state_dict(checkpoint)
        state = checkpoint[STACKED]
        if len(state["records"]) != self.n_members:
            raise ValueError(f"a checkpoint of {len(state['records'])} members for a stack of {self.n_members}")
        for record, saved in zip(self.records, state["records"], strict=True):
            load_record(record, saved)
        self.stack_size, self._restored = state["size"], state
        restore_rng(checkpoint["rng"])

    def on_train_end(self) -> None:
        """Each member's final and best weights and the best weights' test values, taken here,
        on the device (Lightning's teardown then moves the module to the CPU, which gives each
        weight storage of its own, no longer the flat tensor's)."""
        self.last_states = [self.net.member_state(m) for m in range(self.n_members)]
        self.use_best_weights()
        self.best_states = [self.net.member_state(m) for m in range(self.n_members)]
        self.test_values = self.evaluate("test")

    def end_without_training(self) -> None:
        """What training's end takes (``on_train_end``) after a fit that had no epoch left to
        run: resumed from the checkpoint of a stack's last epoch."""
        self.on_train_start()
        self.on_train_end()

    @torch.no_grad()
    def use_best_weights(self) -> None:
        """Put each member's best epoch's weights in the network (members without one keep theirs)."""
        has_best = torch.tensor([r.best_epoch is not None for r in self.records], device=self.best.device)
        self.net.flat.copy_(torch.where(has_best.unsqueeze(1), self.best, self.net.flat))
