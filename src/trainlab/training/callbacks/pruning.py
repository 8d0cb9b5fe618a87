"""Pruning an Optuna trial from its monitored metric, each epoch (``hydra/sweeper=optuna``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Checkpoint
from omegaconf import DictConfig

from trainlab.errors import Pruned
from trainlab.search.link import TrialLink, current
from trainlab.training.callbacks.last_checkpoint import LastCheckpoint


def optuna_pruning(cfg: DictConfig) -> list[L.Callback]:
    """The pruning callback when this job is an Optuna sweep's trial (``trainlab.search.link``),
    else none."""
    link = current()
    return [OptunaPruning(link, cfg.monitor)] if link is not None else []


class OptunaPruning(Checkpoint):
    """At the end of each training epoch, after the module has recorded the epoch (a
    ``Checkpoint``, as ``BestCheckpoint``: Lightning runs it after the module's hook, with
    the checkpoints), ``trial.report(the history's monitored value, step)`` and, when the study's pruner says
    so, raise ``Pruned``: the run stops and writes summary.json with status pruned, and the
    sweeper tells the study PRUNED. An epoch without the value (no validation then) reports
    nothing. ``step`` is the epoch, counted from 1; with cross-validation the folds report
    one after another (fold 2's first epoch is the step after fold 1's last). It saves nothing.
    """

    def __init__(self, link: TrialLink, monitor: str) -> None:
        self.link, self.monitor = link, monitor
        self._trial: Any = None
        self._offset = 0

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._trial = self.link.trial()
        reported = self._trial.study.get_trials(deepcopy=False)[self.link.number].intermediate_values
        self._offset = max(reported, default=0)  # earlier folds' epochs

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        history = list(getattr(pl_module, "history", []))
        row = history[-1] if history and history[-1]["epoch"] == epoch else {}
        value = row.get(self.monitor)
        if self._trial is None or value is None or not math.isfinite(value):
            return
        self._trial.report(value, self._offset + epoch)
        if self._trial.should_prune():
            kept = next((c.epochs_kept for c in trainer.checkpoint_callbacks if isinstance(c, LastCheckpoint)), 0)
            raise Pruned(self.link.number, epoch, self.monitor, value).at(history, Path(trainer.default_root_dir), kept)

    def state_dict(self) -> dict[str, Any]:
        return {}
