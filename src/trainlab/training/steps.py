"""The step unit: how one Lightning training step runs its optimizer steps, at either width.

``TrainingModule`` hands every training batch (a chunk of consecutive mini-batches) to its
step unit, and asks it once per epoch for the epoch's training totals, one per member. Two
units implement ``StepUnit``:

- ``trainlab.training.single_steps.SingleModelSteps``: one model (a member of one); chunks of
  mini-batches from ``data.loader.ChunkLoader``, each full mini-batch one CUDA-graph replay on
  CUDA, DDP's gradient sync on several devices; its divergence stops the run at once.
- ``trainlab.training.stack.stack_steps.StackSteps``: M models at once (weights [M, ...],
  per-member hyper-parameters), chunks from ``data.stacked.StackChunkLoader``; a member that
  diverges is recorded at the epoch's end and freezes, the others train on.

Nothing in ``run`` reads a value back from the device: sums stay there until ``end_epoch``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import nn

from trainlab.errors import Diverged

FAST_PRECISION = ("32-true", "32", 32)


@dataclass
class EpochTotals:
    """One epoch's training, read from the device at once, per member: the mean loss and mean
    training metric (accuracy, or mean absolute error for regression) over its rows, whether it
    trained this epoch, and how it diverged (None: it did not); and one model's kept
    (optimizer step, loss) pairs."""

    loss: list[float]
    metric: list[float]
    trained: list[bool]
    diverged: list[Diverged | None]
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
    """What ``TrainingModule`` needs from a step unit (see the module doc)."""

    description: str  # the training path, for the log
    model: nn.Module  # what the module registers: one network, or a stack of M

    def plan(self, plan: Plan) -> None:
        """Choose the path (eager or CUDA graph) before the optimizer is built."""

    def configure_optimizer(self) -> torch.optim.Optimizer | None:
        """The optimizer Lightning keeps (its state in the checkpoint), or None when the unit
        steps one of its own (kept in ``state_dict``)."""

    def start(self, optimizer: torch.optim.Optimizer | None, backward: Callable | None, step: Callable | None) -> None:
        """Training begins with Lightning's ``optimizer``; ``backward``/``step`` replace
        ``loss.backward()`` and ``optimizer.step()`` when given (Lightning's precision plugins)."""

    def start_epoch(self, training: Sequence[bool]) -> None:
        """An epoch begins; ``training[m]``: whether member m still trains (a stack freezes the others)."""

    def run(self, batch: Any, done: int, limit: int | None, epoch: int, schedulers: Sequence) -> int:
        """Run the batch's optimizer steps (at most ``limit``), counted from ``done`` + 1;
        step ``schedulers`` after each. Returns the number of steps run."""

    def end_epoch(self) -> EpochTotals: ...

    def learning_rates(self) -> list[float]:
        """Each member's learning rate now."""

    def restart(self, member: int) -> None:
        """Put back ``member``'s weights from the start of the epoch (it diverged in it)."""

    def weights(self) -> torch.Tensor:
        """Every member's weights, flat ``[M, P]`` (a copy or a view: the caller copies)."""

    def load_weights(self, weights: torch.Tensor, members: torch.Tensor) -> None:
        """Set the rows of ``weights`` [M, P] where ``members`` [M] (bool) is true."""

    def member_state(self, member: int) -> dict[str, torch.Tensor]:
        """``member``'s weights under one network's parameter names (detached copies)."""

    def state_dict(self) -> dict[str, Any]:
        """What the unit adds to a checkpoint ({} when Lightning keeps its state)."""

    def load_state_dict(self, state: dict[str, Any]) -> None: ...
