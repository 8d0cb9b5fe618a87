"""The configuration's schema: a dataclass per config group option, registered with Hydra.

The one place for every key's type, default and allowed values, declared together as
``name: type = key(default, allowed)`` (trainlab/config/ranges.py). Hydra merges each option's YAML
onto its schema (``defaults: [/schema/<group>/<option>@_here_, _self_]``), so a key the
schema lacks (``optimizer.lrr=0.1``) or a value of the wrong type (``trainer.max_epochs=ten``)
is refused while the config is composed, with Hydra's message naming the key. Then
``trainlab.config.validate`` checks each value against its ``allowed``, still before any data is
built. A YAML option file holds its usage comment, the ``name`` or ``_target_`` that
identifies it, and only the values that differ from its schema.
"""

from __future__ import annotations

from hydra.core.config_store import ConfigStore

from trainlab.config.options import ACTIVATIONS, MODELS
from trainlab.config.schema.data import BATCH_SIZE, CSV, Data, Generated, RandomTeacher, Wave, WillIPass
from trainlab.config.schema.groups import (
    MLP,
    SGD,
    Activation,
    Adadelta,
    Adagrad,
    Adam,
    AdamW,
    CosineAnnealingLR,
    LeakyReLU,
    Logger,
    Loss,
    LRFind,
    Model,
    Optimizer,
    ReduceLROnPlateau,
    RMSprop,
    Scheduler,
    StepLR,
    Tune,
)
from trainlab.config.schema.registry import LOGGERS, METRIC, MODE, SCHEMAS, option
from trainlab.config.schema.run import (
    PRECISIONS,
    Divergence,
    Dropout,
    EarlyStopping,
    Pictures,
    Regularization,
    Speed,
    Train,
    Trainer,
)

__all__ = [
    "BATCH_SIZE",
    "CSV",
    "LOGGERS",
    "METRIC",
    "MLP",
    "MODE",
    "PRECISIONS",
    "SCHEMAS",
    "SGD",
    "Activation",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "CosineAnnealingLR",
    "Data",
    "Divergence",
    "Dropout",
    "EarlyStopping",
    "Generated",
    "LRFind",
    "LeakyReLU",
    "Logger",
    "Loss",
    "Model",
    "Optimizer",
    "Pictures",
    "RMSprop",
    "RandomTeacher",
    "ReduceLROnPlateau",
    "Regularization",
    "Scheduler",
    "Speed",
    "StepLR",
    "Train",
    "Trainer",
    "Tune",
    "Wave",
    "WillIPass",
    "option",
    "register",
]

# An option whose only key is its name takes its group's plain schema: a model or an activation
# added to its registry needs no schema of its own.
for _name in MODELS:
    SCHEMAS.setdefault(("model", _name), Model)
for _name in ACTIVATIONS:
    SCHEMAS.setdefault(("activation", _name), Activation)


def register() -> None:
    """Store every schema in Hydra's ConfigStore (idempotent)."""
    store = ConfigStore.instance()
    store.store(name="train_schema", node=Train)
    for (group, name), node in SCHEMAS.items():
        store.store(group=f"schema/{group}", name=name, node=node)
