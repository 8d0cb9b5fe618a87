"""Each member's record and rules: the one best-epoch rule and the one early-stopping rule, for one
model (a member of one) and every member of a stack alike, kept on the host, read once per epoch.

- **The best epoch** is the one whose ``monitor`` value is strictly better than every earlier
  one (a NaN never counts): its weights are restored at the end, tested and returned, and
  best.ckpt holds them (``trainlab.training.callbacks.BestCheckpoint`` writes it then).
- **Early stopping** (with ``patience``): an epoch improves when its ``early_monitor`` value
  beats the best so far by more than ``min_delta``; ``patience`` validations in a row without
  one, or a value that is not finite, stop the member (as Lightning's EarlyStopping decides,
  which counts validations: epochs without the value are skipped).
- ``max_epochs`` ends it.
- **Pruning** (``hydra/sweeper=optuna``, a stack's member): the study's pruner stops it at an
  epoch's end (``Record.prune``, set by ``trainlab.training.callbacks.pruning.StackPruning``);
  the record keeps the ``Pruned`` error, as a diverged one keeps ``Diverged``.

Values are compared as Lightning's callbacks compare logged values: as float32 tensors
(``improves``), so a near-tie goes the same way for one model and for a stack's member.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from trainlab.errors import Diverged, Pruned

EARLY_STOPPING, MAX_EPOCHS, DIVERGED, PRUNED = "early stopping", "max_epochs", "diverged", "pruned"


def improves(value: float, best: float | None, mode: str, min_delta: float = 0.0) -> bool:
    """Whether ``value`` beats ``best`` by more than ``min_delta`` in ``mode`` (anything beats
    None): ``value - delta < best`` for min, ``value - delta > best`` for max, with delta
    ``-|min_delta|`` or ``+|min_delta|``, in float32 (Lightning's EarlyStopping's arithmetic;
    min_delta 0 is ModelCheckpoint's strict improvement). A NaN never improves."""
    if value != value:
        return False
    if best is None:
        return True
    current = torch.tensor(value, dtype=torch.float32)
    delta = abs(min_delta) if mode == "max" else -abs(min_delta)
    compare = torch.gt if mode == "max" else torch.lt
    return bool(compare(current - delta, torch.tensor(best, dtype=torch.float32)))


def as_logged(value: float) -> float:
    """``value`` as a callback reads it once logged: rounded to float32."""
    return float(torch.tensor(value, dtype=torch.float32))


@dataclass
class Rules:
    """How one member stops: its ``max_epochs``; early stopping on ``early_monitor`` when
    ``patience`` is not None. ``monitor``/``mode`` choose its best epoch."""

    max_epochs: int
    monitor: str
    mode: str
    patience: int | None = None
    min_delta: float = 0.0
    early_monitor: str = "val/loss"
    early_mode: str = "min"


@dataclass
class Record:
    """What one member's training has produced so far, and whether it trains on."""

    rules: Rules
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int | None = None
    best_score: float | None = None
    stopped_by: str | None = None  # None while it trains; early stopping, max_epochs, diverged, pruned
    diverged: Diverged | None = None
    pruned: Pruned | None = None  # an Optuna trial's member its study's pruner stopped
    early_best: float | None = None  # early stopping's best value so far
    wait: int = 0  # validations since it improved

    @property
    def training(self) -> bool:
        return self.stopped_by is None

    def diverge(self, error: Diverged) -> None:
        self.diverged, self.stopped_by = error, DIVERGED

    def prune(self, error: Pruned) -> None:
        """Stop the member: its study's pruner said so at the end of ``error.epoch`` (its last row)."""
        self.pruned, self.stopped_by = error, PRUNED

    def finish_epoch(self, row: dict[str, float]) -> bool:
        """Record one epoch the member trained; return whether its weights are the best so far.
        (One model records epochs after early stopping has said stop, when Lightning's
        ``min_epochs`` runs them: the counts go on, the stop stands.)"""
        self.history.append(row)
        epoch, rules = int(row["epoch"]), self.rules
        score = row.get(rules.monitor)
        improved = score is not None and improves(score, self.best_score, rules.mode)
        if improved:
            self.best_epoch, self.best_score = epoch, as_logged(score)
        if rules.patience is not None and rules.early_monitor in row:
            self._early_stopping(row[rules.early_monitor])
        if self.stopped_by is None and epoch >= rules.max_epochs:
            self.stopped_by = MAX_EPOCHS
        return improved

    def _early_stopping(self, value: float) -> None:
        rules = self.rules
        if not math.isfinite(value):
            self.stopped_by = self.stopped_by or EARLY_STOPPING
        elif improves(value, self.early_best, rules.early_mode, rules.min_delta):
            self.early_best, self.wait = as_logged(value), 0
        else:
            self.wait += 1
            if self.wait >= (rules.patience or 0):
                self.stopped_by = self.stopped_by or EARLY_STOPPING

    def state_dict(self) -> dict[str, Any]:
        """The record as plain data (its rules come from the config, not from here); ``pruned``
        only where the member was pruned (every other record's data is as before)."""
        diverged, pruned = self.diverged, self.pruned
        state = {
            "history": self.history,
            "best_epoch": self.best_epoch,
            "best_score": self.best_score,
            "stopped_by": self.stopped_by,
            "diverged": None if diverged is None else [diverged.epoch, diverged.step, diverged.loss, diverged.lr],
            "early_best": self.early_best,
            "wait": self.wait,
        }
        if pruned is not None:
            state["pruned"] = [pruned.trial, pruned.epoch, pruned.monitor, pruned.value]
        return state

    def load_state_dict(self, state: dict[str, Any], epochs_run: int | None = None) -> None:
        """Put ``state_dict()``'s data back. A stop by max_epochs is lifted when the rules now
        allow more epochs (``resume=`` may raise trainer.max_epochs) and the member trained
        every one of the ``epochs_run`` its checkpoint's loop ran (a stack's member that had
        finished before the others cannot go on from the stack's later epochs)."""
        self.history = [dict(row) for row in state["history"]]
        self.best_epoch, self.best_score = state["best_epoch"], state["best_score"]
        self.stopped_by = state["stopped_by"]
        self.diverged = None if state["diverged"] is None else Diverged(*state["diverged"])
        self.pruned = Pruned(*state["pruned"]) if state.get("pruned") is not None else None
        self.early_best, self.wait = state["early_best"], state["wait"]
        extendable = epochs_run is None or len(self.history) == epochs_run
        if self.stopped_by == MAX_EPOCHS and len(self.history) < self.rules.max_epochs and extendable:
            self.stopped_by = None
