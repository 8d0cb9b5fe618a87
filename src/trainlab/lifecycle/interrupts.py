"""Where a run stopped early: Ctrl-C and divergence, with the epochs that resume continues from.
One path for one model and a stack: a stack turns the ``Interrupted`` into its members' writes."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path

import lightning as L

from trainlab.errors import Diverged, Interrupted
from trainlab.files.rundir import RunDir
from trainlab.training.callbacks import LastCheckpoint
from trainlab.training.distributed import StopRequested
from trainlab.training.module import TrainingModule


@contextlib.contextmanager
def stopping(trainer: L.Trainer, module: TrainingModule, out_dir: Path, training: bool) -> Iterator[None]:
    """Ctrl-C (which Lightning turns into exit(1) after its clean shutdown, or a plain
    KeyboardInterrupt outside it) becomes Interrupted; a Diverged is told where the run
    stopped (``Stopped.at``). Both name the epochs ``out_dir``'s last.ckpt holds, which
    ``resume=`` continues from. On several devices, a Ctrl-C press stops every rank at the same
    step (``distributed.StopRequested``, raised on each): an Interrupted too."""
    last = next((c for c in trainer.checkpoint_callbacks if isinstance(c, LastCheckpoint)), None)
    try:
        yield
    except (SystemExit, KeyboardInterrupt, StopRequested) as error:
        if isinstance(error, SystemExit) and not trainer.interrupted:
            raise
        kept = last.epochs_kept if last is not None else 0
        stop = Interrupted(len(module.history), kept, out_dir, RunDir(out_dir).last_checkpoint, training)
        raise stop.at(module.history, out_dir, kept) from None
    except Diverged as diverged:
        diverged.at(module.history, out_dir, last.epochs_kept if last is not None else 0)
        raise
    finally:
        module.distributed.end()
        # Lightning ignores Ctrl-C from its interrupt handling on, even when its teardown
        # then fails (a failed checkpoint write): a sweep's next job must hear it again.
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.default_int_handler)
