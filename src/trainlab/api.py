"""run(): compose the configs, train, restore the best weights, test, summarise."""

from __future__ import annotations

import json
import logging
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import lightning as L
import pandas as pd
from omegaconf import DictConfig, OmegaConf, open_dict
from torch import nn

from trainlab import build
from trainlab.callbacks.pictures import tensorboard_writer
from trainlab.checkpoints import AtomicCheckpointIO, BackgroundCheckpointIO
from trainlab.data import TabularData
from trainlab.data.csv_file import check_ids, read_table
from trainlab.errors import ConfigError, Diverged, Interrupted
from trainlab.interrupts import stopping
from trainlab.loggers import build_logger, hyperparameters, log_final
from trainlab.losses import Loss, resolve_loss
from trainlab.pictures.report import save_input_pictures, save_test_pictures
from trainlab.predict import Predictor, write_csv_atomic
from trainlab.quiet import quiet_lightning
from trainlab.resume import (
    check_resume,
    refuse_existing_run,
    register_resolvers,
    remove_stale_temporaries,
    resume_target,
    unique_dir,
)
from trainlab.schema import register as register_schemas
from trainlab.summary import print_summary, write_stop_summary, write_summary
from trainlab.tune import lr_find_and_report
from trainlab.validate import check_monitor, validate

log = logging.getLogger(__name__)
register_resolvers()  # conf/train.yaml's hydra.run.dir


@dataclass
class RunResult:
    """What a finished run gives back.

    ``metrics``: final ``val/*`` and ``test/*`` metrics, both of the best weights (with
    cross-validation: their mean over the folds, ``metrics_std`` their standard deviation
    and ``folds`` each fold's).
    ``history``: one dict per epoch (epoch from 1, train/loss, val/loss, val metrics, lr;
    ``fold`` with cross-validation).
    ``model``: the trained ``nn.Module`` holding the best weights (of the best fold).
    ``best_checkpoint``: the Lightning checkpoint of those weights.
    ``device``: where it trained (``cpu``, ``cuda:0``); Lightning hands the model back on the CPU.
    ``submission``: the predictions for ``data.test``, when given.
    ``fit_seconds``: wall time of training (all folds), validation included, test excluded.
    """

    metrics: dict[str, float]
    history: list[dict[str, float]]
    model: nn.Module
    run_dir: Path
    best_checkpoint: Path | None
    best_epoch: int | None = None
    stopped_early: bool = False
    device: str = "cpu"
    metrics_std: dict[str, float] = field(default_factory=dict)
    folds: list[dict[str, float]] = field(default_factory=list)
    submission: Path | None = None
    fit_seconds: float = 0.0
    config: DictConfig | None = field(default=None, repr=False)


@dataclass
class _Fit:
    """One trained model (the whole run, or one fold)."""

    metrics: dict[str, float]
    history: list[dict[str, float]]
    model: nn.Module
    best_checkpoint: Path | None
    best_epoch: int | None
    stopped_early: bool
    device: str
    fit_seconds: float
    optimizer_steps: int
    pictures: list[Path]


def config_dir() -> Path:
    """The directory of trainlab's Hydra configs (shipped inside the package)."""
    return Path(str(resources.files("trainlab") / "conf"))


