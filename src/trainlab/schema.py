"""The configuration's schema: a dataclass per config group option, registered with Hydra.

Hydra merges each option's YAML onto its schema (``defaults: [/schema/<group>/<option>@_here_,
_self_]``), so a key that the schema lacks (a typo: ``optimizer.lrr=0.1``) or a value of the
wrong type (``trainer.max_epochs=ten``) is refused while the config is composed, with
Hydra's message naming the key and the value. Ranges (``optimizer.lr > 0``) are checked next,
still before any data is built, by ``trainlab.validate``. The YAML files hold the defaults
users read; the dataclasses hold the types, and a field's default only where YAML has none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

# ----- model, activation, loss, logger, tune -----


@dataclass
class Model:
    name: str = MISSING


@dataclass
class MLP(Model):
    hidden: list[int] = field(default_factory=lambda: [32, 32])


@dataclass
class Activation:
    name: str = MISSING


@dataclass
class LeakyReLU(Activation):
    negative_slope: float = 0.01


@dataclass
class Named:
    """loss and logger: an option is a name."""

    name: str = MISSING


@dataclass
class NoTuning:
    name: str = "none"


@dataclass
class LRFind:
    name: str = "lr_find"
    min_lr: float = 1e-6
    max_lr: float = 1.0
    num_training: int = 100
    mode: str = "exponential"
    early_stop_threshold: float | None = 4.0
    apply: bool = False


# ----- optimizers (partials of torch.optim classes) and schedulers -----


@dataclass
class Optimizer:
    _target_: str = MISSING
    _partial_: bool = True
    lr: float = MISSING
    weight_decay: float = 0.0


@dataclass
class SGD(Optimizer):
    momentum: float = 0.0
    dampening: float = 0.0
    nesterov: bool = False


@dataclass
class Adam(Optimizer):
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    amsgrad: bool = False


@dataclass
class RMSprop(Optimizer):
    alpha: float = 0.99
    eps: float = 1e-8
    momentum: float = 0.0
    centered: bool = False


@dataclass
class Adagrad(Optimizer):
    lr_decay: float = 0.0
    eps: float = 1e-10
    initial_accumulator_value: float = 0.0


@dataclass
class Adadelta(Optimizer):
    rho: float = 0.9
    eps: float = 1e-6


@dataclass
class StepLR:
    _target_: str = "torch.optim.lr_scheduler.StepLR"
    _partial_: bool = True
    step_size: int = MISSING
    gamma: float = 0.1


@dataclass
class CosineAnnealingLR:
    _target_: str = "torch.optim.lr_scheduler.CosineAnnealingLR"
    _partial_: bool = True
    T_max: int = MISSING
    eta_min: float = 0.0


@dataclass
class ReduceLROnPlateau:
    _target_: str = "torch.optim.lr_scheduler.ReduceLROnPlateau"
    _partial_: bool = True
    mode: str = "min"
    factor: float = 0.1
    patience: int = 10


# ----- data -----


@dataclass
class Data:
    name: str = MISSING
    seed: int = 0
    batch_size: Any = 32  # an int, or "full"
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    folds: int = 1


@dataclass
class Generated(Data):
    n_samples: int = 1000
    noise: float = 0.0


@dataclass
class WillIPass(Generated):
    n_lectures: int = 30


@dataclass
class RandomTeacher(Generated):
    n_features: int = 2
    n_classes: int = 2


@dataclass
class Wave(Generated):
    n_features: int = 1


@dataclass
class CSV(Data):
    train: str | None = None
    target: str | None = None
    test: str | None = None
    id: str | None = None
    task: str = "auto"
    drop: list[str] = field(default_factory=list)
    max_categories: int = 50


# ----- trainer: the Lightning Trainer arguments trainlab passes on -----


@dataclass
class Trainer:
    accelerator: str = "auto"
    devices: Any = 1
    max_epochs: int = 100
    min_epochs: int | None = None
    max_steps: int = -1
    max_time: str | None = None
    num_sanity_val_steps: int = 0
    enable_progress_bar: bool = True
    enable_model_summary: bool = True
    precision: Any = "32-true"
    gradient_clip_val: float | None = None
    deterministic: Any = None
    benchmark: bool | None = None
    check_val_every_n_epoch: int | None = 1
    log_every_n_steps: int | None = None
    limit_train_batches: Any = None
    limit_val_batches: Any = None
    limit_test_batches: Any = None
    fast_dev_run: Any = False
    overfit_batches: float = 0.0


# ----- the top level -----


@dataclass
class Dropout:
    p: float = 0.5


@dataclass
class EarlyStopping:
    monitor: str = "${monitor}"
    mode: str = "${mode}"
    patience: int = 10
    min_delta: float = 0.0


@dataclass
class Regularization:
    """Each member is None unless its option is selected (``regularization=[dropout,...]``)."""

    dropout: Dropout | None = None
    early_stopping: EarlyStopping | None = None
    weight_decay: float | None = None


@dataclass
class Speed:
    steps_per_call: int = 32
    cuda_graph: bool = True
    drop_last: bool = False
    loader: str = "memory"
    async_checkpoint: bool = True
    last_checkpoint_seconds: float = 2.0


@dataclass
class Pictures:
    enabled: bool = True
    every_n_epochs: int | None = None
    size: int = 256
    neurons: bool = True
    histograms: bool = True


@dataclass
class Divergence:
    max_loss: float | None = 1e4


@dataclass
class Train:
    """conf/train.yaml. Groups are typed by their options' schemas, hence Any here."""

    data: Any = MISSING
    model: Any = MISSING
    activation: Any = MISSING
    loss: Any = MISSING
    optimizer: Any = MISSING
    regularization: Regularization = field(default_factory=Regularization)
    scheduler: Any = None
    trainer: Any = MISSING
    logger: Any = MISSING
    tune: Any = MISSING
    seed: int = 42
    monitor: str = "val/loss"
    mode: str = "min"
    divergence: Divergence = field(default_factory=Divergence)
    resume: str | None = None
    ckpt_path: str | None = None
    speed: Speed = field(default_factory=Speed)
    pictures: Pictures = field(default_factory=Pictures)


