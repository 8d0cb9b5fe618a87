"""From config to objects: the data, the model, the optimizer, the scheduler and the callbacks."""

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
from trainlab.data import COMMON_KEYS, DATASETS, RawData, TabularData, prepare, prepare_folds
from trainlab.errors import ConfigError
from trainlab.models import from_spec


def raw_data(cfg: DictConfig) -> RawData:
    """Load the data set named by ``data.name`` with the data config's own keys."""
    name = cfg.data.name
    if name not in DATASETS:
        raise ConfigError(f"data.name={name!r} is not a data set; allowed: {', '.join(DATASETS)}")
    loader = DATASETS[name]
    accepted = inspect.signature(loader).parameters
    options = {k: v for k, v in OmegaConf.to_container(cfg.data, resolve=True).items() if k not in COMMON_KEYS}
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        allowed = [k for k in accepted if k != "seed"] + [k for k in COMMON_KEYS if k != "name" and k in cfg.data]
        raise ConfigError(f"data.{unknown[0]} is not an option of data={name}; its options: {', '.join(allowed)}")
    if "seed" in accepted:
        options["seed"] = cfg.data.seed
    return loader(**options)


def datasets(cfg: DictConfig, raw: RawData | None = None) -> list[TabularData]:
    """The prepared data: one TabularData, or one per fold when ``data.folds`` > 1."""
    raw = raw if raw is not None else raw_data(cfg)
    common = {"test_fraction": cfg.data.test_fraction, "seed": cfg.data.seed}
    common["max_categories"] = cfg.data.get("max_categories", 50)
    folds = cfg.data.get("folds", 1)
    if folds > 1:
        return prepare_folds(raw, n_folds=folds, **common)
    return [prepare(raw, val_fraction=cfg.data.val_fraction, **common)]


def data(cfg: DictConfig) -> TabularData:
    """The prepared data of a config without cross-validation (the first fold's with it)."""
    return datasets(cfg)[0]


def regularization(cfg: DictConfig) -> DictConfig:
    """The selected regularization options (an empty config for `regularization=[]`)."""
    return cfg.get("regularization") or OmegaConf.create({})


def model_spec(cfg: DictConfig, in_features: int, out_features: int) -> dict[str, Any]:
    """Everything needed to rebuild the network, as plain data (kept in checkpoints)."""
    reg = regularization(cfg)
    return {
        "name": cfg.model.name,
        "in_features": in_features,
        "out_features": out_features,
        "hidden": list(cfg.model.get("hidden") or []),
        "activation": OmegaConf.to_container(cfg.activation, resolve=True),
        "dropout": float(reg.dropout.p) if "dropout" in reg else 0.0,
    }


def model(cfg: DictConfig, in_features: int, out_features: int) -> nn.Module:
    return from_spec(model_spec(cfg, in_features, out_features))


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
        # Lightning 2.6 rewrites last.ckpt only in epochs that save a new best, so its content
        # is best.ckpt's: a link says so without a second dump and write per epoch.
        save_last="link",
        auto_insert_metric_name=False,
        enable_version_counter=False,
    )
    result: list[L.Callback] = [checkpoint, RestoreBestWeights(cfg.monitor, cfg.mode)]
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
