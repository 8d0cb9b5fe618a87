"""The schemas of the data options."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from trainlab.config.ranges import at_least, either, key, one_of, within
from trainlab.config.schema.registry import option

# ----- data -----

FRACTION = within(0, 1, "[)", "a fraction")
BATCH_SIZE = either(
    at_least(1, integer=True), one_of("full"), words="an integer >= 1 (1 = stochastic gradient descent) or `full`"
)


@option("data", "shipped")
@dataclass
class Data:
    name: str = MISSING
    seed: int = "${seed}"  # the run's seed, unless set
    batch_size: Any = key(32, BATCH_SIZE)
    val_fraction: float = key(0.2, FRACTION)
    test_fraction: float = key(0.2, FRACTION)
    folds: int = key(1, at_least(1, integer=True, note="1 = no cross-validation, k > 1 = k-fold"))


@option("data", "generated")
@dataclass
class Generated(Data):
    n_samples: int = key(1000, at_least(3, integer=True))
    noise: float = key(0.0, at_least(0))


@option("data", "will_i_pass")
@dataclass
class WillIPass(Generated):
    n_samples: int = 2000
    noise: float = 0.05  # here: the fraction of labels flipped at random
    n_lectures: int = 30


@option("data", "random")
@dataclass
class RandomTeacher(Generated):
    n_samples: int = 20000
    noise: float = 0.1
    n_features: int = 2
    n_classes: int = 2


@option("data", "wave")
@dataclass
class Wave(Generated):
    noise: float = 0.1
    n_features: int = 1


@option("data", "csv")
@dataclass
class CSV(Data):
    train: str | None = None
    target: str | None = None
    test: str | None = None
    id: str | None = None
    task: str = "auto"
    drop: list[str] = field(default_factory=list)
    max_categories: int = 50
