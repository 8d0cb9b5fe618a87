"""A stack's member as its training ended (``Member``): what its run directory is written from;
and after Ctrl-C, each member as the stack's last checkpoint holds it (``interrupted``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig
from torch import nn

from trainlab.data import TabularData
from trainlab.data.stacked import StackedData
from trainlab.files.checkpoints import load_checkpoint
from trainlab.models import from_spec
from trainlab.training import build
from trainlab.training.module import TrainingModule
from trainlab.training.payload import MEMBERS, upgrade
from trainlab.training.records import Record
from trainlab.training.stack.member_checkpoint import member_checkpoint


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
    pictures: bool = True  # False: not among its stack's best (pictures.sweep_best); drawn on request


@dataclass
class FoldedJob:
    """A stacked sweep's job with cross-validation: its folds' members, in fold order, each
    trained in the stack of every job's folds (``trainlab.lifecycle.folds.fold_members``)."""

    folds: list[Member]


class StackInterrupted(Exception):
    """Ctrl-C during a stack's training: ``members`` as the stack's last checkpoint holds them
    (a stack trained in pieces: the finished pieces' members as they finished, and None for
    the members of pieces that had not started)."""

    def __init__(self, members: list[Member | None]) -> None:
        super().__init__("interrupted")
        self.members = members


def interrupted(
    cfgs: list[DictConfig],
    module: TrainingModule,
    data: StackedData,
    specs: list[dict[str, Any]],
    n_batches: int,
    checkpoints: Path | None,
) -> list[Member]:
    """Each member after Ctrl-C, as the stack's last checkpoint (if one was written) holds it:
    its record and best weights from there, and its share of the file to resume from."""
    file = None if checkpoints is None else checkpoints / "last.ckpt"
    stack = load_checkpoint(file) if file is not None and file.is_file() else None
    if stack is not None:
        upgrade(stack)
    members = []
    for m, (cfg, spec) in enumerate(zip(cfgs, specs, strict=True)):
        done = len(module.records[m].history)
        extra = build.checkpoint_extra(cfg, data.member(m), spec, module.loss.name)
        record, model, last, resume = Record(build.rules(cfg)), from_spec(spec), {}, None
        if stack is not None:
            record.load_state_dict(stack[MEMBERS]["records"][m])
            resume = member_checkpoint(stack, m, extra)
            last = {k.removeprefix("model."): v for k, v in resume["state_dict"].items()}
            best = stack[MEMBERS]["best"]
            model.load_state_dict(_unflatten(best[m], last) if record.best_epoch and best is not None else last)
        model.eval()
        members.append(
            Member(
                cfg=cfg,
                record=record,
                data=data.member(m),
                loss=module.loss.name,
                model=model,
                last_state=last,
                metrics={},
                extra=extra,
                device=str(module.device),
                fit_seconds=0.0,
                threads=0,
                optimizer_steps=len(record.history) * n_batches,
                stack_size=module.steps.size,
                interrupted=(done, len(record.history)),
                resume_checkpoint=resume,
            )
        )
    return members


def _unflatten(flat: torch.Tensor, like: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A member's row of the flat layout (every W, then every b) as the tensors of ``like``
    (the same names, shapes and order)."""
    sizes = [v.numel() for v in like.values()]
    return {k: chunk.view_as(v).clone() for (k, v), chunk in zip(like.items(), flat.split(sizes), strict=True)}
