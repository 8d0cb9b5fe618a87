"""Lightning callbacks of trainlab: best.ckpt and last.ckpt, the pictures and histograms, an Optuna trial's pruning."""

from trainlab.training.callbacks.best_checkpoint import BestCheckpoint
from trainlab.training.callbacks.last_checkpoint import LastCheckpoint

__all__ = ["BestCheckpoint", "LastCheckpoint"]
