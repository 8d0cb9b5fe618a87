"""Config to data: the data set, its splits, the DataModule (a stack's too), the file to predict after training."""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from typing import Any

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from trainlab.config.plain import kept, readable
from trainlab.config.validate import batch_size
from trainlab.data import COMMON_KEYS, DATASETS, RawData, TabularData, prepare, prepare_folds
from trainlab.data.csv_file import read_to_predict
from trainlab.data.datamodule import DataModule
from trainlab.data.stacked import StackedData, StackedDataModule
from trainlab.errors import ConfigError


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


def submission_input(cfg: DictConfig, data: TabularData) -> pd.DataFrame | None:
    """``data.test`` (a file to predict after training), checked now: it must hold every
    column the model reads, and the id column."""
    path = cfg.data.get("test")
    if not path:
        return None
    return read_to_predict(path, data.preprocessor, cfg.data.get("id"), key="data.test")


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


def stack_datasets(cfgs: Sequence[DictConfig]) -> tuple[list[TabularData], list[int]]:
    """Each distinct data config's prepared data, once, and which of them each job trains on."""
    keys = [json.dumps(_data_values(cfg), sort_keys=True) for cfg in cfgs]
    first: dict[str, int] = {}  # each distinct data config's first job, in order
    for m, key in enumerate(keys):
        first.setdefault(key, m)
    number = {key: n for n, key in enumerate(first)}
    return [datasets(cfgs[m])[0] for m in first.values()], [number[key] for key in keys]


def _data_values(cfg: DictConfig) -> Any:
    """``cfg.data`` as plain values: kept with a sweep's job (``trainlab.config.plain``), else converted."""
    values = kept(cfg)
    return values["data"] if values is not None else OmegaConf.to_container(cfg.data, resolve=True)


def stack_datamodule(cfgs: Sequence[DictConfig], data: StackedData, batch: int) -> StackedDataModule:
    """The stack's splits in mini-batches of ``batch`` rows (``data.batch_size``, resolved),
    each member's shuffled by its seed."""
    first = cfgs[0]
    seeds = [readable(cfg)["seed"] for cfg in cfgs]
    return StackedDataModule(data, seeds, batch, first.speed.steps_per_call, first.speed.drop_last)
