"""Errors a user can cause, and the ways a run can stop before its end."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A config value, file or column that trainlab cannot use.

    The message names the key (or file, or column), the value given and what is allowed.
    """


class Stopped(RuntimeError):
    """Training stopped before its end (diverged, interrupted).

    Where it stopped, set by the fit (``at``): ``history`` (the finished epochs, as in
    ``RunResult.history``), ``out_dir`` (the directory of the model that was training: the
    run dir, or a fold's) and ``epochs_kept`` (the finished epochs its last.ckpt holds,
    which ``resume=`` continues from).
    """

    history: list[dict[str, Any]]
    out_dir: Path | None
    epochs_kept: int

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.history, self.out_dir, self.epochs_kept = [], None, 0

    def at(self, history: list[dict[str, Any]], out_dir: Path, epochs_kept: int) -> Stopped:
        self.history, self.out_dir, self.epochs_kept = list(history), out_dir, epochs_kept
        return self


class Diverged(Stopped):
    """Training stopped because the loss diverged: non-finite, or above ``divergence.max_loss``.

    ``step`` is the optimizer step (counted from 1 over the run) whose loss was bad; for a
    stretch of CUDA-graph replays, where losses are only summed on the device, ``step`` is
    the stretch's last step and ``first_step`` its first (``loss`` is then their mean).
    """

    def __init__(self, epoch: int, step: int, loss: float, lr: float, first_step: int | None = None) -> None:
        self.epoch, self.step, self.loss, self.lr, self.first_step = epoch, step, loss, lr, first_step
        where = f"optimizer step {step}" if first_step is None else f"optimizer steps {first_step}-{step} (mean)"
        super().__init__(
            f"diverged at epoch {epoch}, {where}: training loss {loss:.4g} with lr {lr:.4g}; "
            "try a smaller optimizer.lr (or raise divergence.max_loss)"
        )


class Interrupted(Stopped):
    """Training stopped by Ctrl-C (SIGINT) after ``epochs_done`` epochs (during training, or
    after it with ``training=False``); ``epochs_kept`` of them are in ``last_checkpoint``, which
    ``resume=<out_dir>`` continues from."""

    def __init__(
        self, epochs_done: int, epochs_kept: int, out_dir: Path, last_checkpoint: Path, training: bool = True
    ) -> None:
        self.epochs_done, self.training = epochs_done, training
        where = (
            f"in epoch {epochs_done + 1}; {epochs_done} epoch(s) finished"
            if training
            else f"after {epochs_done} epoch(s) of training"
        )
        super().__init__(
            f"interrupted {where}, {epochs_kept} kept in {last_checkpoint}; continue with resume={out_dir}"
        )


class RankFailed(Stopped):
    """A run on several devices stopped because one of its ranks did: its process ended
    (killed, crashed) or it did not answer within ``distributed.timeout`` seconds. ``what``
    says which (``rank 1 stopped (its process ended)``); ``ranks`` are the ranks it names,
    ``rank_zero_ended`` whether global rank 0, the run's writer, is gone (a survivor then
    writes summary.json). As ``Interrupted``: ``epochs_done`` finished, ``epochs_kept`` of them
    in ``last_checkpoint``, which ``resume=<out_dir>`` continues from."""

    def __init__(
        self,
        what: str,
        ranks: list[int],
        rank_zero_ended: bool,
        timeout: float,
        progress: tuple[int, int, bool],
        out_dir: Path,
        last_checkpoint: Path,
    ) -> None:
        self.epochs_done, kept, self.training = progress
        self.ranks, self.rank_zero_ended, self.timeout = list(ranks), rank_zero_ended, timeout
        n = self.epochs_done
        where = f"in epoch {n + 1}; {n} epoch(s) finished" if self.training else f"after {n} epoch(s) of training"
        waits = f" (a silent rank stops the run after distributed.timeout={timeout:g}s)"
        waits = "" if "distributed.timeout" in what else waits
        super().__init__(f"{what} {where}, {kept} kept in {last_checkpoint}; continue with resume={out_dir}{waits}")


class Pruned(Stopped):
    """An Optuna trial (``hydra/sweeper=optuna``) stopped by the study's pruner at the end of
    ``epoch``, its monitored metric then ``value``; not an error: the sweep goes on."""

    def __init__(self, trial: int, epoch: int, monitor: str, value: float) -> None:
        self.trial, self.epoch, self.monitor, self.value = trial, epoch, monitor, value
        super().__init__(f"trial {trial} pruned at epoch {epoch}: {monitor} {value:.4g} is behind the study's trials")


class SweepInterrupted(Stopped):
    """A stacked sweep stopped by Ctrl-C: the jobs of ``written`` have finished run
    directories; those of ``interrupted`` (the stack that was training) are written as
    interrupted, each resumable with ``resume=<its run dir>``; those of ``lost`` did not start."""

    def __init__(self, written: list[int], interrupted: list[int], lost: list[int]) -> None:
        self.written, self.interrupted, self.lost = written, interrupted, lost
        parts = [f"jobs {_numbers(written)} finished" if written else "no job finished"]
        if interrupted:
            parts.append(f"jobs {_numbers(interrupted)} were interrupted (continue each with resume=<its run dir>)")
        if lost:
            parts.append(f"jobs {_numbers(lost)} did not start (run them again)")
        super().__init__("interrupted: " + "; ".join(parts))


def _numbers(jobs: list[int]) -> str:
    return ", ".join(map(str, jobs)) if len(jobs) < 8 else f"{', '.join(map(str, jobs[:6]))}, ... ({len(jobs)} jobs)"


class WriteFailed(OSError):
    """A file trainlab could not write: no space left on the device, a read-only or failing
    disk, no permission. ``path`` names the file, ``reason`` the system's words (``No space
    left on device``). The files written before it are whole (every write is atomic:
    ``trainlab.files.atomic``) and no temporary is left; the run can be continued with
    ``resume=`` once the cause is mended."""

    def __init__(self, path: str | Path | None, error: OSError) -> None:
        self.path = None if path is None else Path(path)
        self.reason = error.strerror or str(error) or type(error).__name__
        super().__init__(error.errno, str(self))

    def __str__(self) -> str:
        return f"cannot write {self.path if self.path is not None else 'a file'}: {self.reason}"


def write_failure(error: BaseException) -> WriteFailed | None:
    """``error`` as a WriteFailed when it is one, or an OSError that a full, read-only or failing
    disk raises while writing (the file named where the system named it), else None."""
    import errno as codes

    if isinstance(error, WriteFailed):
        return error
    disk = (codes.ENOSPC, codes.EROFS, codes.EDQUOT, codes.EIO, codes.EFBIG)
    if isinstance(error, OSError) and error.errno in disk:
        return WriteFailed(error.filename, error)
    cause = error.__cause__ or error.__context__
    return write_failure(cause) if cause is not None and cause is not error else None
