"""Checks of a composed config, run before any data is built or any training starts.

Every key is checked against its schema (trainlab/config/schema/): a key the schema lacks, and a
value outside what the key's ``allowed`` says (trainlab/config/ranges.py). What one key cannot say
alone is checked here by hand: the data fractions' sum, the lr finder's range, a GPU that is
not there, an option renamed to another's name, two weight decays. Each failure raises
ConfigError naming the key, the value given and what is allowed.
"""

from __future__ import annotations

import dataclasses
import json
import marshal
import re
from functools import cache
from typing import Any, NoReturn

from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from trainlab.config.plain import kept, leaves, lookup, named_keys, once, plain, readable, reads_hydra
from trainlab.config.ranges import Allowed, allowed_in
from trainlab.config.schema import BATCH_SIZE, SCHEMAS
from trainlab.errors import ConfigError


def _fail(key: str, value: Any, allowed: str) -> None:
    raise ConfigError(f"{key}={value!r} is not allowed: {allowed}")


def processes(cfg: DictConfig) -> int:
    """The processes a run trains in, as its config says: trainer.devices (a count, or a
    list's length; ``auto`` counts 1 here, ``build.check_trainer`` asks Lightning) times
    trainer.num_nodes. More than one: Lightning's DDP (``trainlab.training.distributed``)."""
    values = kept(cfg)
    trainer = values["trainer"] if values is not None else cfg.trainer
    devices = trainer.get("devices", 1)
    listed = isinstance(devices, list) or OmegaConf.is_list(devices)
    count = len(devices) if listed else devices if isinstance(devices, int) else 1
    return count * int(trainer.get("num_nodes", 1) or 1)


def check_one_device(cfg: DictConfig) -> None:
    """A sweep's job trains in one process: ``ConfigError`` for several devices (whose extra
    processes Lightning would start by running the whole sweep command again)."""
    if processes(cfg) > 1:
        raise ConfigError(
            f"trainer.devices={cfg.trainer.devices}: a sweep (-m) trains each job on one device; "
            "run a job on several devices alone (without -m)"
        )


def check_processes(cfg: DictConfig, count: int) -> None:
    """What trainlab cannot do on several devices (``count`` processes) yet: the lr finder,
    and cross-validation (each fold would start the other ranks again)."""
    if count <= 1:
        return
    devices = cfg.trainer.get("devices", 1)
    shown = OmegaConf.to_container(devices) if OmegaConf.is_list(devices) else devices
    if cfg.tune.name != "none":
        _fail(
            "tune",
            cfg.tune.name,
            f"none with trainer.devices={shown} ({count} processes): find the learning rate on one device "
            "(trainer.devices=1), then train on several",
        )
    if cfg.data.get("folds", 1) > 1:
        _fail(
            "data.folds",
            cfg.data.folds,
            f"1 with trainer.devices={shown} ({count} processes): cross-validation trains on one device "
            "(trainer.devices=1)",
        )


def validate(cfg: DictConfig) -> None:
    """Raise ConfigError for the first invalid value in ``cfg`` (keys in the config's order,
    then the checks that read several keys)."""
    resolved = _resolved(cfg)
    _check_keys(cfg, "", resolved)
    values = resolved if resolved is not None else cfg  # the checks below read by item: either answers
    _check_option_names(cfg, values)
    _check_data(values["data"])
    accelerator = str(values["trainer"].get("accelerator", "auto"))
    if accelerator in ("gpu", "cuda") and not _cuda_visible():
        _fail("trainer.accelerator", accelerator, "no CUDA GPU is visible here; use trainer=default or trainer=cpu")
    check_processes(cfg, processes(cfg))
    tune = values["tune"]
    if tune["name"] == "lr_find" and tune["max_lr"] <= tune["min_lr"]:
        _fail("tune.max_lr", tune["max_lr"], f"a learning rate > tune.min_lr={tune['min_lr']}")
    _check_weight_decay(cfg, values)


def _cuda_visible() -> bool:
    import torch  # only when a GPU is asked for: config checks otherwise answer without torch

    return torch.cuda.is_available()


def _resolved(cfg: DictConfig) -> dict[Any, Any] | None:
    """``cfg`` with every interpolation resolved, as plain values; None when a value cannot be
    resolved (``_check_keys`` then resolves each as it reaches it, and raises there)."""
    try:
        return plain(cfg)
    except Exception:
        return None


