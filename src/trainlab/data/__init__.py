"""Data sets by name. Each gives a TabularData: splits, task, sizes and class names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trainlab.data import will_i_pass
from trainlab.data.dataset import TabularData, split_and_standardize, split_sizes
from trainlab.data.loader import InMemoryLoader
from trainlab.errors import ConfigError

DATASETS: dict[str, Callable[..., TabularData]] = {
    "will_i_pass": will_i_pass.load,
}

# Keys of the data config that the loader, not the data set, uses.
LOADER_KEYS = ("name", "batch_size")


def build_data(name: str, **options: Any) -> TabularData:
    """Load the data set ``name`` with its options (n_samples, noise, seed, fractions...)."""
    if name not in DATASETS:
        raise ConfigError(f"data.name={name!r} is not a data set; allowed: {', '.join(DATASETS)}")
    return DATASETS[name](**options)


__all__ = ["DATASETS", "InMemoryLoader", "TabularData", "build_data", "split_and_standardize", "split_sizes"]
