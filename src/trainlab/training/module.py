"""The LightningModule, for one model and a stack of M alike: a step unit, a loss, each member's record."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import lightning as L
import torch

from trainlab.internals import count_optimizer_steps
from trainlab.training import payload
from trainlab.training.distributed import DistributedTraining
from trainlab.training.evaluation import Evaluation, first_rows, limited_rows
from trainlab.training.losses import Loss
from trainlab.training.records import Record
from trainlab.training.reporting import Reporter
from trainlab.training.steps import FAST_PRECISION, EpochTotals, Plan, StepUnit

log = logging.getLogger(__name__)


class TrainingModule(L.LightningModule):
    """Trains the members of ``steps.model`` (one model, or a stack) on ``loss``.

    Optimization is manual: each training batch is a chunk of mini-batches whose optimizer
    steps the step unit runs (``trainlab.training.steps``). Once per epoch the module reads the
    unit's totals, validates every member it computes (a shrunk stack: its live members; every
    ``val_every_n_epochs``-th epoch; ``val_limit`` as Lightning's ``limit_val_batches``), and
    hands each member's row to its ``Record`` (``trainlab.training.records``): the best epoch,
    whose weights it keeps on the device, early stopping and max_epochs; a diverged member is
    recorded and restarted from the epoch's start.
    Training ends when no member trains on. The epoch goes to ``reporter`` (one model: the
    callbacks, progress bar and loggers; ``trainlab.training.reporting``), and the epoch-interval
    schedulers step (plateau on ``monitor``). At the end each member's best weights are put back
    (a shrunk stack grows back to all its members); Lightning's test loop then tests them
    (``test_values``, one dict per member).

    Checkpoints carry each member's record, its best weights, the unit's own state and the
    random state that dropout draws from (``trainlab.training.payload``): ``resume=`` continues
    exactly. On several devices (one model only) see ``trainlab.training.distributed``.
    """

    def __init__(
        self,
        steps: StepUnit,
        loss: Loss,
        records: Sequence[Record],
        scheduler: Callable[..., Any] | None = None,
        checkpoint_extra: dict[str, Any] | None = None,
        val_every_n_epochs: int = 1,
        val_limit: float | int | None = None,
        reporter: Reporter | None = None,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.model, self.loss, self.steps = steps.model, loss, steps
        self.records = list(records)
        self.scheduler_factory = scheduler
        self.checkpoint_extra = checkpoint_extra or {}
        self.val_every_n_epochs, self.val_limit = val_every_n_epochs, val_limit
        self.reporter = reporter
        self.evaluation = Evaluation(loss)
        self.distributed = DistributedTraining()
        self.best: torch.Tensor | None = None  # [M, P]: each member's best epoch's weights
        self.test_values: list[dict[str, float]] = []
        self.last_states: list[dict[str, torch.Tensor]] = []  # each member's final weights
        self._best_file: Callable[[], torch.Tensor | None] | None = None  # an older checkpoint's best weights
        self._best_lost = False  # an older checkpoint's best.ckpt held another epoch: keep the final weights
        self._ended = False
        self.histories_later = False  # a checkpoint kept in memory: its histories put in when written

    @property
    def history(self) -> list[dict[str, float]]:
        """One model's history: one dict per finished epoch (member 0's, for a stack)."""
        return self.records[0].history

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    # ----- training: the step unit runs each chunk's optimizer steps -----

    def setup(self, stage: str) -> None:
        if stage == "fit":  # before configure_optimizers: the path decides the optimizer's flags
            trainer, data = self.trainer, self.trainer.datamodule
            device = trainer.strategy.root_device
            plan = Plan(device, data.loader, data.steps_per_call, str(trainer.precision), trainer.world_size)
            self.steps.plan(plan)
            log.info("training path: %s", self.steps.description)

    def configure_optimizers(self) -> Any:
        optimizer = self.steps.configure_optimizer()
        if optimizer is None or self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}

    def on_train_start(self) -> None:
        # Here, not in on_fit_start: the LR finder runs its loop from a callback's on_fit_start.
        optimizer = self.trainer.optimizers[0] if self.trainer.optimizers else None
        self._counts_steps = optimizer is None or str(self.trainer.precision) in map(str, FAST_PRECISION)
        if self._counts_steps:  # the torch optimizer (or the unit's own), stepped directly
            self.steps.start(optimizer, None, None)
        else:  # Lightning's wrapper: precision plugins, and it counts the steps
            self.steps.start(optimizer, self.manual_backward, self.optimizers().step)
        self.distributed.start(self.trainer, self.steps, self.model)
        self.best = self._starting_best()
        self._ended = False
        if not any(record.training for record in self.records):  # resumed after every member stopped
            self.trainer.should_stop = True

    def _starting_best(self) -> torch.Tensor:
        weights = self.steps.weights().detach()
        best = self.best.to(weights.device) if self.best is not None else weights.clone()
        if self._best_file is not None:  # resumed from an older checkpoint: best.ckpt holds them
            found = self._best_file()
            self._best_lost = found is None
            best = found.to(weights.device) if found is not None else best
            self._best_file = None
        return best

    def on_train_epoch_start(self) -> None:
        self._epoch_start = time.perf_counter()
        self.steps.start_epoch([record.training for record in self.records])

    def training_step(self, batch: Any, batch_idx: int) -> None:
        trainer = self.trainer
        done = trainer.global_step
        limit = trainer.max_steps - done if trainer.max_steps >= 0 else None
        ramps = [c.scheduler for c in trainer.lr_scheduler_configs if c.interval == "step"]
        steps = self.steps.run(batch, done, limit, self.current_epoch + 1, ramps)
        if self._counts_steps:
            count_optimizer_steps(trainer, steps)
        if limit is not None and steps >= limit:
            trainer.should_stop = True  # max_steps reached mid-chunk: this epoch is the last

    def on_train_epoch_end(self) -> None:
        totals = self.steps.end_epoch()
        epoch = self.current_epoch + 1
        val = self.validate() if epoch % self.val_every_n_epochs == 0 else [{} for _ in self.records]
        seconds = time.perf_counter() - self._epoch_start  # after the reads: the device has finished
        self.distributed.agree()  # Ctrl-C during validation, on any rank: every rank stops here
        rows = self._record(epoch, totals, val, seconds)
        if self.reporter is not None:
            train = {k: v for k, v in rows[0].items() if k.startswith("train/")}
            self.reporter.epoch(self.trainer, train, val[0], rows[0]["lr"], epoch, totals.step_losses)
        self._step_schedulers(rows[0])
        if not any(record.training for record in self.records):
            self.trainer.should_stop = True

    def _record(
        self, epoch: int, totals: EpochTotals, val: list[dict[str, float]], seconds: float
    ) -> list[dict[str, float]]:
        """Each member's row of the epoch, to its record; the best weights of those that improved."""
        lrs, name = self.steps.learning_rates(), self.loss.train_metric_name
        rows = [
            {"epoch": epoch, "train/loss": totals.loss[m], f"train/{name}": totals.metric[m], **val[m]}
            | {"lr": lrs[m], "epoch_seconds": seconds}
            for m in range(len(self.records))
        ]
        if self.trainer.world_size > 1:  # every rank computed the same values; rank 0's decide, so no rank strays
            rows = self.trainer.strategy.broadcast(rows, src=0)
        improved = []
        for m, record in enumerate(self.records):
            diverged = totals.diverged[m]
            if diverged is not None and totals.trained[m]:
                record.diverge(diverged)
                self.steps.restart(m)  # its last good weights, as a lone run's last.ckpt keeps them
            improved.append(totals.trained[m] and diverged is None and record.finish_epoch(rows[m]))
        if any(improved):
            self._best_lost = False
            with torch.no_grad():
                mask = torch.tensor(improved, device=self.best.device).unsqueeze(1)
                self.best = torch.where(mask, self.steps.weights().detach(), self.best)
        return rows

    def _step_schedulers(self, row: dict[str, float]) -> None:
        """Epoch-interval schedulers (manual optimization leaves them to the module)."""
        for config in self.trainer.lr_scheduler_configs:
            if config.interval != "epoch":
                continue
            if isinstance(config.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                monitor = self.records[0].rules.monitor
                if monitor in row:
                    config.scheduler.step(row[monitor])
            else:
                config.scheduler.step()

    def on_train_end(self) -> None:
        self.distributed.end()
        self._end_training()

    def on_fit_end(self) -> None:
        """After a fit that ran no epoch (resumed from its last one): what training's end does."""
        if not self._ended:
            self.best = self._starting_best()
            self._end_training()

    def _end_training(self) -> None:
        """Each member's final weights kept (``last_states``), then its best epoch's weights put
        in (members without one keep theirs; a shrunk stack grows back to all its members there,
        for the test loop). Run on the training device: a stack's weights are
        views of one tensor there, which Lightning's teardown splits when it moves them."""
        self.last_states = [self.steps.member_state(m) for m in range(len(self.records))]
        has_best = torch.tensor([record.best_epoch is not None and not self._best_lost for record in self.records])
        if self.best is not None:
            self.steps.load_weights(self.best, has_best.to(self.best.device))
        self._ended = True

    # ----- evaluation: validation by the module, test in Lightning's test loop -----

    def validate(self) -> list[dict[str, float]]:
        """Each member's validation loss and metrics. Run by the module at the end of a training
        epoch rather than by Lightning's validation loop, whose fixed cost per epoch (hooks,
        signature checks, mode switches over every submodule, batch transfers) was most of a
        small model's epoch. A shrunk stack (``StackedNetwork.members``: the members it still
        computes) validates those alone; the others, stopped, get {} (their rows are not recorded)."""
        x, y = self.trainer.datamodule.split_on_device("val")
        rows = limited_rows(x.shape[-2], self.val_limit)
        if not rows:
            return [{} for _ in self.records]
        members = getattr(self.model, "members", None)  # None: one model, or a stack computing all
        counts = self._member_rows("val")
        return self.evaluation.evaluate(self.model, *first_rows(x, y, rows), "val", members, counts)

    def _member_rows(self, split: str) -> list[int] | None:
        """Each member's own rows of ``split`` (a stack of data sets of unequal rows:
        ``StackedDataModule.member_rows``); None: all of them."""
        rows = getattr(self.trainer.datamodule, "member_rows", None)
        return None if rows is None else rows(split)

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        self.evaluation.update(self.model(x), y)

    def on_test_epoch_end(self) -> None:
        self.test_values = self.evaluation.compute("test", self._member_rows("test")) or [{} for _ in self.records]
        self.distributed.agree()  # Ctrl-C during the test, on any rank: every rank stops here
        if self.reporter is not None:
            self.reporter.test(self.trainer, self.test_values[0], step=len(self.history))

    # ----- the checkpoint payload (trainlab.training.payload) -----

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        best = None if self._best_lost else self.best
        steps, extra = self.steps.state_dict(), self.checkpoint_extra
        payload.save(checkpoint, self.records, best, steps, extra, not self.histories_later)

    def add_histories(self, checkpoint: dict[str, Any], rows: list[int]) -> None:
        """Complete a checkpoint saved with ``histories_later``: each record's first ``rows`` rows."""
        payload.add_histories(checkpoint, self.records, rows)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = payload.load(checkpoint, self.records, self.model, self.trainer)
        self.best, self._best_file = state.best, state.best_file
        if state.steps:
            self.steps.load_state_dict(state.steps)
