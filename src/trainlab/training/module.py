"""The LightningModule: a model, a loss, metrics per stage, an optimizer and a scheduler."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch import nn

from trainlab.data.loader import Chunk
from trainlab.files.checkpoints import restore_rng, rng_state
from trainlab.internals import count_optimizer_steps
from trainlab.training.distributed import CtrlC, GradientSync
from trainlab.training.evaluation import Evaluation, limited_rows
from trainlab.training.losses import Loss
from trainlab.training.reporting import Reporter
from trainlab.training.steps import FAST_PRECISION, Plan, SingleModelSteps, StepUnit

log = logging.getLogger(__name__)


class TrainingModule(L.LightningModule):
    """Trains ``model`` on ``loss`` with the optimizer from ``optimizer(params)``.

    Optimization is manual: each training batch is a ``Chunk`` of mini-batches whose
    optimizer steps ``steps`` runs (``trainlab.training.steps``; by default ``SingleModelSteps``).
    Once per epoch the module records the epoch in ``history`` (one dict per finished
    training epoch, counted from 1: train and val metrics, lr, and epoch_seconds, the
    epoch's wall time with its validation), reports it (``trainlab.training.reporting``) and steps
    the epoch-interval schedulers (plateau on ``monitor``). Validation runs at the end of
    every ``val_every_n_epochs``-th training epoch (``validate``; ``val_limit`` as Lightning's
    ``limit_val_batches``); test runs in Lightning's test loop (``trainlab.training.evaluation``).

    ``checkpoint_extra`` (plain data: the model spec, the preprocessing) is stored in each
    checkpoint under ``"trainlab"`` as JSON text, so a checkpoint alone can predict; the
    history and the random state that dropout draws from are stored too, for exact resume.

    On several devices (Lightning's DDP), training runs inside the strategy's
    ``block_backward_sync()`` (DDP's reducer never syncs: it expects one backward per forward
    of its wrapper, and a Lightning step here runs many) and the step unit averages the
    gradients itself (``trainlab.training.distributed``). Every rank validates and tests on the whole
    split, with the same weights: the same values on every rank by construction, so early
    stopping, best weights and checkpoints decide alike everywhere. Ctrl-C is agreed on by
    the ranks (``distributed.CtrlC``) and stops every rank at the same step.
    """

    def __init__(
        self,
        model: nn.Module,
        loss: Loss,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        monitor: str = "val/loss",
        n_classes: int | None = None,
        checkpoint_extra: dict[str, Any] | None = None,
        steps: StepUnit | None = None,
        val_every_n_epochs: int = 1,
        val_limit: float | int | None = None,
        reporter: Reporter | None = None,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.model, self.loss = model, loss
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.monitor = monitor
        self.steps = steps if steps is not None else SingleModelSteps(model, loss)
        self.val_every_n_epochs, self.val_limit = val_every_n_epochs, val_limit
        self.evaluation = Evaluation(loss)
        self.checkpoint_extra = checkpoint_extra or {}
        self.history: list[dict[str, float]] = []
        self.test_values: dict[str, float] = {}
        self.reporter = reporter if reporter is not None else Reporter([monitor])
        self._no_sync: contextlib.ExitStack | None = None
        self._ctrl_c: CtrlC | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    # ----- training: the step unit runs each chunk's optimizer steps -----

    def setup(self, stage: str) -> None:
        if stage == "fit":  # before configure_optimizers: the path decides the optimizer's flags
            data = self.trainer.datamodule
            plan = Plan(
                self.trainer.strategy.root_device,
                data.loader,
                data.steps_per_call,
                str(self.trainer.precision),
                self.trainer.world_size,
            )
            self._build_optimizer = self.steps.plan(plan, self.optimizer_factory)
            log.info("training path: %s", self.steps.description)

    def configure_optimizers(self) -> Any:
        optimizer = self._build_optimizer(self.model.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}

    def on_train_start(self) -> None:
        # Here, not in on_fit_start: the LR finder runs its loop from a callback's on_fit_start.
        self._fast = str(self.trainer.precision) in map(str, FAST_PRECISION)
        optimizer = self.trainer.optimizers[0]
        if self._fast:  # the torch optimizer, stepped directly
            self.steps.start(optimizer, None, None)
        else:  # Lightning's wrapper: precision plugins, and it counts the steps
            self.steps.start(optimizer, self.manual_backward, self.optimizers().step)
        self._start_distributed()

    def _start_distributed(self) -> None:
        """DDP (even of one process): its reducer off for the fit; several ranks: gradients
        averaged by the step unit, Ctrl-C agreed on (see the class doc)."""
        self.end_distributed()
        block = getattr(self.trainer.strategy, "block_backward_sync", None)  # Lightning's parallel strategies
        if block is not None:
            self._no_sync = contextlib.ExitStack()
            self._no_sync.enter_context(block())
        if self.trainer.world_size == 1:
            return
        self._ctrl_c = CtrlC()
        self._ctrl_c.install()
        distribute = getattr(self.steps, "distribute", None)
        if distribute is None:
            raise RuntimeError(f"{type(self.steps).__name__} cannot train on several devices")
        trainer = self.trainer
        distribute(GradientSync(list(self.model.parameters()), trainer.global_rank, trainer.world_size, self._ctrl_c))

    def on_train_end(self) -> None:
        self.end_distributed()

    def end_distributed(self) -> None:
        """Leave what ``_start_distributed`` set up (at the end of training, or after an error)."""
        if self._no_sync is not None:
            self._no_sync.close()
            self._no_sync = None
        if self._ctrl_c is not None:
            self._ctrl_c.uninstall()
            self._ctrl_c = None

    def on_train_epoch_start(self) -> None:
        self._epoch_start = time.perf_counter()
        self.steps.start_epoch()

    def training_step(self, batch: Chunk, batch_idx: int) -> None:
        trainer = self.trainer
        done = trainer.global_step
        limit = trainer.max_steps - done if trainer.max_steps >= 0 else None
        ramps = [c.scheduler for c in trainer.lr_scheduler_configs if c.interval == "step"]
        steps = self.steps.run(batch, done, limit, self.current_epoch + 1, ramps)
        if self._fast:
            count_optimizer_steps(trainer, steps)
        if limit is not None and steps >= limit:
            trainer.should_stop = True  # max_steps reached mid-chunk: this epoch is the last

    def on_train_epoch_end(self) -> None:
        totals = self.steps.end_epoch()
        epoch = self.current_epoch + 1
        val = self.validate() if epoch % self.val_every_n_epochs == 0 else {}
        seconds = time.perf_counter() - self._epoch_start  # after the reads: the device has finished
        train = {"train/loss": totals.loss, f"train/{self.loss.train_metric_name}": totals.metric}
        lr = float(self.trainer.optimizers[0].param_groups[0]["lr"])
        row = {"epoch": epoch, **train, **val, "lr": lr, "epoch_seconds": seconds}
        self.history.append(row)
        self.reporter.epoch(self.trainer, train, val, lr, epoch, totals.step_losses)
        self._step_schedulers(row)

    def _step_schedulers(self, row: dict[str, float]) -> None:
        """Epoch-interval schedulers (manual optimization leaves them to the module)."""
        for config in self.trainer.lr_scheduler_configs:
            if config.interval != "epoch":
                continue
            if isinstance(config.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                if self.monitor in row:
                    config.scheduler.step(row[self.monitor])
            else:
                config.scheduler.step()

    # ----- evaluation: validation by the module, test in Lightning's test loop -----

    def validate(self) -> dict[str, float]:
        """The validation split's loss and metrics. Run by the module at the end of a training
        epoch rather than by Lightning's validation loop, whose fixed cost per epoch (hooks,
        signature checks, mode switches over every submodule, batch transfers) was most of a
        small model's epoch."""
        x, y = self.trainer.datamodule.split_on_device("val")
        rows = limited_rows(len(x), self.val_limit)
        return self.evaluation.evaluate(self.model, x[:rows], y[:rows], "val")[0] if rows else {}

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        self.evaluation.update(self.model(x), y)

    def on_test_epoch_end(self) -> None:
        self.test_values = (self.evaluation.compute("test") or [{}])[0]
        self.reporter.test(self.trainer, self.test_values, step=len(self.history))

    # ----- the checkpoint payload -----

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # As JSON text: plain data either way, and one string is copied at once where a
        # nested structure would be walked item by item at every save.
        checkpoint["history"] = json.dumps(self.history)
        checkpoint["trainlab"] = json.dumps(self.checkpoint_extra)
        checkpoint["rng"] = rng_state()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.history = json.loads(checkpoint["history"])
        restore_rng(checkpoint["rng"])
