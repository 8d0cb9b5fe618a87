"""Checks of a composed config, run before any data is built or any training starts.

Each failure raises ConfigError naming the key, the value given and what is allowed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from trainlab.errors import ConfigError
from trainlab.losses import LOSSES
from trainlab.models import ACTIVATIONS

MODELS = ("perceptron", "mlp")
LOGGERS = ("tensorboard", "csv", "none")
MODES = ("min", "max")


def _fail(key: str, value: Any, allowed: str) -> None:
    raise ConfigError(f"{key}={value!r} is not allowed: {allowed}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_known_keys(node: Any, path: str = "") -> None:
    """Keys added with ``+key=value`` that the node's schema lacks (Hydra lets ``+`` add
    them to a structured config). ``data`` is left to ``build.raw_data``, which names the
    data set's own options."""
    if not isinstance(node, DictConfig) or path == "data.":
        return
    schema = OmegaConf.get_type(node)
    if dataclasses.is_dataclass(schema):
        allowed = [f.name for f in dataclasses.fields(schema)]
        for key in node:
            if key not in allowed:
                where = path[:-1] or "the config"
                _fail(f"{path}{key}", node.get(key), f"{where} has no key {key!r}; its keys: {', '.join(allowed)}")
    for key in node:
        if key != "hydra":
            _check_known_keys(node._get_node(key), f"{path}{key}.")


def batch_size(value: Any, n_train: int) -> int:
    """The batch size in rows: an int >= 1, or ``full`` for every training row at once."""
    if value == "full":
        return n_train
    if not _is_int(value) or value < 1:
        _fail("data.batch_size", value, "an integer >= 1 (1 = stochastic gradient descent) or `full`")
    return value


def validate(cfg: DictConfig) -> None:
    """Raise ConfigError for the first invalid value in ``cfg``."""
    _check_known_keys(cfg)
    model = cfg.model
    if model.name not in MODELS:
        _fail("model.name", model.name, f"one of {', '.join(MODELS)}")
    if model.name == "mlp":
        hidden = model.get("hidden")
        if not hidden or not all(_is_int(h) and h >= 1 for h in hidden):
            _fail(
                "model.hidden",
                None if hidden is None else list(hidden),
                "a non-empty list of layer sizes >= 1, e.g. [64,64]",
            )
    if cfg.activation.name not in ACTIVATIONS:
        _fail("activation.name", cfg.activation.name, f"one of {', '.join(ACTIVATIONS)}")
    if cfg.loss.name not in LOSSES:
        _fail("loss.name", cfg.loss.name, f"one of {', '.join(LOSSES)}")

    lr = cfg.optimizer.get("lr")
    if not _is_number(lr) or lr <= 0:
        _fail("optimizer.lr", lr, "a learning rate > 0")
    momentum = cfg.optimizer.get("momentum", 0.0)
    if not _is_number(momentum) or momentum < 0:
        _fail("optimizer.momentum", momentum, "a number >= 0")

    _validate_regularization(selected_regularization(cfg))
    _validate_data(cfg.data)

    if cfg.mode not in MODES:
        _fail("mode", cfg.mode, "min or max")
    if not isinstance(cfg.monitor, str) or "/" not in cfg.monitor:
        _fail("monitor", cfg.monitor, "a logged metric such as val/loss or val/acc")
    if not _is_int(cfg.seed):
        _fail("seed", cfg.seed, "an integer")

    max_epochs = cfg.trainer.get("max_epochs")
    if not _is_int(max_epochs) or max_epochs < 1:
        _fail("trainer.max_epochs", max_epochs, "an integer >= 1")
    accelerator = str(cfg.trainer.get("accelerator", "auto"))
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        _fail("trainer.accelerator", accelerator, "no CUDA GPU is visible here; use trainer=default or trainer=cpu")
    speed = cfg.speed
    if not _is_int(speed.steps_per_call) or speed.steps_per_call < 1:
        _fail("speed.steps_per_call", speed.steps_per_call, "an integer >= 1 (optimizer steps per Lightning step)")
    for key in ("cuda_graph", "drop_last", "async_checkpoint"):
        if not isinstance(speed[key], bool):
            _fail(f"speed.{key}", speed[key], "true or false")
    if not _is_number(speed.last_checkpoint_seconds) or speed.last_checkpoint_seconds < 0:
        _fail("speed.last_checkpoint_seconds", speed.last_checkpoint_seconds, "seconds >= 0 (0: every epoch)")
    if speed.loader not in ("memory", "dataloader"):
        _fail("speed.loader", speed.loader, "memory or dataloader")
    if cfg.logger.name not in LOGGERS:
        _fail("logger.name", cfg.logger.name, f"one of {', '.join(LOGGERS)}")
    _validate_pictures(cfg.pictures)
    max_loss = cfg.divergence.max_loss
    if max_loss is not None and (not _is_number(max_loss) or max_loss <= 0):
        _fail("divergence.max_loss", max_loss, "a loss > 0 above which training stops, or null (non-finite only)")
    if cfg.tune.name == "lr_find":
        _validate_lr_find(cfg.tune)


