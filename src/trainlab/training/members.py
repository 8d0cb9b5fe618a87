"""Each member's own stopping rules and record, kept on the host, read once per epoch.

The rules are those of a lone run's callbacks, per member: the best epoch is the one whose
``monitor`` value is strictly better than every earlier one (RestoreBestWeights and
ModelCheckpoint's top-1; a NaN never counts), early stopping is Lightning's EarlyStopping
(an improvement beats the best by more than ``min_delta``; ``patience`` validations without
one, or a non-finite value, stop the member), and ``max_epochs`` ends it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from trainlab.errors import Diverged


@dataclass
class Rules:
    """How one member stops: its ``max_epochs``; early stopping on ``early_monitor`` when
    ``patience`` is not None."""

    max_epochs: int
    monitor: str
    mode: str
    patience: int | None = None
    min_delta: float = 0.0
    early_monitor: str = "val/loss"
    early_mode: str = "min"


@dataclass
class Record:
    """What one member's training has produced so far."""

    rules: Rules
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int | None = None
    best_score: float | None = None
    stopped_by: str | None = None  # None while it trains; early stopping, max_epochs, diverged
    diverged: Diverged | None = None
    _early_best: float | None = None
    _wait: int = 0

    @property
    def training(self) -> bool:
        return self.stopped_by is None

    def diverge(self, error: Diverged) -> None:
        self.diverged, self.stopped_by = error, "diverged"

    def finish_epoch(self, row: dict[str, float]) -> bool:
        """Record one finished epoch; return whether its weights are the best so far."""
        self.history.append(row)
        epoch, rules = int(row["epoch"]), self.rules
        score = row.get(rules.monitor)
        improved = score is not None and score == score and _better(score, self.best_score, rules.mode, 0.0)
        if improved:
            self.best_epoch, self.best_score = epoch, score
        if rules.patience is not None and rules.early_monitor in row:
            value = row[rules.early_monitor]
            if not math.isfinite(value):
                self.stopped_by = "early stopping"
            elif _better(value, self._early_best, rules.early_mode, rules.min_delta):
                self._early_best, self._wait = value, 0
            else:
                self._wait += 1
                if self._wait >= rules.patience:
                    self.stopped_by = "early stopping"
        if self.stopped_by is None and epoch >= rules.max_epochs:
            self.stopped_by = "max_epochs"
        return improved


def _better(value: float, best: float | None, mode: str, min_delta: float) -> bool:
    """``value`` beats ``best`` by more than ``min_delta`` in ``mode`` (anything beats None)."""
    if best is None:
        return True
    return value < best - abs(min_delta) if mode == "min" else value > best + abs(min_delta)
