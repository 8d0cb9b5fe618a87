"""One composed config trained, from its checks to its finished run directory.

Every check (config values, data files and columns, loss against task, monitored metric,
Trainer arguments, the run to resume or a fresh directory) runs before the run directory is
written or anything trains. Lightning is imported only after the config values have passed,
so a bad value is refused at once.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from trainlab.config.composing import compose
from trainlab.config.launch import launched_rank
from trainlab.config.validate import validate
from trainlab.errors import ConfigError, Stopped
from trainlab.files.rundir import RunDir
from trainlab.lifecycle.result import RunResult
from trainlab.lifecycle.resume import kept_overrides, resume_overrides, resume_target


def train(
    cfg: DictConfig,
    run_dir: Path,
    choices: dict[str, str] | None = None,
    console: Any = None,
    overrides: Sequence[str] | None = None,
    script: bool = False,
) -> RunResult:
    """Check, train, restore the best weights, test and summarise one composed config in
    ``run_dir`` (see the module doc). With ``resume``/``ckpt_path`` the run continues from
    its checkpoint in ``run_dir``: given ``overrides`` (the command line's), the config is
    composed again from the run's own overrides.yaml followed by them, so ``resume=<dir>``
    alone suffices. A diverged or interrupted run raises ``Diverged`` or ``Interrupted``
    after writing its summary.json.

    Several devices (Lightning's DDP, ``trainlab.training.distributed``): ``script`` says the caller
    is the command line (``python train.py``), whose command Lightning runs again for the
    other ranks; elsewhere (a notebook, pytest) only a run whose ranks a launcher started
    (torchrun, SLURM) may train on several devices. Only global rank 0 writes the run's
    files and prints; every rank returns the same result.
    """
    given = list(overrides) if overrides is not None else None
    target = resume_target(cfg)
    if target is not None and given is not None:
        given = resume_overrides(target[0], given)
        cfg, choices = compose(given)
    validate(cfg)
    from trainlab.config.validate import check_monitor
    from trainlab.lifecycle.fit import fit
    from trainlab.lifecycle.resume import check_resume
    from trainlab.lifecycle.summary import finished_summary, print_summary, write_stop_summary
    from trainlab.lifecycle.tune import lr_find_and_report
    from trainlab.training import build
    from trainlab.training.loggers import hyperparameters
    from trainlab.training.losses import Loss, resolve_loss
    from trainlab.training.quiet import quiet_lightning

    out = RunDir(run_dir)
    writes = launched_rank() == 0  # global rank 0 writes the run's files; the other ranks only train
    if target is None:
        if writes:
            out.refuse_existing()
    elif "stacked" in check_resume(cfg, run_dir, target[1], list(overrides or [])):
        from trainlab.lifecycle.member_resume import resume_member  # a member of a stacked sweep, interrupted

        kept = kept_overrides(given) if given is not None else []
        return resume_member(cfg, run_dir, choices or {}, target[1], kept, console)
    quiet_lightning()
    processes = build.check_trainer(cfg)
    if processes > 1:
        _check_distributed(cfg, processes, script, run_dir)
    datasets = build.datasets(cfg)
    first = datasets[0]
    loss = resolve_loss(cfg.loss.name, first.task, first.n_classes)
    check_monitor(cfg, first.task)
    to_predict = build.submission_input(cfg, first)

    tuned = None
    if cfg.tune.name == "lr_find":
        tuned = lr_find_and_report(cfg, first, Loss(loss, first.task, *first.target_scale), out, console)
        if not cfg.tune.apply:  # (one device: validate.check_processes)
            out.save_config(cfg, kept_overrides(given) if given is not None else None)
            out.write_json(out.SUMMARY, {"status": "tuned", "run_dir": str(run_dir), "lr_find": tuned.as_dict()})
            from torch import nn

            return RunResult(metrics={}, history=[], model=nn.Identity(), run_dir=run_dir, best_checkpoint=None)
    if writes:
        out.save_config(cfg, kept_overrides(given) if given is not None else None)
    params = hyperparameters(cfg, choices or {}, loss)
    try:
        if len(datasets) == 1:
            fits = [fit(cfg, first, loss, run_dir, params, target[1] if target else None)]
        else:
            folds = enumerate(datasets, 1)
            fits = [fit(cfg, data, loss, out.fold(k).path, {**params, "fold": k}) for k, data in folds]
    except Stopped as stop:
        if writes:
            write_stop_summary(out, stop, cfg.monitor, cfg.mode)
        raise
    pick = min if cfg.mode == "min" else max
    best = pick(fits, key=lambda f: f.metrics.get(cfg.monitor, float("nan")))
    metrics, std = _mean_and_std([f.metrics for f in fits])
    history = (
        fits[0].history if len(fits) == 1 else [{"fold": k, **row} for k, f in enumerate(fits, 1) for row in f.history]
    )

    submission = None
    if to_predict is not None and writes:
        from trainlab.predict import Predictor

        predictions = Predictor.from_checkpoint(best.best_checkpoint).predict(to_predict, source=str(cfg.data.test))
        submission = out.write_csv(out.SUBMISSION, predictions)

    summary = finished_summary(
        stopped_by=best.stopped_by,
        best_epoch=best.best_epoch,
        epochs=len(best.history),
        monitor=cfg.monitor,
        mode=cfg.mode,
        task=first.task,
        loss=loss,
        metrics=metrics,
        device=best.device,
        seconds=tuple(sum(getattr(f, k) for f in fits) for k in ("fit_seconds", "test_seconds", "pictures_seconds")),
        threads=best.threads,
        optimizer_steps=sum(f.optimizer_steps for f in fits),
        run_dir=run_dir,
        best_checkpoint=best.best_checkpoint,
        logger=cfg.logger.name,
        pictures=[p for f in fits for p in f.pictures],
    )
    if len(fits) > 1:
        summary |= {"folds": [f.metrics for f in fits], "metrics_std": std, "best_fold": fits.index(best) + 1}
    if submission is not None:
        summary["submission"] = str(submission)
    if tuned is not None:
        summary["lr_find"] = tuned.as_dict()
    if writes:
        out.write_json(out.SUMMARY, summary)
        print_summary(summary, console)
    return RunResult(
        metrics=metrics,
        history=history,
        model=best.model,
        run_dir=run_dir,
        best_checkpoint=best.best_checkpoint,
        best_epoch=best.best_epoch,
        stopped_early=summary["stopped_early"],
        stopped_by=best.stopped_by,
        device=best.device,
        metrics_std=std,
        folds=summary.get("folds", []),
        submission=submission,
        fit_seconds=summary["fit_seconds"],
        threads=best.threads,
        config=cfg,
    )


def _check_distributed(cfg: DictConfig, processes: int, script: bool, run_dir: Path) -> None:
    """A run on several devices: refused where no launcher can start its other ranks; else
    rank 0 exports its run dir for them (``trainlab.training.distributed``)."""
    from trainlab.config.launch import RUN_DIR_ENV, launched_from_outside
    from trainlab.config.validate import check_processes

    check_processes(cfg, processes)
    if not script and not launched_from_outside():
        devices = cfg.trainer.get("devices")
        raise ConfigError(
            f"trainer.devices={devices} trains in {processes} processes, which trainlab.run() cannot start "
            "from a Python session (Lightning would run this interpreter's command line again for each): "
            "run `python train.py trainer.devices=... trainer.strategy=ddp ...` instead, or launch your "
            "script with torchrun"
        )
    if launched_rank() == 0:
        os.environ[RUN_DIR_ENV] = str(run_dir)


def _mean_and_std(per_fold: list[dict[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    """Each metric's mean over folds, and its (sample) standard deviation; no std for one fold."""
    if len(per_fold) == 1:
        return dict(per_fold[0]), {}
    keys = [k for k in per_fold[0] if all(k in m for m in per_fold)]
    mean = {k: statistics.fmean(m[k] for m in per_fold) for k in keys}
    std = {k: statistics.stdev(m[k] for m in per_fold) for k in keys}
    return mean, std
