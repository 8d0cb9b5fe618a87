"""The schemas of the model, activation, loss, logger, tune, optimizer and scheduler options."""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import MISSING

from trainlab.config.options import ACTIVATIONS, LOSSES, MODELS
from trainlab.config.ranges import above, at_least, key, list_of, one_of, within
from trainlab.config.schema.registry import LOGGERS, MODE, option

# ----- model, activation, loss, logger, tune -----

LAYER_SIZES = list_of(at_least(1, integer=True), "a non-empty list of layer sizes >= 1, e.g. [64,64]")


@dataclass
class Model:
    name: str = key(MISSING, one_of(*MODELS))


@option("model", "mlp")
@dataclass
class MLP(Model):
    hidden: list[int] = key([32, 32], LAYER_SIZES)


@dataclass
class Activation:
    name: str = key(MISSING, one_of(*ACTIVATIONS))


@option("activation", "leaky_relu")
@dataclass
class LeakyReLU(Activation):
    negative_slope: float = 0.01


@option("loss", "loss")
@dataclass
class Loss:
    name: str = key(MISSING, one_of(*LOSSES))


@option("logger", "logger")
@dataclass
class Logger:
    name: str = key(MISSING, one_of(*LOGGERS))


@option("tune", "none")
@dataclass
class Tune:
    name: str = key(MISSING, one_of("none", "lr_find"))


@option("tune", "lr_find")
@dataclass
class LRFind(Tune):
    min_lr: float = key(1e-6, above(0, "a learning rate"))
    max_lr: float = 1.0  # > min_lr: checked by trainlab.config.validate
    num_training: int = key(100, at_least(3, integer=True, note="optimizer steps of the range test"))
    mode: str = key("exponential", one_of("exponential", "linear"))
    early_stop_threshold: float | None = key(4.0, above(1, "a factor", null="never stop early"))
    apply: bool = False


# ----- optimizers (partials of torch.optim classes) and schedulers -----

MOMENTUM = within(0, 1, "[)")
EPS = above(0, note="added to a denominator")


@dataclass
class Optimizer:
    _target_: str = MISSING
    _partial_: bool = True
    lr: float = key(MISSING, above(0, "a learning rate"))
    weight_decay: float = key(0.0, at_least(0))


@option("optimizer", "sgd")
@dataclass
class SGD(Optimizer):
    lr: float = 0.1
    momentum: float = key(0.0, MOMENTUM)
    dampening: float = 0.0
    nesterov: bool = False


@option("optimizer", "adam")
@dataclass
class Adam(Optimizer):
    lr: float = 0.01
    betas: list[float] = key([0.9, 0.999], list_of(within(0, 1, "[)"), "two numbers in [0, 1)", length=2))
    eps: float = key(1e-8, EPS)
    amsgrad: bool = False


@option("optimizer", "adamw")
@dataclass
class AdamW(Adam):
    weight_decay: float = 0.01


@option("optimizer", "rmsprop")
@dataclass
class RMSprop(Optimizer):
    lr: float = 0.001
    alpha: float = key(0.99, within(0, 1))
    eps: float = key(1e-8, EPS)
    momentum: float = key(0.0, MOMENTUM)
    centered: bool = False


@option("optimizer", "adagrad")
@dataclass
class Adagrad(Optimizer):
    lr: float = 0.1
    lr_decay: float = key(0.0, at_least(0))
    eps: float = key(1e-10, EPS)
    initial_accumulator_value: float = key(0.0, at_least(0))


@option("optimizer", "adadelta")
@dataclass
class Adadelta(Optimizer):
    lr: float = 1.0
    rho: float = key(0.9, within(0, 1))
    eps: float = key(1e-6, EPS)


@dataclass
class Scheduler:
    _target_: str = MISSING
    _partial_: bool = True


@option("scheduler", "step")
@dataclass
class StepLR(Scheduler):
    step_size: int = key(20, at_least(1, integer=True, note="epochs between decays"))
    gamma: float = key(0.5, above(0, note="the factor applied to lr"))


@option("scheduler", "cosine")
@dataclass
class CosineAnnealingLR(Scheduler):
    T_max: int = key("${trainer.max_epochs}", at_least(1, integer=True, note="epochs from lr to eta_min"))
    eta_min: float = key(0.0, at_least(0, "a learning rate"))


@option("scheduler", "plateau")
@dataclass
class ReduceLROnPlateau(Scheduler):
    mode: str = key("${mode}", MODE)
    factor: float = key(0.5, within(0, 1, "()", note="the factor applied to lr"))
    patience: int = key(5, at_least(0, integer=True, note="epochs without improvement"))
