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

from trainlab.callbacks import LastCheckpoint, RestoreBestWeights
from trainlab.callbacks.pictures import Histograms, Pictures
from trainlab.data import COMMON_KEYS, DATASETS, RawData, TabularData, prepare, prepare_folds
from trainlab.data.datamodule import DataModule
from trainlab.errors import ConfigError
from trainlab.losses import Loss, n_outputs
from trainlab.models import from_spec
from trainlab.module import TrainingModule
from trainlab.validate import batch_size, selected_regularization


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


def model(cfg: DictConfig, in_features: int, out_features: int) -> nn.Module:
    return from_spec(model_spec(cfg, in_features, out_features))


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


def callbacks(cfg: DictConfig, checkpoint_dir: str) -> tuple[list[L.Callback], ModelCheckpoint, EarlyStopping | None]:
    """Checkpointing on the monitored metric, best-weight restore, early stopping when
    selected, and Rich's progress bar and model summary when enabled."""
    checkpoint = ModelCheckpoint(
        dirpath=checkpoint_dir,
        filename="best",
        monitor=cfg.monitor,
        mode=cfg.mode,
        save_top_k=1,
        auto_insert_metric_name=False,
        enable_version_counter=False,
    )
    last = LastCheckpoint(checkpoint_dir, cfg.speed.last_checkpoint_seconds)
    result: list[L.Callback] = [checkpoint, last, RestoreBestWeights(cfg.monitor, cfg.mode)]
    early = None
    reg = selected_regularization(cfg)
    if "early_stopping" in reg:
        es = reg.early_stopping
        early = EarlyStopping(monitor=es.monitor, mode=es.mode, patience=es.patience, min_delta=es.min_delta)
        result.append(early)
    if cfg.trainer.get("enable_progress_bar", True):
        result.append(RichProgressBar())
    if cfg.trainer.get("enable_model_summary", True):
        result.append(RichModelSummary())
    return result, checkpoint, early


def pictures_every(cfg: DictConfig) -> int:
    """Epochs between TensorBoard pictures: ``pictures.every_n_epochs``, or for null about
    five per run (max_epochs // 5); 0 when pictures are off."""
    if not cfg.pictures.enabled:
        return 0
    every = cfg.pictures.every_n_epochs
    return max(1, cfg.trainer.max_epochs // 5) if every is None else int(every)


def picture_callbacks(cfg: DictConfig, data: TabularData, loss: Loss) -> list[L.Callback]:
    """Pictures (for 1- or 2-D inputs) and histograms every ``pictures_every`` epochs."""
    every = pictures_every(cfg)
    if every == 0:
        return []
    result: list[L.Callback] = []
    if data.n_features == 2 or (data.n_features == 1 and data.task == "regression"):
        y = loss.targets(data.y_train)
        pictures = cfg.pictures
        result.append(Pictures(data.x_train, y, data.task, loss.scores, every, pictures.size, pictures.neurons))
    if cfg.pictures.histograms:
        result.append(Histograms(every))
    return result


def training_module(cfg: DictConfig, data: TabularData, loss: Loss) -> TrainingModule:
    """A fresh network for ``data`` (seed first for repeatable weights) in its LightningModule,
    with the spec and preprocessing that its checkpoints carry."""
    n_out = n_outputs(loss.name, data.task, data.n_classes, data.n_targets)
    spec = model_spec(cfg, data.n_features, n_out)
    extra = {"model": spec, "preprocessing": data.preprocessing(), "loss": loss.name, "id": cfg.data.get("id")}
    return TrainingModule(
        from_spec(spec),
        loss,
        optimizer(cfg),
        scheduler(cfg),
        monitor=cfg.monitor,
        n_classes=data.n_classes,
        n_targets=data.n_targets,
        checkpoint_extra=extra,
        cuda_graph=cfg.speed.cuda_graph,
        gradient_clip_val=cfg.trainer.get("gradient_clip_val"),
        max_loss=cfg.divergence.max_loss,
        log_every_n_steps=cfg.trainer.get("log_every_n_steps"),
    )


def datamodule(cfg: DictConfig, data: TabularData, steps_per_call: int | None = None) -> DataModule:
    """The splits of ``data`` in ``data.batch_size`` mini-batches, as ``speed`` says."""
    return DataModule(
        data,
        batch_size(cfg.data.batch_size, len(data.x_train)),
        seed=cfg.seed,
        steps_per_call=cfg.speed.steps_per_call if steps_per_call is None else steps_per_call,
        drop_last=cfg.speed.drop_last,
        loader=cfg.speed.loader,
    )
