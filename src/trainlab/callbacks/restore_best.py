"""Restore the best weights when fit ends (Keras's restore_best_weights)."""

from __future__ import annotations

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint


class RestoreBestWeights(L.Callback):
    """At the end of fit, load the best checkpoint's weights into the module.

    "Best" is ``checkpoint``'s: the monitored metric's best value in its mode. Training
    may end by early stopping or at max_epochs; either way the model then holds the
    weights that scored best on validation, so test metrics and the returned model come
    from them. The file is read with ``weights_only=True``: tensors and plain data only.
    """

    def __init__(self, checkpoint: ModelCheckpoint) -> None:
        self.checkpoint = checkpoint
        self.restored_from: str | None = None

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        path = self.checkpoint.best_model_path
        if not path:
            return
        state = torch.load(path, map_location=pl_module.device, weights_only=True)
        pl_module.load_state_dict(state["state_dict"])
        self.restored_from = path