# (group, option) -> schema, stored as /schema/<group>/<option>.
SCHEMAS: dict[tuple[str, str], type] = {
    ("model", "mlp"): MLP,
    ("model", "perceptron"): Model,
    **{("activation", a): Activation for a in ("relu", "sigmoid", "tanh", "identity", "gelu")},
    ("activation", "leaky_relu"): LeakyReLU,
    ("loss", "loss"): Named,
    ("logger", "logger"): Named,
    ("tune", "none"): NoTuning,
    ("tune", "lr_find"): LRFind,
    ("optimizer", "sgd"): SGD,
    ("optimizer", "adam"): Adam,
    ("optimizer", "adamw"): Adam,
    ("optimizer", "rmsprop"): RMSprop,
    ("optimizer", "adagrad"): Adagrad,
    ("optimizer", "adadelta"): Adadelta,
    ("scheduler", "step"): StepLR,
    ("scheduler", "cosine"): CosineAnnealingLR,
    ("scheduler", "plateau"): ReduceLROnPlateau,
    ("data", "shipped"): Data,
    ("data", "generated"): Generated,
    ("data", "will_i_pass"): WillIPass,
    ("data", "random"): RandomTeacher,
    ("data", "wave"): Wave,
    ("data", "csv"): CSV,
    ("trainer", "trainer"): Trainer,
}


def register() -> None:
    """Store every schema in Hydra's ConfigStore (idempotent)."""
    store = ConfigStore.instance()
    store.store(name="train_schema", node=Train)
    for (group, option), node in SCHEMAS.items():
        store.store(group=f"schema/{group}", name=option, node=node)
