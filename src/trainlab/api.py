"""run(): compose the configs, train, restore the best weights, test, summarise."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import lightning as L
from omegaconf import DictConfig, OmegaConf, open_dict
from torch import nn

from trainlab import build
from trainlab.data.datamodule import DataModule
from trainlab.loggers import build_logger, hyperparameters, log_final
from trainlab.losses import Loss, n_outputs, resolve_loss
from trainlab.module import TrainingModule
from trainlab.quiet import quiet_lightning
from trainlab.summary import print_summary, write_summary
from trainlab.validate import batch_size, check_monitor, validate

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What a finished run gives back.

    ``metrics``: final ``val/*`` and ``test/*`` metrics, both of the best weights.
    ``history``: one dict per epoch (epoch from 1, train/loss, val/loss, val metrics, lr).
    ``model``: the trained ``nn.Module`` holding the best weights.
    ``best_checkpoint``: the Lightning checkpoint of those weights.
    ``device``: where it trained (``cpu``, ``cuda:0``); Lightning hands the model back on the CPU.
    """

    metrics: dict[str, float]
    history: list[dict[str, float]]
    model: nn.Module
    run_dir: Path
    best_checkpoint: Path | None
    best_epoch: int | None = None
    stopped_early: bool = False
    device: str = "cpu"
    config: DictConfig | None = field(default=None, repr=False)


def config_dir() -> Path:
    """The directory of trainlab's Hydra configs (shipped inside the package)."""
    return Path(str(resources.files("trainlab") / "conf"))


def compose(overrides: Sequence[str] = ()) -> tuple[DictConfig, dict[str, str]]:
    """The composed config for ``overrides`` (as train.py takes them) and each group's choice."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

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
    run_dir = Path(output_dir) if output_dir is not None else _new_run_dir(Path("outputs"))
    return train(cfg, run_dir, choices)


def _new_run_dir(root: Path) -> Path:
    now = dt.datetime.now()
    base = root / now.strftime("%Y-%m-%d") / now.strftime("%H-%M-%S")
    path, n = base, 1
    while path.exists():
        path, n = base.with_name(f"{base.name}-{n}"), n + 1
    return path


def train(cfg: DictConfig, run_dir: Path, choices: dict[str, str] | None = None, console: Any = None) -> RunResult:
    """Train, restore the best weights, test and summarise one composed config in ``run_dir``."""
    validate(cfg)
    quiet_lightning()
    L.seed_everything(cfg.seed, verbose=False)
    data = build.data(cfg)
    loss = resolve_loss(cfg.loss.name, data.task, data.n_classes)
    check_monitor(cfg, data.task)
    n_out = n_outputs(loss, data.task, data.n_classes, data.n_targets)
    model = build.model(cfg, data.n_features, n_out)
    module = TrainingModule(
        model,
        Loss(loss, data.task),
        build.optimizer(cfg),
        build.scheduler(cfg),
        monitor=cfg.monitor,
        n_classes=data.n_classes,
        n_targets=data.n_targets,
    )
    datamodule = DataModule(data, batch_size(cfg.data.batch_size, len(data.x_train)), seed=cfg.seed)

    run_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, run_dir / "config.yaml", resolve=True)
    callbacks, checkpoint, early = build.callbacks(cfg, str(run_dir / "checkpoints"))
    if early is not None and early.patience >= cfg.trainer.max_epochs:
        log.warning(
            "regularization.early_stopping.patience=%d >= trainer.max_epochs=%d: early stopping cannot fire",
            early.patience,
            cfg.trainer.max_epochs,
        )
    logger = build_logger(cfg.logger.name, run_dir)
    trainer_args = OmegaConf.to_container(cfg.trainer, resolve=True)
    # The model summary, when enabled, is Rich's (a callback), not Lightning's default table.
    trainer_args["enable_model_summary"] = False
    trainer = L.Trainer(**trainer_args, logger=logger or False, callbacks=callbacks, default_root_dir=str(run_dir))
    trainer.fit(module, datamodule=datamodule)

    history = module.history
    best_epoch = _best_epoch(history, cfg.monitor, cfg.mode)
    metrics = {k: v for k, v in history[best_epoch - 1].items() if k.startswith("val/")} if best_epoch else {}
    if len(data.x_test):
        tested = trainer.test(module, datamodule=datamodule, verbose=False)[0]
        metrics |= {k: float(v) for k, v in tested.items()}
    log_final(logger, hyperparameters(cfg, choices or {}, loss), metrics)

    best = Path(checkpoint.best_model_path) if checkpoint.best_model_path else None
    stopped_early = bool(early is not None and early.stopped_epoch > 0)
    summary = {
        "status": "early-stopped" if stopped_early else "finished",
        "best_epoch": best_epoch,
        "epochs": len(history),
        "stopped_early": stopped_early,
        "monitor": cfg.monitor,
        "metrics": metrics,
        "device": str(trainer.strategy.root_device),
        "run_dir": str(run_dir),
        "best_checkpoint": str(best) if best else None,
        "logger": cfg.logger.name,
    }
    write_summary(run_dir, summary)
    print_summary(summary, console)
    model.eval()
    return RunResult(metrics, history, model, run_dir, best, best_epoch, stopped_early, summary["device"], cfg)


def _best_epoch(history: list[dict[str, float]], monitor: str, mode: str) -> int | None:
    """The (1-based) epoch whose ``monitor`` value is best; the first one on ties, as
    ModelCheckpoint keeps the first of equal values."""
    scored = [row for row in history if monitor in row]
    if not scored:
        return None
    pick = min if mode == "min" else max
    return int(pick(scored, key=lambda row: row[monitor])["epoch"])