def _check_keys(
    node: DictConfig, path: str = "", plain: dict[Any, Any] | None = None, root: DictConfig | None = None
) -> None:
    """Each key of ``node`` (and of the nodes below it) against the node's schema.

    Hydra lets ``+key=value`` add a key that a structured config lacks; it is refused here by
    the same schema. ``data``'s extra keys are left to ``build.raw_data``, which names the
    data set's own options. A node's own values come before its sections', so a value that
    a section takes by interpolation (``${monitor}``) is refused under the key that was set.

    ``plain`` is ``node`` as ``OmegaConf.to_container(node, resolve=True)`` gives it, so each
    interpolation is resolved once. Without it (a value that cannot be resolved), each value
    is resolved as the check reaches it (a section whole, for the keys below), so the first
    error raised is the one the checks in order meet: a value whose interpolation fails is
    named as written in ``root`` (the whole config; ``node`` itself at the top).
    """
    schema = OmegaConf.get_type(node)
    keys, allowed = _schema_keys(schema)
    sections = []
    for key in node:
        name = f"{path}{key}"
        if key == "hydra":
            continue
        if plain is None:
            if OmegaConf.is_missing(node, key):
                _fail(name, "???", "a value: this key has no default")
            try:
                value = node[key]
                resolved = OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
            except OmegaConfBaseException as error:
                _unresolvable(node if root is None else root, name, error)
        else:
            resolved = plain[key]  # a missing value reads "???" there, as does a value resolved to "???"
            if resolved == MISSING and OmegaConf.is_missing(node, key):
                _fail(name, "???", "a value: this key has no default")
        if keys is not None and key not in keys and path != "data.":
            _fail(name, resolved, f"{path[:-1] or 'the config'} has no key {key!r}; its keys: {', '.join(keys)}")
        if isinstance(resolved, dict):  # a DictConfig value, resolved (a None section reads None)
            seen = None if plain is None else _passed(node, key, f"{name}.", resolved)
            if seen not in _PASSED:  # (None never is)
                sections.append((node[key], f"{name}.", resolved, seen))
        elif key in allowed and not allowed[key].test(resolved):
            _fail(name, resolved, allowed[key].words)
    for section, section_path, section_plain, seen in sections:
        _check_keys(section, section_path, section_plain, node if root is None else root)
        if seen is not None:
            _PASSED.add(seen)


def _unresolvable(root: DictConfig, name: str, error: OmegaConfBaseException) -> NoReturn:
    """ConfigError for the value ``name`` (a key, or a section: its first key that fails) whose
    interpolation cannot be resolved, naming the key the interpolation leads to where that one
    fails too (``data.seed`` is ``${seed}``: ``seed``) as written, and OmegaConf's reason; a
    value it leads to that is missing (``???``) is named as a missing value is."""
    values = OmegaConf.to_container(root, resolve=False)
    key = next((k for k, _ in leaves(lookup(values, name), name) if not _resolves(root, k)), name)
    links = named_keys(values, key) or [(key, None)]
    at = 0
    while at + 1 < len(links) and not _resolves(root, links[at + 1][0]):  # (one that resolves: its type is wrong here)
        at += 1
    key, written = links[at]
    if written == MISSING:
        _fail(key, MISSING, "a value: this key has no default")
    reason = _hydra_reason(str(written)) or str(error).strip().splitlines()[0]
    raise ConfigError(f"{key}={written}: its interpolation cannot be resolved: {reason}")


def _resolves(root: DictConfig, key: str) -> bool:
    try:
        OmegaConf.select(root, key, throw_on_resolution_failure=True, throw_on_missing=True)
    except OmegaConfBaseException:
        return False
    return True


def _hydra_reason(written: str) -> str | None:
    """Why a value reading Hydra's config (``${hydra:job.num}``) has none: not under Hydra, or
    the key has no value in this job (a lone run has no job number); None otherwise."""
    from hydra.core.hydra_config import HydraConfig

    if not reads_hydra(written):
        return None
    if not HydraConfig.initialized():
        return "${hydra:...} reads what Hydra sets for a job of python train.py; run() and run_sweep() have none"
    for path in re.findall(r"\$\{hydra:([\w.]+)\}", written):
        if OmegaConf.select(HydraConfig.get(), path, default=None) is None:
            sweep = " (a sweep's job number: only -m sets it)" if path in ("job.num", "job.id") else ""
            return f"hydra.{path} has no value in this job{sweep}"
    return None


# Sections that passed (their path, schema and values): a sweep's jobs share most of theirs,
# so each distinct section is checked once. Bounded: cleared past _PASSED_MAX.
_PASSED: set[tuple[str, Any, bytes | str]] = set()
_PASSED_MAX = 100_000


