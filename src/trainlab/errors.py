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
