"""Lightning callbacks of trainlab."""

from trainlab.training.callbacks.last_checkpoint import LastCheckpoint
from trainlab.training.callbacks.restore_best import RestoreBestWeights

__all__ = ["LastCheckpoint", "RestoreBestWeights"]
