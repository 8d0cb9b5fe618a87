"""Cross-validation's folds trained as one stack, each written as ``fold_<k>/``.

Member k of the stack (``trainlab.lifecycle.stack.train_stack``) is fold k: the run's config
(its seed: the initial weights and the shuffling seed that the fold trained alone gets,
``trainlab.lifecycle.fit``) on fold k's data set, its own train/val rows and preprocessing.
Folds whose rows differ (rows not divisible by k) are padded, and each steps, sums its epoch
and is evaluated on its own rows (``trainlab.data.stacked``). Each fold is then written in the
form a fold trained alone leaves: preprocessing.json, checkpoints/best.ckpt (its best epoch's
weights, what ``Predictor.from_checkpoint`` reads) and last.ckpt (its final weights), its
TensorBoard events (each epoch's values at step = epoch, the test values, the
hyperparameters with ``fold`` and the final metrics), its pictures as configured; and handed
back as a ``Fit``, which ``trainlab.lifecycle.checked_run`` summarises as before.

A fold that diverged stops the run as alone (``Diverged``, once the folds before it are
written); Ctrl-C stops it as ``Interrupted``. With dropout, a stack's members draw their own
masks: each fold then trains as alone in distribution, not number for number (without
dropout: equal to 1e-4).

A stacked sweep's jobs with cross-validation stack jobs x folds: ``fold_members`` makes each
job's fold a member (each distinct data config's folds prepared once), ``train_stack`` trains
them with those data sets, and ``trainlab.lifecycle.fold_outcome.folds_outcome`` turns a job's
k members into its ``fold_<k>/`` directories and its outcome (``write_folds``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf

from trainlab.data import TabularData
from trainlab.errors import Interrupted
from trainlab.files.rundir import RunDir
from trainlab.lifecycle.fit import Fit
from trainlab.lifecycle.member import Member, StackInterrupted
from trainlab.lifecycle.member_files import draw, epoch_events, write_checkpoints
from trainlab.lifecycle.stack import Datasets, train_stack
from trainlab.training import build
from trainlab.training.loggers import final_events

log = logging.getLogger(__name__)


def train_folds(cfg: DictConfig, datasets: Sequence[TabularData], out: RunDir, params: dict[str, Any]) -> list[Fit]:
    """Train ``cfg`` on each of ``datasets`` (its folds) as one stack, write each fold's
    ``out.fold(k)`` and return its ``Fit`` (see the module doc). ``params``: the run's
    hyperparameters, each fold's with its ``fold``. A fold's ``fit_seconds`` is its share of
    the stack's (the folds' sum is the stack's)."""
    rules = build.rules(cfg)
    if rules.patience is not None and rules.patience >= rules.max_epochs:  # as each fold alone warns
        log.warning(
            "regularization.early_stopping.patience=%d >= trainer.max_epochs=%d: early stopping cannot fire",
            rules.patience,
            rules.max_epochs,
        )
    start = time.perf_counter()
    try:
        members = train_stack([cfg] * len(datasets), datasets=(list(datasets), list(range(len(datasets)))))
    except StackInterrupted as stop:
        raise _interrupted(stop.members, out) from None
    return write_folds(members, out, params, (time.perf_counter() - start) / len(members))


def write_folds(members: Sequence[Member], out: RunDir, params: dict[str, Any], fit_seconds: float) -> list[Fit]:
    """Write each fold ``members[k - 1]`` in ``out.fold(k)`` (``write_fold``: ``params`` with its
    ``fold``, ``fit_seconds`` each) and return their ``Fit``s. A fold that diverged raises
    ``Diverged`` as alone (the folds before it written); one cut by Ctrl-C, ``Interrupted``."""
    fits = []
    for k, member in enumerate(members, 1):
        record = member.record
        if record.diverged is not None:  # as alone: the run stops at this fold
            raise record.diverged.at(record.history, out.fold(k).path, len(record.history))
        if member.interrupted is not None:
            raise _interrupted([member], out)
        fits.append(write_fold(member, out.fold(k), {**params, "fold": k}, fit_seconds))
    return fits


def fold_members(cfgs: Sequence[DictConfig]) -> tuple[list[DictConfig], Datasets, list[tuple[int, int]]]:
    """A stacked sweep's jobs ``cfgs`` with cross-validation (``data.folds`` > 1; 1: the job is
    one member) as one stack's members: job j's fold k is a member with j's config and fold k of
    j's data, each distinct data config's folds prepared once (``build.stack_datasets``' rule).
    Returns the members' configs, their data (``train_stack``'s ``datasets``) and each
    member's (job, fold), in job then fold order; its ``Member``s follow the same order."""
    member_cfgs: list[DictConfig] = []
    datasets: list[TabularData] = []
    member_data: list[int] = []
    owners: list[tuple[int, int]] = []
    firsts: dict[str, int] = {}  # a data config's key -> the index of its first fold in ``datasets``
    for j, cfg in enumerate(cfgs):
        key = json.dumps(OmegaConf.to_container(cfg.data, resolve=True), sort_keys=True)
        if key not in firsts:
            firsts[key] = len(datasets)
            datasets += build.datasets(cfg)
        count = max(int(cfg.data.get("folds", 1)), 1)
        for k in range(count):
            member_cfgs.append(cfg)
            member_data.append(firsts[key] + k)
            owners.append((j, k + 1))
    return member_cfgs, (datasets, member_data), owners


def write_fold(member: Member, out: RunDir, params: dict[str, Any], fit_seconds: float) -> Fit:
    """Write the fold ``member`` in ``out`` (see the module doc; ``params``: its TensorBoard
    hyperparameters) and return its ``Fit``."""
    cfg, record = member.cfg, member.record
    out.path.mkdir(parents=True, exist_ok=True)
    out.write_json(out.PREPROCESSING, member.extra["preprocessing"])
    best = write_checkpoints(member, out, stacked=False)
    events = epoch_events(member, member.metrics) if cfg.logger.name == "tensorboard" else None
    start = time.perf_counter()
    pictures = draw(member, out, events) if cfg.pictures.enabled else []
    pictures_seconds = time.perf_counter() - start
    if events is not None:
        final_events(events, params, member.metrics)
        events.write(out.path)
    return Fit(
        metrics=member.metrics,
        history=record.history,
        model=member.model,
        best_checkpoint=best,
        best_epoch=record.best_epoch,
        stopped_by=record.stopped_by or "max_epochs",
        device=member.device,
        fit_seconds=fit_seconds,
        test_seconds=0.0,  # the stack's test is in its fit's seconds
        pictures_seconds=pictures_seconds,
        threads=member.threads,
        optimizer_steps=member.optimizer_steps,
        pictures=pictures,
    )


def _interrupted(members: Sequence[Member | None], out: RunDir) -> Interrupted:
    """Ctrl-C during the folds' stack: the run stopped as alone, after the epochs its folds finished."""
    member = next(m for m in members if m is not None)
    done = member.interrupted[0] if member.interrupted is not None else len(member.record.history)
    path = out.fold(1)
    return Interrupted(done, 0, path.path, path.last_checkpoint).at(member.record.history, out.path, 0)
