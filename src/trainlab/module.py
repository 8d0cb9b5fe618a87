"""The LightningModule: a model, a loss, metrics per stage, an optimizer and a scheduler."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch import nn

from trainlab.cuda_graph import StepGraph, capturable, optimizer_class
from trainlab.data.loader import Chunk
from trainlab.divergence import DivergenceWatch
from trainlab.losses import Loss
from trainlab.metrics import task_metrics
from trainlab.reporting import Reporter

log = logging.getLogger(__name__)
STAGES = ("val", "test")
# Validation values the progress bar shows, beside the training loss and metric.
PROGRESS = ("val/loss", "val/acc", "val/mae")
FAST_PRECISION = ("32-true", "32", 32)


class TrainingModule(L.LightningModule):
    """Trains ``model`` on ``loss`` with the optimizer from ``optimizer(params)``.

    Optimization is manual: one Lightning step runs the optimizer steps of every
    mini-batch in its Chunk, in order (the arithmetic of separate steps; Lightning's
    per-step cost is paid once per chunk). On CUDA, with ``cuda_graph``, each full
    mini-batch replays one captured step (see ``trainlab.cuda_graph``).

    The training loss (and accuracy, or mean absolute error for regression) are summed once
    per epoch from the steps' detached outputs (inside the graph: static accumulators), and
    read once per epoch: nothing in the step launches extra kernels or waits for the device.
    Validation and test metrics are torchmetrics'. Everything is logged once per epoch, at
    step = the epoch (from 1), as ``{stage}/loss`` and ``{stage}/{metric}``, the learning
    rate as ``lr`` (see ``trainlab.reporting``). With ``log_every_n_steps`` = N, the training
    loss of every N-th optimizer step is kept on the device as well and logged with the
    epoch as ``train/loss_step``, at step = the optimizer step. Epoch-interval schedulers
    step at the end of each epoch (plateau on ``monitor``).

    A training loss that is not finite, or above ``max_loss``, raises ``Diverged`` naming
    the epoch, the step, the loss and the lr (see ``trainlab.divergence``).

    ``checkpoint_extra`` (plain data: the model spec, the preprocessing) is stored in each
    checkpoint under ``"trainlab"`` as JSON text, so a checkpoint alone can predict.
    ``history`` holds one dict per finished training epoch (epoch counted from 1, train
    and val metrics, lr, and epoch_seconds: the epoch's wall time, its validation and
    best.ckpt included, not the last.ckpt written after it), like Keras's History.
    """

    def __init__(
        self,
        model: nn.Module,
        loss: Loss,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        monitor: str = "val/loss",
        n_classes: int | None = None,
        n_targets: int = 1,
        checkpoint_extra: dict[str, Any] | None = None,
        cuda_graph: bool = True,
        gradient_clip_val: float | None = None,
        max_loss: float | None = None,
        log_every_n_steps: int | None = None,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.model = model
        self.loss = loss
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.monitor = monitor
        self.cuda_graph = cuda_graph
        self.gradient_clip_val = gradient_clip_val
        # Keyed "val_", "test_": nn.Module already has an attribute named train.
        self.metrics = nn.ModuleDict({f"{s}_": task_metrics(loss.task, s, n_classes, n_targets) for s in STAGES})
        self.checkpoint_extra = checkpoint_extra or {}
        self.history: list[dict[str, float]] = []
        self.training_path = ""
        self._val_row: dict[str, float] = {}
        self._graph: StepGraph | None = None
        self._graph_wanted = False
        self._capturing = False
        self._eager_steps: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self._rows = 0
        self._eval_loss_sum: torch.Tensor | float = 0.0
        self._eval_rows = 0
        self._watch = DivergenceWatch(max_loss)
        self.return_step_loss = False
        self.step_losses: list[float] = []
        self.log_every_n_steps = log_every_n_steps
        self._step_log: list[tuple[int, torch.Tensor]] = []
        self._reporter = Reporter()
        self.test_values: dict[str, float] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    # ----- training: manual optimization over chunks of mini-batches -----

    def configure_optimizers(self) -> Any:
        factory = self.optimizer_factory
        if self._graph_wanted:
            factory = capturable(factory) or factory
        optimizer = factory(self.model.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}

    def setup(self, stage: str) -> None:
        if stage != "fit":
            return
        # Decided before configure_optimizers, which needs to know whether to ask for capturable=True.
        self._graph_wanted, self.training_path = self._choose_path()
        log.info("training path: %s", self.training_path)

    def _choose_path(self) -> tuple[bool, str]:
        trainer = self.trainer
        loader = trainer.datamodule.loader if trainer.datamodule is not None else "memory"
        steps = getattr(trainer.datamodule, "steps_per_call", 1)
        base = (
            f"in-memory tensors on {trainer.strategy.root_device}, {steps} mini-batch(es) per Lightning step"
            if loader == "memory"
            else "torch DataLoader, one mini-batch per Lightning step"
        )
        if not self.cuda_graph:
            return False, f"{base}, eager (speed.cuda_graph=false)"
        reasons = []
        if trainer.strategy.root_device.type != "cuda":
            reasons.append("not on CUDA")
        if loader != "memory":
            reasons.append("speed.loader is not memory")
        if str(trainer.precision) not in map(str, FAST_PRECISION):
            reasons.append(f"precision {trainer.precision}")
        if capturable(self.optimizer_factory) is None:
            reasons.append(f"optimizer {_optimizer_name(self.optimizer_factory)} cannot be captured")
        if reasons:
            return False, f"{base}, eager (no CUDA graph: {'; '.join(reasons)})"
        return True, f"{base}, each full mini-batch one CUDA graph replay"

    def on_train_epoch_start(self) -> None:
        self._epoch_start = time.perf_counter()
        self._loss_sum.zero_()
        self._metric_sum.zero_()
        self._eager_steps = []
        self._step_log = []
        self._rows = 0
        if self._graph is not None and self._graph.stale():
            self._graph = None  # a scheduler changed the learning rate: capture again

    def _optimizer(self) -> torch.optim.Optimizer:
        return self.trainer.optimizers[0]

    def _step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """One optimizer step on one mini-batch; adds its loss and metric to the accumulators."""
        optimizer = self._torch_optimizer
        output = self.model(x)
        loss = self.loss(output, y)
        optimizer.zero_grad(set_to_none=True)
        if self._fast:
            loss.backward()
        else:
            self.manual_backward(loss)
        if self.gradient_clip_val:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.gradient_clip_val)
        if self._fast:
            optimizer.step()
        else:
            self.optimizers().step()  # Lightning's wrapper: precision plugins and its step count
        if self._capturing:
            with torch.no_grad():  # static accumulators, updated by every replay
                self._loss_sum.add_(loss.detach() * len(x))
                self._metric_sum.add_(self.loss.train_metric_sum(output.detach(), y))
        else:  # no kernels per step: the sums are taken once, at the end of the epoch
            self._eager_steps.append((loss.detach(), output.detach(), y))

    def on_train_start(self) -> None:
        # Here, not in on_fit_start: the LR finder runs its loop from a callback's on_fit_start.
        self._loss_sum = torch.zeros((), device=self.device)
        self._metric_sum = torch.zeros((), device=self.device)
        self._fast = str(self.trainer.precision) in map(str, FAST_PRECISION)
        self._torch_optimizer = self._optimizer()

    def training_step(self, batch: Chunk | tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor | None:
        """Runs the batch's optimizer steps; returns the last step's loss only when
        ``return_step_loss`` is set (the LR finder), so otherwise nothing waits on the device."""
        step_schedulers = [c.scheduler for c in self.trainer.lr_scheduler_configs if c.interval == "step"]
        if not isinstance(batch, Chunk):
            x, y = batch
            self._watch.poll()
            self._step(x, y)
            self._count_steps(1, len(x))
            self._log_step(self.trainer.global_step, self._eager_steps[-1][0])
            step = (self.trainer.global_step, None)
            self._watch.probe([self._eager_steps[-1][0]], [step], self.current_epoch + 1, self._lr())
            for scheduler in step_schedulers:
                scheduler.step()
            return self._report_step_loss()
        x, y, indices, size = batch
        pieces = indices.split(size)
        done = self.trainer.global_step  # optimizer steps before this chunk
        self._watch.poll()  # earlier chunks' losses, where their copy to the host has landed
        eager: list[torch.Tensor] = []
        eager_steps: list[tuple[int, int | None]] = []
        graph_sum_before, graph_rows, graph_first, graph_last = None, 0, 0, 0
        for i, rows in enumerate(pieces):
            if self._graph_wanted and len(rows) == size:
                if self._graph is None:
                    self._capturing = True
                    self._graph = StepGraph(
                        self._step,
                        x,
                        y,
                        size,
                        self._optimizer(),
                        self.model.parameters(),
                        (self._loss_sum, self._metric_sum),
                    )
                    self._capturing = False
                if graph_sum_before is None:
                    graph_sum_before, graph_first = self._loss_sum.clone(), done + i + 1
                logged = self._logs_step(done + i + 1)
                before = self._loss_sum.clone() if logged else None
                self._graph.replay(rows)
                graph_rows, graph_last = graph_rows + len(rows), done + i + 1
                if logged:
                    self._step_log.append((done + i + 1, (self._loss_sum - before) / len(rows)))
            else:
                self._step(x.index_select(0, rows), y.index_select(0, rows))
                eager.append(self._eager_steps[-1][0])
                eager_steps.append((done + i + 1, None))
                self._log_step(done + i + 1, eager[-1])
            # Step-interval schedulers (the LR finder's ramp) follow every optimizer step;
            # the configured schedulers step per epoch, so a captured step keeps its lr.
            for scheduler in step_schedulers:
                scheduler.step()
        self._count_steps(len(pieces), len(indices))
        if graph_rows:  # the replays' mean loss, for their stretch of steps
            eager.append((self._loss_sum - graph_sum_before) / graph_rows)
            eager_steps.append((graph_last, graph_first))
        self._watch.probe(eager, eager_steps, self.current_epoch + 1, self._lr())
        return self._report_step_loss()

    def _logs_step(self, step: int) -> bool:
        return bool(self.log_every_n_steps) and step % self.log_every_n_steps == 0

    def _log_step(self, step: int, loss: torch.Tensor) -> None:
        """Keeps the loss of optimizer step ``step`` (counted from 1) when it is one of every
        ``log_every_n_steps``; they are read and logged with the epoch's values."""
        if self._logs_step(step):
            self._step_log.append((step, loss))

    def _lr(self) -> float:
        lr = self._torch_optimizer.param_groups[0]["lr"]
        return lr if isinstance(lr, float | int) else float("nan")  # a tensor lr is not read mid-epoch

    def _report_step_loss(self) -> torch.Tensor | None:
        """With ``return_step_loss`` (the LR finder: eager steps, one per Lightning step),
        the last step's loss, also kept in ``step_losses`` as a float; else None."""
        if not self.return_step_loss or not self._eager_steps:
            return None
        loss = self._eager_steps[-1][0]
        self.step_losses.append(float(loss))
        return loss

    def _count_steps(self, steps: int, rows: int) -> None:
        self._rows += rows
        if self._fast:
            # The torch optimizer was stepped directly: tell Lightning's step counter (which
            # global_step, max_steps and logging read) how many optimizer steps ran.
            self.trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress.increment_by(steps)

    def on_train_epoch_end(self) -> None:
        self._watch.poll(wait=True)  # every step of the epoch is checked before it counts as done
        loss_sum, metric_sum = self._loss_sum.clone(), self._metric_sum.clone()
        if self._eager_steps:
            with torch.no_grad():
                losses, outputs, targets = zip(*self._eager_steps, strict=True)
                sizes = torch.tensor([len(t) for t in targets], device=loss_sum.device, dtype=loss_sum.dtype)
                loss_sum += (torch.stack(losses) * sizes).sum()
                metric_sum += self.loss.train_metric_sum(torch.cat(outputs), torch.cat(targets))
            self._eager_steps = []
        rows = max(self._rows, 1)
        read = [loss_sum, metric_sum, *(loss for _, loss in self._step_log)]
        sums = torch.stack([t.to(torch.float32) for t in read]).tolist()  # one wait for the device
        seconds = time.perf_counter() - self._epoch_start  # after the read: the device has finished the epoch
        train = {"train/loss": sums[0] / rows, f"train/{self.loss.train_metric_name}": sums[1] / rows}
        lr = float(self._optimizer().param_groups[0]["lr"])
        epoch = self.current_epoch + 1
        row = {"epoch": epoch, **train, **self._val_row, "lr": lr, "epoch_seconds": seconds}
        self.history.append(row)
        trainer = self.trainer
        self._reporter.to_callbacks(trainer, train)
        self._reporter.to_progress_bar(trainer, train)
        self._reporter.to_loggers(trainer, {**train, **self._val_row, "lr": lr}, step=epoch)
        if self._step_log:
            steps = [step for step, _ in self._step_log]
            self._reporter.series_to_loggers(trainer, "train/loss_step", zip(steps, sums[2:], strict=True))
            self._step_log = []
        self._step_schedulers(row)
        self._val_row = {}

    def _step_schedulers(self, row: dict[str, float]) -> None:
        """Epoch-interval schedulers (manual optimization leaves them to the module)."""
        for config in self.trainer.lr_scheduler_configs:
            if config.interval != "epoch":
                continue
            scheduler = config.scheduler
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                if self.monitor in row:
                    scheduler.step(row[self.monitor])
            else:
                scheduler.step()

    # ----- evaluation: torchmetrics, once per epoch -----

    def _evaluate(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> None:
        x, y = batch
        output = self.model(x)
        metrics = self.metrics[f"{stage}_"]
        metrics.update(self.loss.scores(output), self.loss.targets(y))
        self._eval_loss_sum = self._eval_loss_sum + self.loss(output, y).detach() * len(x)
        self._eval_rows += len(x)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def _epoch_values(self, stage: str) -> dict[str, float]:
        """The stage's loss and metrics over the whole split, read from the device at once."""
        metrics = self.metrics[f"{stage}_"]
        values = {f"{stage}/loss": self._eval_loss_sum / self._eval_rows, **metrics.compute()}
        metrics.reset()
        self._eval_loss_sum, self._eval_rows = 0.0, 0
        floats = torch.stack([torch.as_tensor(v, dtype=torch.float32) for v in values.values()]).tolist()
        values = dict(zip(values, floats, strict=True))
        self._reporter.to_callbacks(self.trainer, values)
        return values

    def on_validation_epoch_end(self) -> None:
        self._val_row = self._epoch_values("val")
        self._reporter.to_progress_bar(self.trainer, {k: self._val_row[k] for k in self._val_row if k in PROGRESS})

    def on_test_epoch_end(self) -> None:
        self.test_values = self._epoch_values("test")
        self._reporter.to_loggers(self.trainer, self.test_values, step=len(self.history))

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # As JSON text: plain data either way, and one string is copied at once where a
        # nested structure would be walked item by item at every save.
        checkpoint["history"] = json.dumps(self.history)
        checkpoint["trainlab"] = json.dumps(self.checkpoint_extra)
        # The random state dropout draws from, so a resumed run draws the same masks.
        checkpoint["rng"] = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            checkpoint["rng"]["cuda"] = torch.cuda.get_rng_state_all()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        history = checkpoint.get("history", "[]")
        self.history = json.loads(history) if isinstance(history, str) else list(history)
        rng = checkpoint.get("rng", {})
        if "torch" in rng:
            torch.set_rng_state(rng["torch"])
        if "cuda" in rng and torch.cuda.is_available() and len(rng["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(rng["cuda"])


def _optimizer_name(factory: Callable[..., Any]) -> str:
    cls = optimizer_class(factory)
    return cls.__name__ if cls is not None else str(factory)
