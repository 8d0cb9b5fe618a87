"""Config to the network and how it trains, at either width: the model spec, the optimizer's
settings, the scheduler, each member's stopping rules, and the LightningModule with its step unit."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import lightning as L
import torch
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from trainlab.config.plain import kept, lookup, readable
from trainlab.config.validate import selected_regularization
from trainlab.data import TabularData
from trainlab.models import from_spec
from trainlab.training.losses import Loss, n_outputs
from trainlab.training.module import TrainingModule
from trainlab.training.records import Record, Rules
from trainlab.training.reporting import Reporter
from trainlab.training.single_steps import SingleModelSteps
from trainlab.training.stack.network import StackedNetwork
from trainlab.training.stack.optim import StackedOptimizer
from trainlab.training.stack.stack_steps import StackSteps


def model_spec(cfg: DictConfig, in_features: int, out_features: int) -> dict[str, Any]:
    """Everything needed to rebuild the network, as plain data (kept in checkpoints)."""
    reg = selected_regularization(cfg)
    values = kept(cfg)  # a sweep's job: its plain values, read without OmegaConf
    model = readable(cfg)["model"]
    if values is None:
        activation = OmegaConf.to_container(cfg.activation, resolve=True)
    else:  # its own copy: a spec is kept with the member and saved
        activation = json.loads(json.dumps(values["activation"]))
    return {
        "name": model["name"],
        "in_features": in_features,
        "out_features": out_features,
        "hidden": list(model.get("hidden") or []),
        "activation": activation,
        "dropout": float(reg.dropout.p) if "dropout" in reg else 0.0,
    }


def checkpoint_extra(cfg: DictConfig, data: TabularData, spec: dict[str, Any], loss: str) -> dict[str, Any]:
    """What a checkpoint carries for prediction: the model spec, the fitted preprocessing, the
    loss and the id column."""
    values = kept(cfg)  # a sweep's job: its plain values, read without OmegaConf
    id_column = cfg.data.get("id") if values is None else lookup(values, "data.id")
    return {"model": spec, "preprocessing": data.preprocessing(), "loss": loss, "id": id_column}


def optimizer_settings(cfg: DictConfig) -> tuple[str, dict[str, Any]]:
    """(the optimizer's class path, its keyword arguments) of ``optimizer`` with
    ``regularization.weight_decay`` passed on."""
    values = kept(cfg)  # a sweep's job: a copy of its plain values' optimizer, without converting it
    options = OmegaConf.to_container(cfg.optimizer, resolve=True) if values is None else dict(values["optimizer"])
    target = str(options.pop("_target_"))
    options.pop("_partial_", None)
    reg = selected_regularization(cfg)
    if "weight_decay" in reg:
        options["weight_decay"] = float(reg.weight_decay)
    if "betas" in options:
        options["betas"] = tuple(options["betas"])
    return target, options


def optimizer(cfg: DictConfig) -> Callable[..., torch.optim.Optimizer]:
    """A partial optimizer (params -> Optimizer) of ``optimizer_settings``."""
    target, options = optimizer_settings(cfg)
    return partial(get_class(target), **options)


def scheduler(cfg: DictConfig) -> Callable[..., Any] | None:
    """A partial LR scheduler (optimizer -> scheduler), or None for ``scheduler=none``."""
    if not cfg.get("scheduler") or "_target_" not in cfg.scheduler:
        return None
    return instantiate(cfg.scheduler)


def rules(cfg: DictConfig) -> Rules:
    """How a run (or a stack's member) stops: ``trainer.max_epochs``, and early stopping when
    ``regularization`` selects it; its best epoch by ``monitor`` and ``mode``."""
    values = readable(cfg)
    found = Rules(max_epochs=values["trainer"]["max_epochs"], monitor=values["monitor"], mode=values["mode"])
    reg = selected_regularization(cfg)
    if "early_stopping" in reg:
        es = reg.early_stopping
        found.patience, found.min_delta, found.early_monitor, found.early_mode = (
            es.patience,
            es.min_delta,
            es.monitor,
            es.mode,
        )
    return found


def val_every_n_epochs(cfg: DictConfig) -> int:
    """``trainer.check_val_every_n_epoch``, or 1 for null."""
    return cfg.trainer.get("check_val_every_n_epoch") or 1


def training_module(
    cfg: DictConfig,
    data: TabularData,
    loss: Loss,
    module_class: type[TrainingModule] = TrainingModule,
    cuda_graph: bool | None = None,
    stops: bool = True,
) -> TrainingModule:
    """A fresh network for ``data`` (seed first for repeatable weights) in its LightningModule,
    with its step unit, its record and the spec and preprocessing that its checkpoints carry.
    ``cuda_graph`` overrides ``speed.cuda_graph``; ``stops=False``: no rule ends it (the LR
    finder runs its own number of steps)."""
    spec = model_spec(cfg, data.n_features, n_outputs(loss.name, data.task, data.n_classes, data.n_targets))
    model = from_spec(spec)
    steps = SingleModelSteps(
        model,
        loss,
        optimizer(cfg),
        cuda_graph=cfg.speed.cuda_graph if cuda_graph is None else cuda_graph,
        gradient_clip_val=cfg.trainer.get("gradient_clip_val"),
        max_loss=cfg.divergence.max_loss,
        log_every_n_steps=cfg.trainer.get("log_every_n_steps"),
    )
    record = Record(rules(cfg) if stops else Rules(max_epochs=2**62, monitor=cfg.monitor, mode=cfg.mode))
    return module_class(
        steps,
        loss,
        [record],
        scheduler=scheduler(cfg),
        checkpoint_extra=checkpoint_extra(cfg, data, spec, loss.name),
        val_every_n_epochs=val_every_n_epochs(cfg),
        val_limit=cfg.trainer.get("limit_val_batches"),
        reporter=Reporter(),
    )


def _drawn(drawn: dict[str, torch.nn.Module], seed: int, spec: dict[str, Any], fresh: bool) -> torch.nn.Module:
    """The untrained network of ``spec`` as a lone run with ``seed`` draws it: seeded, then
    built. Members alike in seed and spec (a grid of learning rates x seeds) share one draw
    (kept in ``drawn``), which ``StackedNetwork`` only reads; a ``fresh`` one is drawn again,
    so the random state after the stack's last draw is the one its lone run leaves."""
    key = json.dumps([seed, spec], sort_keys=True, default=str)
    if fresh or key not in drawn:
        L.seed_everything(seed, verbose=False)
        drawn[key] = from_spec(spec)
    return drawn[key]


def stack_module(cfgs: Sequence[DictConfig], loss: Loss, specs: Sequence[dict[str, Any]]) -> TrainingModule:
    """The LightningModule of a stack of ``cfgs`` (one member each, checked to share a stack):
    each member's network drawn as its lone run draws it (its seed first), its optimizer's
    settings, its rules (each member's prediction payload is written with its run directory)."""
    drawn: dict[str, torch.nn.Module] = {}
    last = len(cfgs) - 1
    seeds = [readable(cfg)["seed"] for cfg in cfgs]
    networks = [_drawn(drawn, seed, spec, m == last) for m, (seed, spec) in enumerate(zip(seeds, specs, strict=True))]
    network = StackedNetwork(networks, dropout=[spec["dropout"] for spec in specs])
    settings = [optimizer_settings(cfg) for cfg in cfgs]
    name = settings[0][0].rsplit(".", 1)[-1]
    first = cfgs[0]
    steps = StackSteps(
        network,
        loss,
        lambda params: StackedOptimizer(params, name, [options for _, options in settings]),
        max_loss=first.divergence.max_loss,
        cuda_graph=first.speed.cuda_graph,
    )
    return TrainingModule(steps, loss, [Record(rules(cfg)) for cfg in cfgs])
