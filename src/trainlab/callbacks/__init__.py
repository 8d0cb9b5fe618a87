"""Lightning callbacks of trainlab."""

from trainlab.callbacks.restore_best import RestoreBestWeights

__all__ = ["RestoreBestWeights"]
