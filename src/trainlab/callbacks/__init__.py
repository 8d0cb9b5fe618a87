"""Lightning callbacks of trainlab."""

from trainlab.callbacks.last_checkpoint import LastCheckpoint
from trainlab.callbacks.restore_best import RestoreBestWeights

__all__ = ["LastCheckpoint", "RestoreBestWeights"]
