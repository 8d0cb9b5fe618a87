"""One stack trained: the configs of jobs that share a stack in, one result per member out.

Each member is what its config would give alone: its data set (prepared by ``build``, shared
with the members whose data config is the same), initial weights drawn under its own seed,
its own data order, optimizer hyper-parameters, dropout probability, early stopping and
max_epochs. The stack trains under the Lightning Trainer (``StackedModule``), then each
member's best weights are tested on its test split.
"""

from __future__ import annotations

import json
import logging
import re
import signal
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from trainlab.config.validate import check_monitor, selected_regularization
from trainlab.data import TabularData
from trainlab.data.stacked import StackedData
from trainlab.files.checkpoints import AtomicCheckpointIO, load_checkpoint
from trainlab.models import from_spec
from trainlab.training import build
from trainlab.training.build.network import model_spec
from trainlab.training.callbacks import LastCheckpoint
from trainlab.training.losses import Loss, n_outputs, resolve_loss
from trainlab.training.members import Record, Rules
from trainlab.training.progress import CourseProgressBar
from trainlab.training.quiet import quiet_lightning
from trainlab.training.stack.checkpoint import STACKED, load_record, member_checkpoint
from trainlab.training.stack.memory import member_bytes, members_that_fit
from trainlab.training.stack.module import StackedModule
from trainlab.training.stack.network import StackedNetwork
from trainlab.training.stack.optim import StackedOptimizer
from trainlab.training.threads import thread_policy

log = logging.getLogger(__name__)


@dataclass
class Member:
    """One member's training, ready to be written as a run directory."""

    cfg: DictConfig
    record: Record
    data: TabularData
    loss: str
    model: nn.Module  # the best weights (or the last, without a best epoch), on the CPU
    last_state: dict[str, torch.Tensor]  # the final weights
    metrics: dict[str, float]  # val of the best epoch, test of the best weights
    extra: dict[str, Any]  # what a checkpoint carries for prediction (model spec, preprocessing)
    device: str
    fit_seconds: float  # the stack's
    threads: int
    optimizer_steps: int
    stack_size: int
    interrupted: tuple[int, int] | None = None  # after Ctrl-C: (epochs finished, epochs its last.ckpt keeps)
    resume_checkpoint: dict[str, Any] | None = None  # after Ctrl-C: its last.ckpt, which resume= continues


class StackInterrupted(Exception):
    """Ctrl-C during a stack's training: ``members`` as the stack's last checkpoint holds them."""

    def __init__(self, members: list[Member]) -> None:
        super().__init__("interrupted")
        self.members = members


def optimizer_settings(cfg: DictConfig) -> tuple[str, dict[str, Any]]:
    """(torch.optim class name, its keyword arguments) of a job, as ``build.optimizer`` makes them."""
    options = OmegaConf.to_container(cfg.optimizer, resolve=True)
    name = str(options.pop("_target_")).rsplit(".", 1)[-1]
    options.pop("_partial_", None)
    reg = selected_regularization(cfg)
    if "weight_decay" in reg:
        options["weight_decay"] = float(reg.weight_decay)
    if "betas" in options:
        options["betas"] = tuple(options["betas"])
    return name, options


def _rules(cfg: DictConfig) -> Rules:
    reg = selected_regularization(cfg)
    rules = Rules(max_epochs=cfg.trainer.max_epochs, monitor=cfg.monitor, mode=cfg.mode)
    if "early_stopping" in reg:
        es = reg.early_stopping
        rules.patience, rules.min_delta, rules.early_monitor, rules.early_mode = (
            es.patience,
            es.min_delta,
            es.monitor,
            es.mode,
        )
    return rules


