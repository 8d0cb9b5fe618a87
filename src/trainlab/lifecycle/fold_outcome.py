"""How a run of fits ends: one fit's outcome, or cross-validation's (each metric's mean and
standard deviation over the folds, with the best fold's model), for a lone run and for a
stacked sweep's job whose folds trained in a stack of jobs x folds (``folds_outcome``)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig

from trainlab.data import TabularData
from trainlab.errors import Stopped
from trainlab.files.rundir import RunDir
from trainlab.lifecycle.finish import Outcome
from trainlab.lifecycle.fit import Fit
from trainlab.lifecycle.folds import write_folds
from trainlab.lifecycle.member import Member

if TYPE_CHECKING:
    from trainlab.lifecycle.tune import LRFind


def run_outcome(
    cfg: DictConfig, fits: list[Fit], data: TabularData, loss: str, run_dir: Path, tuned: LRFind | None
) -> Outcome:
    """The run as it ended: its fit's, or with cross-validation the mean over the folds with
    the best fold's model."""
    pick = min if cfg.mode == "min" else max
    best = pick(fits, key=lambda f: f.metrics.get(cfg.monitor, float("nan")))
    metrics, std = _mean_and_std([f.metrics for f in fits])
    history = fits[0].history
    summary: dict[str, Any] = {}
    if len(fits) > 1:
        history = [{"fold": k, **row} for k, f in enumerate(fits, 1) for row in f.history]
        summary = {"folds": [f.metrics for f in fits], "metrics_std": std, "best_fold": fits.index(best) + 1}
    if tuned is not None:
        summary["lr_find"] = tuned.as_dict()
    seconds = tuple(sum(getattr(f, k) for f in fits) for k in ("fit_seconds", "test_seconds", "pictures_seconds"))
    return Outcome(
        cfg=cfg,
        run_dir=run_dir,
        task=data.task,
        loss=loss,
        history=history,
        epochs=len(best.history),
        best_epoch=best.best_epoch,
        stopped_by=best.stopped_by,
        metrics=metrics,
        model=best.model,
        best_checkpoint=best.best_checkpoint,
        device=best.device,
        seconds=seconds,  # type: ignore[arg-type]
        threads=best.threads,
        optimizer_steps=sum(f.optimizer_steps for f in fits),
        pictures=[p for f in fits for p in f.pictures],
        summary=summary,
        metrics_std=std,
        folds=summary.get("folds", []),
    )


def folds_outcome(cfg: DictConfig, members: Sequence[Member], run_dir: Path, params: dict[str, Any]) -> Outcome:
    """A stacked sweep's job with cross-validation, from its k fold ``members`` in fold order
    (trained in a stack with other jobs' folds: ``trainlab.lifecycle.folds.fold_members``):
    each fold written in ``run_dir/fold_<k>/`` (``folds.write_folds``; ``params``: the job's
    TensorBoard hyperparameters), and the job's ``Outcome`` as a lone run of folds ends (each
    metric's mean and std over the folds, the best fold's model; its fit seconds the stack's),
    for ``finish`` to write its summary.json. A fold that diverged or was cut by Ctrl-C: the
    outcome of a stopped run (``stop``), as a lone run of folds stops."""
    out, first = RunDir(run_dir), members[0]
    try:
        fits = write_folds(members, out, params, first.fit_seconds / len(members))
    except Stopped as stop:
        record = first.record
        return Outcome(
            cfg=cfg,
            run_dir=out.path,
            task=first.data.task,
            loss=first.loss,
            history=[{"fold": k, **row} for k, m in enumerate(members, 1) for row in m.record.history],
            epochs=len(record.history),
            best_epoch=record.best_epoch,
            stopped_by=record.stopped_by,
            metrics={},
            model=first.model,
            best_checkpoint=None,
            device=first.device,
            stop=stop,
        )
    return run_outcome(cfg, fits, first.data, first.loss, out.path, None)


def _mean_and_std(per_fold: list[dict[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    """Each metric's mean over folds, and its (sample) standard deviation; no std for one fold."""
    if len(per_fold) == 1:
        return dict(per_fold[0]), {}
    keys = [k for k in per_fold[0] if all(k in m for m in per_fold)]
    mean = {k: statistics.fmean(m[k] for m in per_fold) for k in keys}
    std = {k: statistics.stdev(m[k] for m in per_fold) for k in keys}
    return mean, std
