"""Config to the network and how it trains: model spec, optimizer, scheduler, the LightningModule."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from trainlab.config.validate import selected_regularization
from trainlab.data import TabularData
from trainlab.models import from_spec
from trainlab.training.losses import Loss, n_outputs
from trainlab.training.module import TrainingModule
from trainlab.training.reporting import Reporter
from trainlab.training.steps import SingleModelSteps


def model_spec(cfg: DictConfig, in_features: int, out_features: int) -> dict[str, Any]:
    """Everything needed to rebuild the network, as plain data (kept in checkpoints)."""
    reg = selected_regularization(cfg)
    return {
        "name": cfg.model.name,
        "in_features": in_features,
        "out_features": out_features,
        "hidden": list(cfg.model.get("hidden") or []),
        "activation": OmegaConf.to_container(cfg.activation, resolve=True),
        "dropout": float(reg.dropout.p) if "dropout" in reg else 0.0,
    }


def optimizer(cfg: DictConfig) -> Callable[..., torch.optim.Optimizer]:
    """A partial optimizer (params -> Optimizer); ``regularization.weight_decay`` is passed on."""
    factory = instantiate(cfg.optimizer)
    reg = selected_regularization(cfg)
    if "weight_decay" in reg:
        factory = partial(factory, weight_decay=float(reg.weight_decay))
    return factory


def scheduler(cfg: DictConfig) -> Callable[..., Any] | None:
    """A partial LR scheduler (optimizer -> scheduler), or None for ``scheduler=none``."""
    if not cfg.get("scheduler") or "_target_" not in cfg.scheduler:
        return None
    return instantiate(cfg.scheduler)


def training_module(
    cfg: DictConfig,
    data: TabularData,
    loss: Loss,
    module_class: type[TrainingModule] = TrainingModule,
    cuda_graph: bool | None = None,
) -> TrainingModule:
    """A fresh network for ``data`` (seed first for repeatable weights) in its LightningModule,
    with its step unit and the spec and preprocessing that its checkpoints carry.
    ``cuda_graph`` overrides ``speed.cuda_graph``."""
    n_out = n_outputs(loss.name, data.task, data.n_classes, data.n_targets)
    spec = model_spec(cfg, data.n_features, n_out)
    extra = {"model": spec, "preprocessing": data.preprocessing(), "loss": loss.name, "id": cfg.data.get("id")}
    model = from_spec(spec)
    steps = SingleModelSteps(
        model,
        loss,
        cuda_graph=cfg.speed.cuda_graph if cuda_graph is None else cuda_graph,
        gradient_clip_val=cfg.trainer.get("gradient_clip_val"),
        max_loss=cfg.divergence.max_loss,
        log_every_n_steps=cfg.trainer.get("log_every_n_steps"),
    )
    return module_class(
        model,
        loss,
        optimizer(cfg),
        scheduler(cfg),
        monitor=cfg.monitor,
        n_classes=data.n_classes,
        checkpoint_extra=extra,
        steps=steps,
        val_every_n_epochs=val_every_n_epochs(cfg),
        val_limit=cfg.trainer.get("limit_val_batches"),
        reporter=Reporter(monitored(cfg)),
    )


def monitored(cfg: DictConfig) -> list[str]:
    """The metrics that callbacks follow: ``monitor`` and early stopping's."""
    reg = selected_regularization(cfg)
    return [cfg.monitor] + ([reg.early_stopping.monitor] if "early_stopping" in reg else [])


def val_every_n_epochs(cfg: DictConfig) -> int:
    """``trainer.check_val_every_n_epoch``, or 1 for null."""
    return cfg.trainer.get("check_val_every_n_epoch") or 1
