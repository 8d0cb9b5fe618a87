"""Errors a user can cause, reported as one clear message before any training."""


class ConfigError(ValueError):
    """A config value, file or column that trainlab cannot use.

    The message names the key (or file, or column), the value given and what is allowed.
    """


class Diverged(RuntimeError):
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


class Interrupted(RuntimeError):
    """Training stopped by Ctrl-C (SIGINT); the last finished epoch's checkpoint is kept."""