def train_stack(
    cfgs: list[DictConfig], checkpoints: Path | None = None, resume_from: Path | None = None
) -> list[Member]:
    """Train the jobs ``cfgs`` (which ``grouping.group_jobs`` put in one stack) at once.

    With ``checkpoints`` (a directory), the stack's state goes to ``checkpoints/last.ckpt``
    at the end of an epoch as a lone run's does (``trainlab.training.stack.checkpoint``); on Ctrl-C
    ``StackInterrupted`` hands each member with its share of that file. ``resume_from``
    continues from such a file: the whole stack's, or one member's (for a stack of one).
    """
    first = cfgs[0]  # each checked by check_stackable before (sweep.check_jobs, resume.resume_member)
    build.check_trainer(first)
    quiet_lightning()
    trainer = _trainer(first, max(cfg.trainer.max_epochs for cfg in cfgs), checkpoints)
    device = trainer.strategy.root_device
    data_keys = [json.dumps(OmegaConf.to_container(cfg.data, resolve=True), sort_keys=True) for cfg in cfgs]
    distinct = list(dict.fromkeys(data_keys))
    datasets = [build.datasets(cfgs[data_keys.index(key)])[0] for key in distinct]
    member_data = [distinct.index(key) for key in data_keys]
    shapes = [_shape(datasets[d]) for d in member_data]
    if len(set(shapes)) > 1:  # e.g. one-hot columns that depend on the split: stacks per shape
        log.info("the stack's data sets differ in shape (%s): trained as one stack per shape", sorted(set(shapes)))
        kinds = list(dict.fromkeys(shapes))
        by_kind = {kind: [m for m, shape in enumerate(shapes) if shape == kind] for kind in kinds}
        trained = {
            m: member
            for kind in kinds
            for m, member in zip(by_kind[kind], train_stack([cfgs[m] for m in by_kind[kind]]), strict=True)
        }
        return [trained[m] for m in range(len(cfgs))]
    task, n_classes = datasets[0].task, datasets[0].n_classes
    for cfg in cfgs:
        check_monitor(cfg, task)
    loss_name = resolve_loss(first.loss.name, task, n_classes)
    n_out = n_outputs(loss_name, task, n_classes, datasets[0].n_targets)
    specs = [model_spec(cfg, datasets[0].n_features, n_out) for cfg in cfgs]
    settings = [optimizer_settings(cfg) for cfg in cfgs]
    name = settings[0][0]
    rows = tuple(len(datasets[0].split(split)[0]) for split in ("train", "val", "test"))
    per_member = member_bytes(
        [specs[0]["in_features"], *specs[0]["hidden"], n_out],
        first.data.batch_size,
        first.speed.steps_per_call,
        rows,
        name,
        len(distinct) / len(cfgs),
    )
    fit = min(len(cfgs), members_that_fit(per_member, device))
    if fit < len(cfgs):  # cut, not crashed: each piece is estimated again (its own data sets)
        log.info(
            "a stack of %d needs about %.0f MiB on %s, more than fits: trained as stacks of at most %d",
            len(cfgs),
            per_member * len(cfgs) / 2**20,
            device,
            fit,
        )
        pieces = [cfgs[start : start + fit] for start in range(0, len(cfgs), fit)]  # (checkpoint.stack_file)
        return [
            member
            for n, piece in enumerate(pieces)
            for member in train_stack(piece, None if checkpoints is None else checkpoints / _piece_dir(n * fit, piece))
        ]
    lone = []
    for cfg, spec in zip(cfgs, specs, strict=True):
        L.seed_everything(cfg.seed, verbose=False)  # each member's weights as its lone run draws them
        lone.append(from_spec(spec))
    net = StackedNetwork(lone, dropout=[spec["dropout"] for spec in specs])
    records = [Record(_rules(cfg)) for cfg in cfgs]
    module = StackedModule(
        net,
        StackedData(datasets, member_data),
        Loss(
            loss_name,
            task,
            *(torch.tensor(v) for v in zip(*(datasets[d].target_scale for d in member_data), strict=True)),
        ),
        lambda params: StackedOptimizer(params, name, [options for _, options in settings]),
        records,
        seeds=[cfg.seed for cfg in cfgs],
        batch_size=first.data.batch_size,
        steps_per_call=first.speed.steps_per_call,
        drop_last=first.speed.drop_last,
        max_loss=first.divergence.max_loss,
        cuda_graph=first.speed.cuda_graph,
    )
    device_type = trainer.strategy.root_device.type
    n_params = sum(p.numel() for p in net.parameters())
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*configure_optimizers.*returned `None`")
        with thread_policy(first.trainer.get("threads"), n_params, first.data.batch_size, device_type) as threads:
            try:
                trainer.fit(module, train_dataloaders=module.train_chunks(), ckpt_path=resume_from)
            except (SystemExit, KeyboardInterrupt) as error:  # SystemExit: Lightning's clean stop after Ctrl-C
                if isinstance(error, SystemExit) and not trainer.interrupted:
                    raise
                raise StackInterrupted(_interrupted(cfgs, module, specs, loss_name, checkpoints)) from None
            finally:  # Lightning ignores Ctrl-C from its interrupt handling on
                if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
                    signal.signal(signal.SIGINT, signal.default_int_handler)
    if module.best_states is None:  # resumed after its last epoch: Lightning ran no loop
        module.end_without_training()
    fit_seconds = time.perf_counter() - start
    return _members(cfgs, module, specs, loss_name, fit_seconds, threads, str(trainer.strategy.root_device))


def _piece_dir(first: int, piece: list[DictConfig]) -> str:
    """The directory name of a piece's checkpoints, in its stack's (``checkpoint.stack_file``)."""
    return f"members-{first}-{first + len(piece) - 1}"


def _shape(data: TabularData) -> tuple[Any, ...]:
    """What must agree for members to share a stack: the task, classes, features and rows."""
    return (data.task, data.n_classes, data.n_features, *(len(data.split(s)[0]) for s in ("train", "val", "test")))


