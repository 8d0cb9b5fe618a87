"""Where a run stopped early: Ctrl-C, divergence and, on several devices, a rank that stopped,
with the epochs that resume continues from. One path for one model and a stack: a stack turns
the ``Interrupted`` into its members' writes."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path

import lightning as L

from trainlab.errors import ConfigError, Diverged, Interrupted, RankFailed
from trainlab.files.checkpoints import load_checkpoint
from trainlab.files.rundir import RunDir
from trainlab.training.callbacks import LastCheckpoint
from trainlab.training.ddp import leave_process_group, rank_failure
from trainlab.training.distributed import CollectiveFailed, StopRequested, collective_failure
from trainlab.training.module import TrainingModule


@contextlib.contextmanager
def stopping(trainer: L.Trainer, module: TrainingModule, out_dir: Path, training: bool) -> Iterator[None]:
    """Ctrl-C (which Lightning turns into exit(1) after its clean shutdown, or a plain
    KeyboardInterrupt outside it) becomes Interrupted; a Diverged is told where the run
    stopped (``Stopped.at``). Both name the epochs ``out_dir``'s last.ckpt holds, which
    ``resume=`` continues from. On several devices, a Ctrl-C press stops every rank at the same
    point (``distributed.StopRequested``, raised on each): an Interrupted too; a collective step
    that failed (another rank stopped: ``distributed.CollectiveFailed``) becomes RankFailed,
    and this rank leaves the broken process group. Ctrl-C is watched from here (``watch``), and
    still after training (``training``) that ends well, for the test; else the watch ends here."""
    last = next((c for c in trainer.checkpoint_callbacks if isinstance(c, LastCheckpoint)), None)
    module.distributed.watch(trainer.world_size)  # before Lightning saves the signal handlers it restores
    ended_well = False
    try:
        yield
        ended_well = True
    except (SystemExit, KeyboardInterrupt, StopRequested) as error:
        if isinstance(error, SystemExit) and not trainer.interrupted:
            raise
        kept = last.epochs_kept if last is not None else 0
        stop = Interrupted(len(module.history), kept, out_dir, RunDir(out_dir).last_checkpoint, training)
        raise stop.at(module.history, out_dir, kept) from None
    except Diverged as diverged:
        diverged.at(module.history, out_dir, last.epochs_kept if last is not None else 0)
        raise
    except Exception as error:
        failed = collective_failure(error)
        if failed is None:
            raise
        raise _rank_failed(failed, trainer, module, out_dir, training, last) from error
    finally:
        if training and ended_well:
            module.distributed.end()
        else:
            module.distributed.release()
        # Lightning ignores Ctrl-C from its interrupt handling on, even when its teardown
        # then fails (a failed checkpoint write): a sweep's next job must hear it again.
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def _rank_failed(
    failed: CollectiveFailed,
    trainer: L.Trainer,
    module: TrainingModule,
    out_dir: Path,
    training: bool,
    last: LastCheckpoint | None,
) -> RankFailed:
    """The RankFailed of a collective step that failed on this rank: which rank stopped
    (``ddp.rank_failure``), where; this rank leaves the broken process group."""
    failure = rank_failure(failed, trainer.strategy)
    leave_process_group()
    last_checkpoint = RunDir(out_dir).last_checkpoint
    kept = last.epochs_kept if last is not None else 0
    if failure.rank_zero_ended:  # the writer is gone: what it wrote, not what this rank counted
        kept = _epochs_in(last_checkpoint)
    progress = (len(module.history), kept, training)
    stop = RankFailed(
        failure.what, failure.ranks, failure.rank_zero_ended, failure.timeout, progress, out_dir, last_checkpoint
    )
    return stop.at(module.history, out_dir, kept)


def _epochs_in(checkpoint: Path) -> int:
    """The finished epochs a checkpoint file holds; 0 without a whole one (a write that the
    killed writer left unfinished: its background write, say)."""
    try:
        return int(load_checkpoint(checkpoint)["epoch"]) + 1
    except (ConfigError, KeyError, TypeError, ValueError):
        return 0
