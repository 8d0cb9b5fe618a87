"""Data sets by name. Each loads a RawData (feature columns, target column) that
``prepare`` splits and preprocesses into a TabularData; nothing downstream is hard-coded."""

from __future__ import annotations

from collections.abc import Callable

from trainlab.data import csv_file, playground, random_teacher, shipped, will_i_pass
from trainlab.data.dataset import RawData, TabularData, prepare, prepare_folds
from trainlab.data.loader import InMemoryLoader

DATASETS: dict[str, Callable[..., RawData]] = {
    "will_i_pass": will_i_pass.load,
    "circles": playground.circles,
    "xor": playground.xor,
    "gauss": playground.gauss,
    "spiral": playground.spiral,
    "moons": playground.moons,
    "wave": playground.wave,
    "random": random_teacher.load,
    "digits": shipped.digits,
    "breast_cancer": shipped.breast_cancer,
    "wine": shipped.wine,
    "diabetes": shipped.diabetes,
    "csv": csv_file.load,
}

# Keys of every data config that the trainer, not the data set's loader, uses.
COMMON_KEYS = ("name", "batch_size", "val_fraction", "test_fraction", "seed", "folds", "max_categories")

__all__ = ["COMMON_KEYS", "DATASETS", "InMemoryLoader", "RawData", "TabularData", "prepare", "prepare_folds"]