def _passed(parent: DictConfig, key: str, path: str, values: dict[Any, Any]) -> tuple[str, Any, bytes | str]:
    """What identifies the check of ``parent``'s section ``key``, whose plain values are
    ``values``: the same path, schema and values pass or fail alike. (The schema is read
    without resolving the section: a section that passed is not fetched again; the values
    are keyed by ``marshal``, a tenth of ``json.dumps``'s time, or by JSON where marshal
    cannot hold a value.)"""
    if len(_PASSED) > _PASSED_MAX:
        _PASSED.clear()
    try:
        found: bytes | str = marshal.dumps(values)
    except ValueError:  # an Enum
        found = json.dumps(values, sort_keys=True, default=repr)
    return path, OmegaConf.get_type(parent, key), found


@cache
def _schema_keys(schema: type[Any] | None) -> tuple[list[str] | None, dict[str, Allowed]]:
    """The keys of a dataclass schema (None for a node without one) and what each allows."""
    if not dataclasses.is_dataclass(schema):
        return None, {}
    return [f.name for f in dataclasses.fields(schema)], allowed_in(schema)


def _check_option_names(cfg: DictConfig, values: Any) -> None:
    """``model.name=mlp`` on ``model=perceptron`` would lack mlp's keys (``hidden``): a name
    must be one whose schema is the option's (``values``: ``cfg``, or its plain values)."""
    for group in ("model", "activation"):
        name = values[group]["name"]
        schema = OmegaConf.get_type(cfg, group)
        if SCHEMAS.get((group, name), schema) is not schema:
            _fail(f"{group}.name", name, f"the chosen option's own name; pick another {group} with {group}={name}")


def _check_data(data: Any) -> None:
    """The data fractions (``data``: the config's data section, or its plain values)."""
    if data["val_fraction"] == 0 and data["folds"] == 1:
        _fail("data.val_fraction", 0, "a fraction > 0: the monitored val metrics need validation data")
    if data["val_fraction"] + data["test_fraction"] >= 1:
        _fail(
            "data.val_fraction + data.test_fraction",
            data["val_fraction"] + data["test_fraction"],
            "a sum below 1, leaving data to train on",
        )


def _check_weight_decay(cfg: DictConfig, values: Any) -> None:
    """``regularization=[weight_decay]`` replaces the optimizer's own weight decay (build.optimizer),
    so one of the two must be off (``values``: ``cfg``, or its plain values)."""
    ours, theirs = values["regularization"]["weight_decay"], values["optimizer"].get("weight_decay", 0.0)
    if ours is None or theirs == 0:
        return
    schema = OmegaConf.get_type(cfg, "optimizer")
    option = next((name for (group, name), s in SCHEMAS.items() if group == "optimizer" and s is schema), None)
    default = next((f.default for f in dataclasses.fields(schema) if f.name == "weight_decay"), None)
    why = f" ({option}'s default is {default})" if option and theirs == default else ""
    raise ConfigError(
        f"regularization.weight_decay={ours!r} and optimizer.weight_decay={theirs!r} both set the weight decay{why}: "
        "keep one: drop weight_decay from regularization, or set optimizer.weight_decay=0"
    )


def batch_size(value: Any, n_train: int) -> int:
    """The batch size in rows: an int >= 1, or ``full`` for every training row at once."""
    if value == "full":
        return n_train
    if not BATCH_SIZE.test(value):
        _fail("data.batch_size", value, BATCH_SIZE.words)
    return value


def check_monitor(cfg: DictConfig, task: str) -> None:
    """``monitor`` (and early stopping's) must name a val or train metric logged for ``task``."""
    from trainlab.config.options import metric_names

    allowed = [n for n in metric_names(task) if n.startswith(("val/", "train/"))]
    keys = [("monitor", readable(cfg)["monitor"])]
    reg = selected_regularization(cfg)
    if "early_stopping" in reg:
        keys.append(("regularization.early_stopping.monitor", reg.early_stopping.monitor))
    for key, value in keys:
        if value not in allowed:
            _fail(key, value, f"a metric logged for this {task} task: {', '.join(allowed)}")


def selected_regularization(cfg: DictConfig) -> DictConfig:
    """The regularization options selected (the schema holds None for the others), resolved."""

    def make() -> DictConfig:
        reg = plain(cfg).get("regularization") or {}
        selected = OmegaConf.create({k: v for k, v in reg.items() if v is not None})
        OmegaConf.set_readonly(selected, True)
        return selected

    return once(cfg, "selected_regularization", make)
