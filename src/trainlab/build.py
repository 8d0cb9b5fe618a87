"""From config to objects: the model, the optimizer, the scheduler and the callbacks."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import partial
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, RichModelSummary, RichProgressBar
from omegaconf import DictConfig, OmegaConf
from torch import nn

from trainlab.callbacks import RestoreBestWeights
from trainlab.data import DATASETS, LOADER_KEYS, TabularData, build_data
from trainlab.errors import ConfigError
from trainlab.models import MLP, Perceptron
from trainlab.models import activation as activation_module


def data(cfg: DictConfig) -> TabularData:
    """The data set named by ``data.name``, given the data config's other keys."""
    options = {k: v for k, v in OmegaConf.to_container(cfg.data, resolve=True).items() if k not in LOADER_KEYS}
    loader = DATASETS.get(cfg.data.name)
    if loader is not None:
        accepted = inspect.signature(loader).parameters
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            raise ConfigError(
                f"data.{unknown[0]} is not an option of data={cfg.data.name}; "
                f"its options: {', '.join(['batch_size', *accepted])}"
            )
    return build_data(cfg.data.name, **options)


def regularization(cfg: DictConfig) -> DictConfig:
    """The selected regularization options (an empty config for `regularization=[]`)."""
    return cfg.get("regularization") or OmegaConf.create({})


def model(cfg: DictConfig, in_features: int, out_features: int) -> nn.Module:
    """``model=perceptron``: one Dense layer; ``model=mlp``: Dense layers of ``model.hidden``
    with ``activation`` and, if selected, ``regularization.dropout`` between them."""
    if cfg.model.name == "perceptron":
        return Perceptron(in_features, out_features)
    reg = regularization(cfg)
    act = OmegaConf.to_container(cfg.activation, resolve=True)
    name = act.pop("name")
    return MLP(
        in_features,
        list(cfg.model.hidden),
        out_features,
        activation=partial(_activation, name, act),
        dropout=float(reg.dropout.p) if "dropout" in reg else 0.0,
    )


def _activation(name: str, options: dict[str, Any]) -> nn.Module:
    return activation_module(name, **options)


def optimizer(cfg: DictConfig) -> Callable[..., torch.optim.Optimizer]:
    """A partial optimizer (params -> Optimizer); ``regularization.weight_decay`` is passed on."""
    factory = instantiate(cfg.optimizer)
    reg = regularization(cfg)
    if "weight_decay" in reg:
        factory = partial(factory, weight_decay=float(reg.weight_decay))
    return factory


def scheduler(cfg: DictConfig) -> Callable[..., Any] | None:
    """A partial LR scheduler (optimizer -> scheduler), or None for ``scheduler=none``."""
    if not cfg.get("scheduler") or "_target_" not in cfg.scheduler:
        return None
    return instantiate(cfg.scheduler)


def callbacks(cfg: DictConfig, checkpoint_dir: str) -> tuple[list[L.Callback], ModelCheckpoint, EarlyStopping | None]:
    """Checkpointing on the monitored metric, best-weight restore, early stopping when
    selected, and Rich's progress bar and model summary when enabled."""
    checkpoint = ModelCheckpoint(
        dirpath=checkpoint_dir,
        filename="best",
        monitor=cfg.monitor,
        mode=cfg.mode,
        save_top_k=1,
        save_last=True,
        auto_insert_metric_name=False,
        enable_version_counter=False,
    )
    result: list[L.Callback] = [checkpoint, RestoreBestWeights(checkpoint)]
    early = None
    reg = regularization(cfg)
    if "early_stopping" in reg:
        es = reg.early_stopping
        early = EarlyStopping(monitor=es.monitor, mode=es.mode, patience=es.patience, min_delta=es.min_delta)
        result.append(early)
    if cfg.trainer.get("enable_progress_bar", True):
        result.append(RichProgressBar())
    if cfg.trainer.get("enable_model_summary", True):
        result.append(RichModelSummary())
    return result, checkpoint, early
