"""What the terminal shows while a model trains: the progress bar, in the course's units.

Lightning's Rich progress bar counts Lightning steps, and trainlab runs a chunk of up to
``speed.steps_per_call`` mini-batches (optimizer steps) in each one, so the stock bar says
"1/1" for an epoch of 38 mini-batches, counts epochs from 0 ("Epoch 57/99" for the 58th of
100), rates Lightning steps ("0.00it/s") and, since trainlab publishes an epoch's values
after the bar's epoch-end hook, shows the epoch before the one it names.
``CourseProgressBar`` shows the epoch counted from 1 as the summary and ``history`` count
it, the mini-batches done of the epoch's, training samples per second, and the last
finished epoch's values, a name never split from its value (``progress_columns``).

It overrides Lightning's public hooks, properties and methods only (``total_train_batches``,
``configure_columns``, ``get_metrics``, the ``on_*`` hooks); the columns are Rich's
``ProgressColumn``, and the bar's task fields Rich's public ``Progress.update``.
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import RichProgressBar
from lightning.pytorch.callbacks.progress.rich_progress import ProcessingSpeedColumn, RichProgressBarTheme
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from typing_extensions import override

from trainlab.data.loader import Chunk
from trainlab.training.progress_columns import RATE_FIELD, VALUES_FIELD, RateColumn, ValuesColumn

BAR_WIDTH = 20  # Lightning's 40 leaves the values little room on a 100-column terminal


class CourseProgressBar(RichProgressBar):
    """Lightning's Rich progress bar in the course's units.

    - ``Epoch 58/100``: the epoch counted from 1, of ``trainer.max_epochs`` (as the summary
      and ``history`` count them).
    - ``38/38``: the epoch's mini-batches (optimizer steps) done, of its total. Done is
      read from ``trainer.global_step``, which counts every optimizer step a chunk ran
      (``trainlab.internals.count_optimizer_steps`` on the fast path, Lightning's optimizer
      wrapper otherwise); the total is ``ceil(rows / batch_size)`` of the training loader's
      sampler and the datamodule's batch size, capped by Lightning's count of chunks
      (``limit_train_batches``) times the datamodule's ``steps_per_call``.
    - ``12,345 samples/s``: training rows per second of wall time over the last
      ``rate_window`` seconds (validation and checkpoints included: what the epochs cost).
      Rows come from the ``Chunk`` batches trainlab's loaders give; another batch type shows
      no rate. On CUDA a chunk is only queued when its hook runs, so the rate settles once
      the window spans an epoch's end (where the epoch's losses are read).
    - The last finished epoch's values (``trainlab.training.reporting`` publishes them at its end,
      after this bar's epoch-end hook: they show from the next epoch's start, and after the
      last epoch at the end of training), a pair breaking across lines only between two.
    - The test bar: its batches and time, no rate.

    The arguments are Lightning's (``refresh_rate``, ``theme``, ``console_kwargs``) but
    ``leave``: the one training task is reset at each epoch's start.
    """

    def __init__(
        self,
        rate_window: float = 5.0,
        refresh_rate: int = 100,
        theme: RichProgressBarTheme | None = None,
        console_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(refresh_rate, theme=theme or RichProgressBarTheme(), console_kwargs=console_kwargs)
        self.rate_window = rate_window
        self._epoch_first_step = 0  # trainer.global_step when the epoch started
        self._steps_seen = 0  # this epoch's optimizer steps whose rows are counted
        self._rows = 0  # training rows seen in this fit
        self._points: deque[tuple[float, int]] = deque()  # (time, rows) for the rate
        self._rate_shown: float | None = None

    # ----- what the bar shows -----

    @property
    @override
    def total_train_batches(self) -> int | float:
        """Mini-batches (optimizer steps) in this epoch; Lightning's count of training steps
        when the loader is not trainlab's (no ``steps_per_call`` and ``batch_size`` on the
        datamodule, or a sampler without a length)."""
        chunks = super().total_train_batches
        trainer = self.trainer
        loader = trainer.train_dataloader
        source = trainer.datamodule if trainer.datamodule is not None else loader  # a stack's loader says itself
        per_call = getattr(source, "steps_per_call", None)
        batch_size = getattr(source, "batch_size", None)
        sampler = getattr(loader, "sampler", None)
        if not (per_call and batch_size and hasattr(sampler, "__len__") and math.isfinite(chunks)):
            return chunks
        world = trainer.world_size  # on several devices a step trains a global batch of world x batch_size rows
        return min(math.ceil(len(sampler) / (batch_size * world)), int(chunks) * per_call)

    def epoch_description(self, trainer: L.Trainer) -> str:
        """``Epoch e/max_epochs``, e counted from 1 (``Epoch e`` without a finite max_epochs)."""
        epoch = trainer.current_epoch + 1
        max_epochs = trainer.max_epochs
        return f"Epoch {epoch}/{max_epochs}" if max_epochs is not None and max_epochs > 0 else f"Epoch {epoch}"

    @override
    def configure_columns(self, trainer: L.Trainer) -> list:
        """Lightning's columns, with samples/s in place of Lightning steps per second, and the
        epoch's values (Lightning's own column for them stays empty: see ``get_metrics``)."""
        columns = [c for c in super().configure_columns(trainer) if not isinstance(c, ProcessingSpeedColumn)]
        for column in columns:
            if isinstance(column, BarColumn):
                column.bar_width = BAR_WIDTH
        return [*columns, RateColumn(self.theme.processing_speed), ValuesColumn(self.theme.metrics)]

    @override
    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        """Nothing, for Lightning's metrics column (whose text breaks anywhere, splitting a
        name from its value): ``ValuesColumn`` shows them (``epoch_values``)."""
        return {}

    def epoch_values(self, trainer: L.Trainer, pl_module: L.LightningModule) -> list[str]:
        """``name: value`` for each of Lightning's progress-bar metrics (values in the theme's format)."""
        pairs = []
        for name, value in super().get_metrics(trainer, pl_module).items():
            try:
                text = value if isinstance(value, str) else f"{value:{self.theme.metrics_format}}"
            except (TypeError, ValueError):
                text = str(value)
            pairs.append(f"{name}: {text}")
        return pairs

    # ----- the hooks -----

    @override
    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        self._rows, self._rate_shown = 0, None
        self._points = deque([(time.perf_counter(), 0)])

    @override
    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Lightning's hook resets the task with its own description and renders it: the
        # task is set here instead, at once with the course's (and so rendered once).
        self._epoch_first_step, self._steps_seen = trainer.global_step, 0
        self._start_task(trainer, pl_module)

    @override
    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.train_progress_bar_id is None:  # a restart mid-epoch, where Lightning adds the task here
            self._start_task(trainer, pl_module)
        done = trainer.global_step - self._epoch_first_step  # this epoch's optimizer steps so far
        self._rate_shown = self._rate(batch, done)
        self._show(rate=self._rate_shown, values=self.epoch_values(trainer, pl_module))
        # Lightning's bar shows batch_idx + 1 done: given the mini-batch index, it shows mini-batches.
        super().on_train_batch_end(trainer, pl_module, outputs, batch, done - 1)

    @override
    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        self._show(values=self.epoch_values(trainer, pl_module))  # the last epoch's

    # ----- helpers -----

    def _start_task(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """The training bar's task for this epoch (added, or reset): description, total, the
        last rate and the last epoch's values."""
        if self.is_disabled or self.progress is None:
            return
        fields: dict[str, Any] = {VALUES_FIELD: self.epoch_values(trainer, pl_module)}
        if self._rate_shown is not None:
            fields[RATE_FIELD] = self._rate_shown
        description, total = self.epoch_description(trainer), self.total_train_batches
        if self.train_progress_bar_id is None:
            self.train_progress_bar_id = self.progress.add_task(description, total=total, **fields)
        else:
            self.progress.reset(
                self.train_progress_bar_id, total=total, description=description, visible=True, **fields
            )
        self.refresh()

    def _show(
        self,
        description: str | None = None,
        rate: float | None = None,
        values: list[str] | None = None,
    ) -> None:
        """Set what is given on the training bar's task, and refresh."""
        if self.progress is None or self.train_progress_bar_id is None:
            return
        fields: dict[str, Any] = {}
        if rate is not None:
            fields[RATE_FIELD] = rate
        if values is not None:
            fields[VALUES_FIELD] = values
        self.progress.update(self.train_progress_bar_id, description=description, **fields)
        self.refresh()

    def _rate(self, batch: Any, steps: int) -> float | None:
        """Training rows per second over the last ``rate_window`` seconds, counting the rows of
        ``batch`` that ran (up to this epoch's ``steps``-th mini-batch); None without rows."""
        if not isinstance(batch, Chunk):
            return None
        ran, self._steps_seen = steps - self._steps_seen, steps
        self._rows += min(len(batch.indices), max(ran, 0) * batch.batch_size * batch.world)  # every rank's rows
        now = time.perf_counter()
        points = self._points
        points.append((now, self._rows))
        while len(points) > 2 and points[1][0] <= now - self.rate_window:
            points.popleft()  # the oldest kept point is the last one at or before the window's start
        (t0, rows0), (t1, rows1) = points[0], points[-1]
        return (rows1 - rows0) / (t1 - t0) if t1 > t0 else None


class StepsBar:
    """A bar of steps in the training bar's look (Rich: the description, the bar, done/total,
    elapsed • remaining), for a loop Lightning's bar does not show: the learning-rate finder's
    steps (``trainlab.lifecycle.tune``). ``start``, ``advance`` per step, ``stop`` (which
    leaves its last frame, as the training bar does)."""

    def __init__(self, description: str, total: int, console: Console | None = None) -> None:
        time_columns = (TimeElapsedColumn(), TextColumn("•"), TimeRemainingColumn())
        columns = (TextColumn("{task.description}"), BarColumn(bar_width=BAR_WIDTH), MofNCompleteColumn())
        self.progress = Progress(*columns, *time_columns, console=console)
        self.task = self.progress.add_task(description, total=total)

    def start(self) -> None:
        self.progress.start()

    def advance(self) -> None:
        self.progress.advance(self.task)

    def stop(self) -> None:
        self.progress.stop()
