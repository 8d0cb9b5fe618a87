"""Pruning an Optuna trial from its monitored metric, each epoch (``hydra/sweeper=optuna``).

A lone trial (``OptunaPruning``) raises ``Pruned``, which ends its run. A stack of trials
(``StackPruning``: a batch of ``hydra.sweeper.n_jobs`` trials under ``hydra/launcher=stacked``)
asks the pruner for each member that trained the epoch, in member order, and stops a pruned
member only (``Record.prune``): the others train on, and the member's run directory is
written as a lone pruned trial's (``trainlab.lifecycle.member_dir``). Each member is judged
on its own trial, as alone: Hyperband puts each trial in a bracket drawn from the study's
name and the trial's number, and judges it among its bracket's trials, so one stack serves
every bracket and no member is grouped by bracket (see ``StackPruning``).
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Container, Sequence
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Checkpoint
from omegaconf import DictConfig

from trainlab.errors import Pruned
from trainlab.search.link import TrialLink, current, member_trial
from trainlab.training.callbacks.last_checkpoint import LastCheckpoint
from trainlab.training.records import Record

log = logging.getLogger(__name__)


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


def stack_pruning(cfgs: Sequence[DictConfig]) -> list[L.Callback]:
    """The stack's pruning callback when any of its members (``cfgs``, in member order) is an
    Optuna trial (``trainlab.search.link.member_trial``), else none. A trial that is several
    members (its cross-validation folds, trained at once) is not pruned: alone, its folds
    report one after another (``OptunaPruning``), which a stack cannot reproduce."""
    links = [member_trial(cfg) for cfg in cfgs]
    numbers = [None if link is None else link.number for link in links]
    shared = sorted({n for n in numbers if n is not None and numbers.count(n) > 1})
    if shared:
        shown = ", ".join(map(str, shared))
        log.warning("trial(s) %s: folds trained as one stack are not pruned (their folds report at once)", shown)
    links = [None if n in shared else link for n, link in zip(numbers, links, strict=True)]
    return [StackPruning(links, cfgs[0].monitor)] if any(link is not None for link in links) else []


# Pruners whose decision reads the trial itself and the study's COMPLETE trials only: a stack
# judges its members against one read of the study per epoch (no member completes meanwhile).
COMPLETE_ONLY = ("MedianPruner", "PercentilePruner", "ThresholdPruner", "NopPruner")


class StackPruning(Checkpoint):
    """Each member's ``OptunaPruning``, in one callback. At the end of each training epoch,
    after the module has recorded it (a ``Checkpoint``), each member that is a trial and
    recorded this epoch (one that diverged in it, as a lone run that raises, reports nothing)
    reports its monitored value at step = epoch, and the study's pruner judges it, in member
    order; a pruned member's record stops (``Record.prune``, with the ``Pruned`` a lone trial
    raises) and the stack stops stepping it; when no member trains on, the fit ends. It saves
    nothing.

    What the pruner sees, against the batch trained one trial at a time (basic launcher): there
    trial k reports every epoch before trial k + 1 starts; here every member reports epoch e
    before any reports e + 1. Median, percentile and threshold pruners read the trial and the
    COMPLETE trials only (none of a batch completes before the batch is told): the same trials
    are pruned at the same epochs, and the members are judged against one read of the study per
    epoch (``COMPLETE_ONLY``: all report, then each is judged). Successive halving (each
    Hyperband bracket is one) ranks a trial among the trials that reached its rung, running
    ones included: member k at a rung sees the members before it that reached that rung this
    epoch, as trial k alone sees the earlier trials that reached it, so one stack per batch in
    trial order (or its pieces in order) prunes the same too; a batch split into stacks that
    interleave trial numbers (a searched key that is not ``VARYING``) is judged stack after
    stack, each trial among the trials before it in that order.
    """

    def __init__(self, links: Sequence[TrialLink | None], monitor: str) -> None:
        self.links, self.monitor = list(links), monitor
        self._trials: list[Any] = []

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._trials = [None if link is None else link.trial() for link in self.links]

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        records: list[Record] = list(getattr(pl_module, "records", []))
        due = [
            (link, trial, record, value)
            for link, trial, record in zip(self.links, self._trials, records, strict=False)
            if link is not None and trial is not None and (value := self._value(record, epoch)) is not None
        ]
        if due and due[0][0].pruner in COMPLETE_ONLY:
            self._judge_at_once(due, epoch)
        elif due:
            self._judge_in_order(due, epoch)
        if records and not any(record.training for record in records):
            trainer.should_stop = True

    def _value(self, record: Record, epoch: int) -> float | None:
        """The member's monitored value of ``epoch``: None where it did not record that epoch
        (stopped before, or diverged in it), was pruned, or the value is missing or not finite."""
        row = record.history[-1] if record.history and record.history[-1]["epoch"] == epoch else {}
        value = row.get(self.monitor)
        return None if record.pruned is not None or value is None or not math.isfinite(value) else float(value)

    def _judge_in_order(self, due: list[tuple[TrialLink, Any, Record, float]], epoch: int) -> None:
        """Each member in turn reports and is judged, as a lone trial (``trial.should_prune``)."""
        for link, trial, record, value in due:
            trial.report(value, epoch)
            if trial.should_prune():
                record.prune(Pruned(link.number, epoch, self.monitor, value))

    def _judge_at_once(self, due: list[tuple[TrialLink, Any, Record, float]], epoch: int) -> None:
        """Every member reports, then the pruner judges each against one read of the study."""
        for _, trial, _, value in due:
            trial.report(value, epoch)
        study = due[0][1].study
        seen = _Snapshot(study, study.get_trials(deepcopy=False))
        for link, _, record, value in due:
            if study.pruner.prune(seen, seen.trial(link.number)):
                record.prune(Pruned(link.number, epoch, self.monitor, value))

    def state_dict(self) -> dict[str, Any]:
        return {}


class _Snapshot:
    """The study as one ``get_trials`` read it, for a ``COMPLETE_ONLY`` pruner's ``prune(study,
    trial)``: its trials (by state) from that read; anything else from the study itself."""

    def __init__(self, study: Any, trials: list[Any]) -> None:
        self._study, self._trials = study, trials

    def trial(self, number: int) -> Any:
        return next(t for t in self._trials if t.number == number)

    def get_trials(self, deepcopy: bool = True, states: Container[Any] | None = None) -> list[Any]:
        found = [t for t in self._trials if states is None or t.state in states]
        return copy.deepcopy(found) if deepcopy else found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)