def _validate_lr_find(tune: Any) -> None:
    if not _is_number(tune.min_lr) or tune.min_lr <= 0:
        _fail("tune.min_lr", tune.min_lr, "a learning rate > 0")
    if not _is_number(tune.max_lr) or tune.max_lr <= tune.min_lr:
        _fail("tune.max_lr", tune.max_lr, f"a learning rate > tune.min_lr={tune.min_lr}")
    if not _is_int(tune.num_training) or tune.num_training < 3:
        _fail("tune.num_training", tune.num_training, "an integer >= 3 (optimizer steps of the range test)")
    if tune.mode not in ("exponential", "linear"):
        _fail("tune.mode", tune.mode, "exponential or linear")
    threshold = tune.early_stop_threshold
    if threshold is not None and (not _is_number(threshold) or threshold <= 1):
        _fail("tune.early_stop_threshold", threshold, "a factor > 1, or null (never stop early)")


def _validate_pictures(pictures: Any) -> None:
    for key in ("enabled", "neurons", "histograms"):
        if not isinstance(pictures[key], bool):
            _fail(f"pictures.{key}", pictures[key], "true or false")
    every = pictures.every_n_epochs
    if every is not None and (not _is_int(every) or every < 0):
        _fail("pictures.every_n_epochs", every, "an integer >= 0 (0: none during training) or null (5 per run)")
    if not _is_int(pictures.size) or not 32 <= pictures.size <= 2048:
        _fail("pictures.size", pictures.size, "an integer from 32 to 2048 (pixels a side)")


def check_monitor(cfg: DictConfig, task: str) -> None:
    """``monitor`` (and early stopping's) must name a val or train metric logged for ``task``."""
    from trainlab.metrics import metric_names

    allowed = [n for n in metric_names(task) if n.startswith(("val/", "train/"))]
    keys = [("monitor", cfg.monitor)]
    reg = selected_regularization(cfg)
    if "early_stopping" in reg:
        keys.append(("regularization.early_stopping.monitor", reg.early_stopping.monitor))
    for key, value in keys:
        if value not in allowed:
            _fail(key, value, f"a metric logged for this {task} task: {', '.join(allowed)}")


def selected_regularization(cfg: DictConfig) -> DictConfig:
    """The regularization options selected (the schema holds None for the others), resolved."""
    reg = OmegaConf.to_container(cfg.get("regularization") or {}, resolve=True)
    return OmegaConf.create({k: v for k, v in reg.items() if v is not None})


def _validate_regularization(reg: Any) -> None:
    if "dropout" in reg:
        p = reg.dropout.get("p")
        if not _is_number(p) or not 0 <= p < 1:
            _fail("regularization.dropout.p", p, "a probability in [0, 1)")
    if "early_stopping" in reg:
        es = reg.early_stopping
        if not _is_int(es.patience) or es.patience < 0:
            _fail("regularization.early_stopping.patience", es.patience, "an integer >= 0 (epochs without improvement)")
        if not _is_number(es.min_delta) or es.min_delta < 0:
            _fail("regularization.early_stopping.min_delta", es.min_delta, "a number >= 0")
        if es.mode not in MODES:
            _fail("regularization.early_stopping.mode", es.mode, "min or max")
    if "weight_decay" in reg:
        wd = reg.weight_decay
        if not _is_number(wd) or wd < 0:
            _fail("regularization.weight_decay", wd, "a number >= 0")


def _validate_data(data: Any) -> None:
    for key in ("val_fraction", "test_fraction"):
        value = data.get(key)
        if not _is_number(value) or not 0 <= value < 1:
            _fail(f"data.{key}", value, "a fraction in [0, 1)")
    folds = data.get("folds", 1)
    if not _is_int(folds) or folds < 1:
        _fail("data.folds", folds, "an integer >= 1 (1 = no cross-validation, k > 1 = k-fold)")
    if data.val_fraction == 0 and folds == 1:
        _fail("data.val_fraction", 0, "a fraction > 0: the monitored val metrics need validation data")
    if data.val_fraction + data.test_fraction >= 1:
        _fail(
            "data.val_fraction + data.test_fraction",
            data.val_fraction + data.test_fraction,
            "a sum below 1, leaving data to train on",
        )
    if "n_samples" in data and (not _is_int(data.n_samples) or data.n_samples < 3):
        _fail("data.n_samples", data.n_samples, "an integer >= 3")
    if "noise" in data and (not _is_number(data.noise) or data.noise < 0):
        _fail("data.noise", data.noise, "a number >= 0")
    batch_size(data.batch_size, n_train=1)
