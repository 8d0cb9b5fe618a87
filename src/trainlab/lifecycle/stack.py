"""A stack's training: the jobs ``sweeps.grouping`` put together, trained at once as one model of M members.

The stack is the same LightningModule as one model's (``trainlab.training.module``), with a
stack's step unit and data (``build.stack_module``, ``build.stack_datamodule``): each member
keeps its own seed's weights and data order, its own hyper-parameters, dropout probability,
early stopping and max_epochs. Lightning's Trainer drives it (``build.trainer``), then each
member's best weights are tested in Lightning's test loop, and each member becomes a
``Member``: what its run directory is written from (``trainlab.lifecycle.member_dir``).
A stack too big for its device's memory is trained as stacks that fit; jobs whose data sets
differ in shape train as one stack per shape.

Cross-validation hands its folds' data sets (``datasets``): member k trains on fold k. Folds
whose rows differ (rows not divisible by k) share one stack: ``trainlab.data.stacked`` pads
them, and each member steps, sums and is evaluated on its own rows (``StackSteps``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig

from trainlab.config.plain import readable
from trainlab.config.validate import batch_size, check_monitor
from trainlab.data import TabularData
from trainlab.data.stacked import StackedData
from trainlab.errors import Interrupted
from trainlab.lifecycle.fit import best_val, fit_under_policy, test_timed
from trainlab.lifecycle.interrupts import stopping
from trainlab.lifecycle.member import Member, StackInterrupted, interrupted
from trainlab.models import from_spec
from trainlab.training import build
from trainlab.training.losses import Loss, n_outputs, resolve_loss
from trainlab.training.module import TrainingModule
from trainlab.training.quiet import quiet_lightning
from trainlab.training.stack.member_checkpoint import piece_dir, shape_dir, write_shape_groups
from trainlab.training.stack.memory import member_bytes, members_that_fit

log = logging.getLogger(__name__)


Datasets = tuple[list[TabularData], list[int]]  # distinct data sets, and which one each member trains on


def train_stack(
    cfgs: list[DictConfig],
    checkpoints: Path | None = None,
    resume_from: Path | None = None,
    datasets: Datasets | None = None,
) -> list[Member]:
    """Train the jobs ``cfgs`` (checked by ``config.stackable`` to share a stack) at once.

    With ``checkpoints`` (a directory), the stack's state goes to ``checkpoints/last.ckpt``
    at the end of an epoch as a lone run's does (``trainlab.training.stack.member_checkpoint``); on
    Ctrl-C ``StackInterrupted`` hands each member with its share of that file. ``resume_from``
    continues from such a file: the whole stack's, or one member's (for a stack of one).
    ``datasets``: the members' data, given (cross-validation's folds; see the module doc),
    rather than each job's ``data`` config prepared.
    """
    first = cfgs[0]
    build.check_trainer(first)
    quiet_lightning()
    trainer = _trainer(cfgs, checkpoints)
    given = datasets is not None
    datasets, member_data = datasets if datasets is not None else build.stack_datasets(cfgs)
    shapes = [_shape(datasets[d], rows=not given) for d in member_data]  # given folds may differ in rows
    if len(set(shapes)) > 1:  # e.g. one-hot columns that depend on the split: stacks per shape
        log.info("the stack's data sets differ in shape (%s): trained as one stack per shape", sorted(set(shapes)))
        groups = [[m for m, shape in enumerate(shapes) if shape == kind] for kind in dict.fromkeys(shapes)]
        if checkpoints is not None:
            write_shape_groups(checkpoints, groups)
        dirs = [None if checkpoints is None else checkpoints / shape_dir(k) for k in range(len(groups))]
        return _train_groups(cfgs, groups, dirs, (datasets, member_data) if given else None)
    data = datasets[0]
    for cfg in cfgs:
        check_monitor(cfg, data.task)
    loss_name = resolve_loss(first.loss.name, data.task, data.n_classes)
    n_out = n_outputs(loss_name, data.task, data.n_classes, data.n_targets)
    specs = [build.model_spec(cfg, data.n_features, n_out) for cfg in cfgs]
    most = max(len(d.x_train) for d in datasets)
    batch = batch_size(first.data.batch_size, most)  # an int, or every row (of each member) for "full"
    fit = _members_that_fit(cfgs, data, specs[0], batch, len(datasets), trainer.strategy.root_device)
    if fit < len(cfgs):  # cut, not crashed: each piece is estimated again (its own data sets)
        pieces = [list(range(start, min(start + fit, len(cfgs)))) for start in range(0, len(cfgs), fit)]
        dirs = [None if checkpoints is None else checkpoints / piece_dir(p[0], p[-1]) for p in pieces]
        return _train_groups(cfgs, pieces, dirs, (datasets, member_data) if given else None)
    stacked = StackedData(datasets, member_data)
    scales = zip(*(datasets[d].target_scale for d in member_data), strict=True)
    module = build.stack_module(cfgs, Loss(loss_name, data.task, *(torch.tensor(s) for s in scales)), specs)
    return _train(trainer, cfgs, module, stacked, specs, batch, checkpoints, resume_from)


def _train_groups(
    cfgs: list[DictConfig], groups: list[list[int]], dirs: list[Path | None], datasets: Datasets | None = None
) -> list[Member]:
    """Each group of members trained as a stack of its own (its checkpoints in its dir; its
    members' ``datasets`` when given), in order. On Ctrl-C, ``StackInterrupted`` holds every
    member: the earlier groups' finished ones, the interrupted group's, and None for the
    members of groups that did not start."""
    trained: dict[int, Member] = {}
    for group, path in zip(groups, dirs, strict=True):
        given = None if datasets is None else ([datasets[0][datasets[1][m]] for m in group], list(range(len(group))))
        try:
            members = train_stack([cfgs[m] for m in group], path, datasets=given)
        except StackInterrupted as stop:
            trained |= {m: member for m, member in zip(group, stop.members, strict=True) if member is not None}
            raise StackInterrupted([trained.get(m) for m in range(len(cfgs))]) from None
        trained |= dict(zip(group, members, strict=True))
    return [trained[m] for m in range(len(cfgs))]


def _train(
    trainer: L.Trainer,
    cfgs: list[DictConfig],
    module: TrainingModule,
    data: StackedData,
    specs: list[dict[str, Any]],
    batch: int,
    checkpoints: Path | None,
    resume_from: Path | None,
) -> list[Member]:
    """Fit and test the stack (Ctrl-C: ``StackInterrupted``); its members."""
    datamodule = build.stack_datamodule(cfgs, data, batch)
    out = checkpoints if checkpoints is not None else Path(".")
    try:
        seconds, threads = fit_under_policy(
            trainer, module, datamodule, out, cfgs[0].trainer.get("threads"), resume_from
        )
        with stopping(trainer, module, out, training=False):
            if data.x_test.shape[1]:
                test_timed(trainer, module, datamodule)
    except Interrupted:
        raise StackInterrupted(interrupted(cfgs, module, data, specs, datamodule.n_batches, checkpoints)) from None
    n_batches, device = datamodule.member_batches(), str(trainer.strategy.root_device)
    members = []
    with torch.random.fork_rng(devices=[]):  # building each member's network draws no number of the run's
        models = [from_spec(spec) for spec in specs]  # half copy.deepcopy's time for a small network
    for m, (cfg, record, spec, model) in enumerate(zip(cfgs, module.records, specs, models, strict=True)):
        model.load_state_dict({k: v.cpu() for k, v in module.steps.member_state(m).items()})  # its best weights
        model.eval()
        tested = module.test_values[m] if module.test_values else {}
        members.append(
            Member(
                cfg=cfg,
                record=record,
                data=data.member(m),
                loss=module.loss.name,
                model=model,
                last_state={k: v.cpu() for k, v in module.last_states[m].items()},
                metrics=best_val(record) | tested,  # as a lone run's: val of the best epoch, test of its weights
                extra=build.checkpoint_extra(cfg, data.member(m), spec, module.loss.name),
                device=device,
                fit_seconds=seconds,
                threads=threads,
                optimizer_steps=len(record.history) * n_batches[m],
                stack_size=module.steps.size,
            )
        )
    return members


def _trainer(cfgs: list[DictConfig], checkpoints: Path | None) -> L.Trainer:
    """The stack's Lightning Trainer (``build.trainer``): one device, every member's epochs,
    its last.ckpt in ``checkpoints`` (if given), no logger (each member's is written afterwards)."""
    first = cfgs[0]
    devices = 1 if first.trainer.devices == "auto" else first.trainer.devices  # one device (config.stackable)
    callbacks = build.stack_callbacks(cfgs, checkpoints)  # every member: their trials are pruned (search.link)
    return build.trainer(
        first,
        checkpoints if checkpoints is not None else Path("."),
        callbacks,
        None,
        devices=devices,
        max_epochs=max(readable(cfg)["trainer"]["max_epochs"] for cfg in cfgs),
        enable_checkpointing=checkpoints is not None,
    )


def _members_that_fit(
    cfgs: list[DictConfig], data: TabularData, spec: dict[str, Any], batch: int, n_data: int, device: torch.device
) -> int:
    """How many of the stack's members fit on ``device`` (``trainlab.training.stack.memory``)."""
    first = cfgs[0]
    rows = tuple(len(data.split(split)[0]) for split in ("train", "val", "test"))
    sizes = [spec["in_features"], *spec["hidden"], spec["out_features"]]
    optimizer = build.optimizer_settings(first)[0].rsplit(".", 1)[-1]
    per_member = member_bytes(sizes, batch, first.speed.steps_per_call, rows, optimizer, n_data / len(cfgs))
    fit = min(len(cfgs), members_that_fit(per_member, device))
    if fit < len(cfgs):
        log.info(
            "a stack of %d needs about %.0f MiB on %s, more than fits: trained as stacks of at most %d",
            len(cfgs),
            per_member * len(cfgs) / 2**20,
            device,
            fit,
        )
    return fit


def _shape(data: TabularData, rows: bool = True) -> tuple[Any, ...]:
    """What must agree for members to share a stack: the task, classes, features, and (with
    ``rows``) each split's rows."""
    kind = (data.task, data.n_classes, data.n_features)
    return (*kind, *(len(data.split(s)[0]) for s in ("train", "val", "test"))) if rows else kind
