"""From config to objects: the data, the model, the optimizer, the scheduler, the callbacks,
the logger and the Lightning Trainer. The only place that does so: ``api``, ``fit`` and
``tune`` ask it for each object they use.

- ``build.data_setup``: the data set, its splits and folds, the DataModule, the file to predict;
- ``build.network``: the network's spec, optimizer, scheduler, and the LightningModule
  with its step unit;
- ``build.trainer_setup``: the callbacks, the logger and the Lightning Trainer.
"""

from trainlab.training.build.data_setup import data, datamodule, datasets, raw_data, submission_input
from trainlab.training.build.network import (
    model_spec,
    monitored,
    optimizer,
    scheduler,
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
    trainer,
)

__all__ = [
    "Callbacks",
    "callbacks",
    "check_trainer",
    "data",
    "datamodule",
    "datasets",
    "logger",
    "model_spec",
    "monitored",
    "optimizer",
    "picture_callbacks",
    "pictures_every",
    "raw_data",
    "scheduler",
    "submission_input",
    "trainer",
    "training_module",
    "val_every_n_epochs",
]
