"""Ctrl-C inside a chosen epoch of an in-process run, as a user's key press would land."""

import contextlib

import pytest

from trainlab.errors import Interrupted
from trainlab.training.module import TrainingModule


@contextlib.contextmanager
def ctrl_c_in_epoch(monkeypatch: pytest.MonkeyPatch, epoch: int):
    """Within the block, a run raises KeyboardInterrupt at the end of its ``epoch``-th training
    epoch (counted from 1) and so stops with ``Interrupted``; the hook is restored after."""
    original = TrainingModule.on_train_epoch_end

    def interrupting(self):
        if self.current_epoch == epoch - 1:
            raise KeyboardInterrupt
        original(self)

    monkeypatch.setattr(TrainingModule, "on_train_epoch_end", interrupting)
    try:
        with pytest.raises(Interrupted) as stopped:
            yield stopped
    finally:
        monkeypatch.setattr(TrainingModule, "on_train_epoch_end", original)