def _trainer(first: DictConfig, max_epochs: int, checkpoints: Path | None) -> L.Trainer:
    """The Lightning Trainer of a stack: one device, no logger (each member's is written
    afterwards), the stack's last.ckpt in ``checkpoints`` (if given), the progress bar as
    configured."""
    callbacks: list[L.Callback] = [CourseProgressBar()] if first.trainer.enable_progress_bar else []
    if checkpoints is not None:
        callbacks.append(LastCheckpoint(str(checkpoints), first.speed.last_checkpoint_seconds))
        # Its directory holds files only when a member resumes, from those files (as alone).
        pattern = rf"Checkpoint directory {re.escape(str(checkpoints))} exists and is not empty\.$"
        warnings.filterwarnings("ignore", message=pattern, category=UserWarning)
    return L.Trainer(
        accelerator=first.trainer.accelerator,
        devices=1 if first.trainer.devices == "auto" else first.trainer.devices,  # one device (build.check_trainer)
        max_epochs=max_epochs,
        logger=False,
        enable_checkpointing=checkpoints is not None,
        plugins=[AtomicCheckpointIO()],
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        callbacks=callbacks,
        enable_progress_bar=bool(first.trainer.enable_progress_bar),
        deterministic=first.trainer.deterministic,
    )


def _members(
    cfgs: list[DictConfig],
    module: StackedModule,
    specs: list[dict[str, Any]],
    loss_name: str,
    fit_seconds: float,
    threads: int,
    device: str,
) -> list[Member]:
    """Each member's final weights, best weights, and their test metrics (taken by the module
    at the end of training)."""
    members = []
    for m, (cfg, record) in enumerate(zip(cfgs, module.records, strict=True)):
        data = module.data.member(m)
        model = from_spec(specs[m])
        model.load_state_dict({k: v.cpu() for k, v in module.best_states[m].items()})
        model.eval()
        metrics = {}  # as a lone run's: val of the best epoch (if any), test of the weights it ends with
        if record.best_epoch is not None:
            metrics = {k: v for k, v in record.history[record.best_epoch - 1].items() if k.startswith("val/")}
        metrics |= module.test_values[m]
        extra = _extra(cfg, module, m, specs[m], loss_name)
        members.append(
            Member(
                cfg=cfg,
                record=record,
                data=data,
                loss=loss_name,
                model=model,
                last_state={k: v.cpu() for k, v in module.last_states[m].items()},
                metrics=metrics,
                extra=extra,
                device=device,
                fit_seconds=fit_seconds,
                threads=threads,
                optimizer_steps=len(record.history) * module.n_batches,
                stack_size=module.stack_size,
            )
        )
    return members


def _extra(cfg: DictConfig, module: StackedModule, m: int, spec: dict[str, Any], loss_name: str) -> dict[str, Any]:
    """What member ``m``'s checkpoints carry for prediction."""
    preprocessing = module.data.member(m).preprocessing()
    return {"model": spec, "preprocessing": preprocessing, "loss": loss_name, "id": cfg.data.get("id")}


def _interrupted(
    cfgs: list[DictConfig],
    module: StackedModule,
    specs: list[dict[str, Any]],
    loss_name: str,
    checkpoints: Path | None,
) -> list[Member]:
    """Each member after Ctrl-C, as the stack's last checkpoint (if one was written) holds it:
    its record and best weights from there, and its share of the file to resume from."""
    file = None if checkpoints is None else checkpoints / "last.ckpt"
    stack = load_checkpoint(file) if file is not None and file.is_file() else None
    members = []
    for m, cfg in enumerate(cfgs):
        done = len(module.records[m].history)
        extra = _extra(cfg, module, m, specs[m], loss_name)
        record, model, last, resume = Record(_rules(cfg)), from_spec(specs[m]), {}, None
        if stack is not None:
            load_record(record, stack[STACKED]["records"][m])
            resume = member_checkpoint(stack, m, extra)
            last = {k.removeprefix("model."): v for k, v in resume["state_dict"].items()}
            model.load_state_dict(_unflatten(stack[STACKED]["best"][m], last) if record.best_epoch else last)
        model.eval()
        members.append(
            Member(
                cfg=cfg,
                record=record,
                data=module.data.member(m),
                loss=loss_name,
                model=model,
                last_state=last,
                metrics={},
                extra=extra,
                device=str(module.device),
                fit_seconds=0.0,
                threads=0,
                optimizer_steps=len(record.history) * module.n_batches,
                stack_size=module.stack_size,
                interrupted=(done, len(record.history)),
                resume_checkpoint=resume,
            )
        )
    return members


def _unflatten(flat: torch.Tensor, like: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A member's row of ``flatten_``'s layout as the tensors of ``like`` (the same names,
    shapes and order: every W, then every b)."""
    sizes = [v.numel() for v in like.values()]
    return {k: chunk.view_as(v).clone() for (k, v), chunk in zip(like.items(), flat.split(sizes), strict=True)}