def compose(overrides: Sequence[str] = ()) -> tuple[DictConfig, dict[str, str]]:
    """The composed config for ``overrides`` (as train.py takes them) and each group's choice."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    register_schemas()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3", job_name="train"):
        cfg = hydra_compose("train", overrides=list(overrides), return_hydra_config=True)
    choices = dict(cfg.hydra.runtime.choices)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg, choices


def run(overrides: Sequence[str] = (), output_dir: str | Path | None = None) -> RunResult:
    """Train with the same configs and overrides as ``python train.py``.

    The run writes to ``output_dir``, or else to a new ``outputs/<date>/<time>`` under the
    current directory. Invalid values raise ``trainlab.errors.ConfigError`` before training.
    """
    cfg, choices = compose(overrides)
    target = resume_target(cfg)
    if target is not None:
        run_dir = target[0]
        if output_dir is not None and Path(output_dir).resolve() != run_dir.resolve():
            raise ConfigError(
                f"output_dir={str(output_dir)!r}: a resumed run continues in its own directory, {run_dir}"
            )
    else:
        run_dir = Path(output_dir) if output_dir is not None else unique_dir(Path("outputs"))
    return train(cfg, run_dir, choices)


def train(cfg: DictConfig, run_dir: Path, choices: dict[str, str] | None = None, console: Any = None) -> RunResult:
    """Train, restore the best weights, test and summarise one composed config in ``run_dir``.

    Every check (config values, data files and columns, loss against task, monitored
    metric, the run to resume or a fresh directory) runs before the run directory is
    written or anything trains. With ``resume``/``ckpt_path`` the run continues from its
    checkpoint in ``run_dir``. A diverged or interrupted run raises ``Diverged`` or
    ``Interrupted`` after writing its summary.json.
    """
    validate(cfg)
    target = resume_target(cfg)
    resume_from = None
    if target is None:
        refuse_existing_run(run_dir)
    else:
        check_resume(cfg, run_dir, target[1])
        resume_from = target[1]
    quiet_lightning()
    datasets = build.datasets(cfg)
    first = datasets[0]
    loss = resolve_loss(cfg.loss.name, first.task, first.n_classes)
    check_monitor(cfg, first.task)
    to_predict = _submission_input(cfg, first)

    run_dir.mkdir(parents=True, exist_ok=True)
    tuned = None
    if cfg.tune.name == "lr_find":
        tuned = lr_find_and_report(cfg, first, Loss(loss, first.task, *first.target_scale), run_dir, console)
        if not cfg.tune.apply:
            OmegaConf.save(cfg, run_dir / "config.yaml", resolve=True)
            write_summary(run_dir, {"status": "tuned", "run_dir": str(run_dir), "lr_find": tuned.as_dict()})
            return RunResult(metrics={}, history=[], model=nn.Identity(), run_dir=run_dir, best_checkpoint=None)
    OmegaConf.save(cfg, run_dir / "config.yaml", resolve=True)
    params = hyperparameters(cfg, choices or {}, loss)
    try:
        if len(datasets) == 1:
            fits = [_fit(cfg, first, loss, run_dir, params, resume_from)]
        else:
            fits = [
                _fit(cfg, data, loss, run_dir / f"fold_{k}", {**params, "fold": k})
                for k, data in enumerate(datasets, 1)
            ]
    except (Diverged, Interrupted) as stop:
        write_stop_summary(run_dir, stop, cfg.monitor, cfg.mode)
        raise
    pick = min if cfg.mode == "min" else max
    best = pick(fits, key=lambda f: f.metrics.get(cfg.monitor, float("nan")))
    metrics, std = _mean_and_std([f.metrics for f in fits])
    history = (
        fits[0].history if len(fits) == 1 else [{"fold": k, **row} for k, f in enumerate(fits, 1) for row in f.history]
    )

    submission = None
    if to_predict is not None:
        predictor = Predictor.from_checkpoint(best.best_checkpoint)
        predictions = predictor.predict(to_predict, source=str(cfg.data.test))
        submission = write_csv_atomic(predictions, run_dir / "submission.csv")

    summary = {
        "status": "early-stopped" if best.stopped_early else "finished",
        "best_epoch": best.best_epoch,
        "epochs": len(best.history),
        "stopped_early": best.stopped_early,
        "monitor": cfg.monitor,
        "mode": cfg.mode,
        "task": first.task,
        "loss": loss,
        "metrics": metrics,
        "device": best.device,
        "fit_seconds": sum(f.fit_seconds for f in fits),
        "optimizer_steps": sum(f.optimizer_steps for f in fits),
        "run_dir": str(run_dir),
        "best_checkpoint": str(best.best_checkpoint) if best.best_checkpoint else None,
        "logger": cfg.logger.name,
        "pictures": [str(p.relative_to(run_dir)) for f in fits for p in f.pictures],
    }
    if len(fits) > 1:
        summary |= {"folds": [f.metrics for f in fits], "metrics_std": std, "best_fold": fits.index(best) + 1}
    if submission is not None:
        summary["submission"] = str(submission)
    if tuned is not None:
        summary["lr_find"] = tuned.as_dict()
    write_summary(run_dir, summary)
    print_summary(summary, console)
    return RunResult(
        metrics=metrics,
        history=history,
        model=best.model,
        run_dir=run_dir,
        best_checkpoint=best.best_checkpoint,
        best_epoch=best.best_epoch,
        stopped_early=best.stopped_early,
        device=best.device,
        metrics_std=std,
        folds=summary.get("folds", []),
        submission=submission,
        fit_seconds=summary["fit_seconds"],
        config=cfg,
    )


def _submission_input(cfg: DictConfig, data: TabularData) -> pd.DataFrame | None:
    """``data.test`` (a file to predict after training), checked now: it must hold every
    column the model reads, and the id column."""
    path = cfg.data.get("test")
    if not path:
        return None
    frame = read_table(path, key="data.test")
    absent = [c for c in data.preprocessor.columns if c not in frame.columns]
    if absent:
        raise ConfigError(f"data.test={path!r} lacks column {absent[0]!r}, which the model trains on")
    check_ids(frame, cfg.data.get("id"), path)
    return frame


def _fit(
    cfg: DictConfig,
    data: TabularData,
    loss: str,
    out_dir: Path,
    params: dict[str, Any],
    resume_from: Path | None = None,
) -> _Fit:
    """Train one model on ``data`` in ``out_dir`` (from ``resume_from``, a checkpoint, when
    given), restore its best weights and test them."""
    L.seed_everything(cfg.seed, verbose=False)
    loss_fn = Loss(loss, data.task, *data.target_scale)
    module = build.training_module(cfg, data, loss_fn)
    model, preprocessing = module.model, module.checkpoint_extra["preprocessing"]
    datamodule = build.datamodule(cfg, data)

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "preprocessing.json").write_text(json.dumps(preprocessing, indent=2) + "\n")
    callbacks, checkpoint, early = build.callbacks(cfg, str(out_dir / "checkpoints"))
    callbacks += build.picture_callbacks(cfg, data, loss_fn)
    if early is not None and early.patience >= cfg.trainer.max_epochs:
        log.warning(
            "regularization.early_stopping.patience=%d >= trainer.max_epochs=%d: early stopping cannot fire",
            early.patience,
            cfg.trainer.max_epochs,
        )
    logger = build_logger(cfg.logger.name, out_dir)
    trainer_args = OmegaConf.to_container(cfg.trainer, resolve=True)
    # The model summary, when enabled, is Rich's (a callback), not Lightning's default table.
    trainer_args["enable_model_summary"] = False
    # Manual optimization: the module clips gradients itself.
    trainer_args.pop("gradient_clip_val", None)
    # Checkpoints are written by a background thread (from device copies of the tensors), so
    # an epoch does not wait for the disk; all writes have finished when fit returns.
    plugins = [BackgroundCheckpointIO() if cfg.speed.async_checkpoint else AtomicCheckpointIO()]
    trainer = L.Trainer(
        **trainer_args, logger=logger or False, callbacks=callbacks, plugins=plugins, default_root_dir=str(out_dir)
    )
    if resume_from is not None:
        remove_stale_temporaries(out_dir)
    start = time.perf_counter()
    with stopping(trainer, module, out_dir, training=True):
        trainer.fit(module, datamodule=datamodule, ckpt_path=str(resume_from) if resume_from else None)
    fit_seconds = time.perf_counter() - start

    history = module.history
    best_epoch = _best_epoch(history, cfg.monitor, cfg.mode)
    metrics = {k: v for k, v in history[best_epoch - 1].items() if k.startswith("val/")} if best_epoch else {}
    pictures = []
    with stopping(trainer, module, out_dir, training=False):
        if len(data.x_test):
            trainer.test(module, datamodule=datamodule, verbose=False)
            metrics |= module.test_values
        model.eval()
        if cfg.pictures.enabled:
            pictures += save_input_pictures(model, loss_fn, data, out_dir, cfg.pictures.size, cfg.pictures.neurons)
            pictures += save_test_pictures(model, loss_fn, data, out_dir, tensorboard_writer(trainer), len(history))
    log_final(logger, params, metrics)
    best = Path(checkpoint.best_model_path) if checkpoint.best_model_path else None
    stopped_early = bool(early is not None and early.stopped_epoch > 0)
    device = str(trainer.strategy.root_device)
    steps = trainer.global_step
    return _Fit(metrics, history, model, best, best_epoch, stopped_early, device, fit_seconds, steps, pictures)


def _mean_and_std(per_fold: list[dict[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    """Each metric's mean over folds, and its (sample) standard deviation; no std for one fold."""
    if len(per_fold) == 1:
        return dict(per_fold[0]), {}
    keys = [k for k in per_fold[0] if all(k in m for m in per_fold)]
    mean = {k: statistics.fmean(m[k] for m in per_fold) for k in keys}
    std = {k: statistics.stdev(m[k] for m in per_fold) for k in keys}
    return mean, std


def _best_epoch(history: list[dict[str, float]], monitor: str, mode: str) -> int | None:
    """The (1-based) epoch whose ``monitor`` value is best; the first one on ties, as
    ModelCheckpoint keeps the first of equal values."""
    scored = [row for row in history if monitor in row]
    if not scored:
        return None
    pick = min if mode == "min" else max
    return int(pick(scored, key=lambda row: row[monitor])["epoch"])
