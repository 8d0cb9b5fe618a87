"""From config to objects, for one model and a stack alike: the data, the model, the optimizer's
settings, the scheduler, the stopping rules, the callbacks, the logger and the Lightning
Trainer. The only place that does so: ``trainlab.lifecycle`` asks it for each object it uses.

- ``build.data_setup``: the data set, its splits and folds, the DataModule (a stack's:
  each distinct data set once), the file to predict;
- ``build.model_setup``: the network's spec, the optimizer's settings (a stack takes them per
  member), scheduler, each member's rules, and the LightningModule with its step unit;
- ``build.trainer_setup``: the callbacks, the logger and the Lightning Trainer (a stack's too).
"""

from trainlab.training.build.data_setup import (
    data,
    datamodule,
    datasets,
    raw_data,
    stack_datamodule,
    stack_datasets,
    submission_input,
)
from trainlab.training.build.model_setup import (
    checkpoint_extra,
    model_spec,
    optimizer,
    optimizer_settings,
    rules,
    scheduler,
    stack_module,
    training_module,
    val_every_n_epochs,
)
from trainlab.training.build.trainer_setup import (
    Callbacks,
    callbacks,
    check_trainer,
    logger,
    picture_callbacks,
    pictures_every,
    stack_callbacks,
    trainer,
)

__all__ = [
    "Callbacks",
    "callbacks",
    "check_trainer",
    "checkpoint_extra",
    "data",
    "datamodule",
    "datasets",
    "logger",
    "model_spec",
    "optimizer",
    "optimizer_settings",
    "picture_callbacks",
    "pictures_every",
    "raw_data",
    "rules",
    "scheduler",
    "stack_callbacks",
    "stack_datamodule",
    "stack_datasets",
    "stack_module",
    "submission_input",
    "trainer",
    "training_module",
    "val_every_n_epochs",
]
