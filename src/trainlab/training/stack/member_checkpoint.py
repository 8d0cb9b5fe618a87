"""One member's share of a stack's checkpoint, and where a training member's state is.

While a stack trains, ``LastCheckpoint`` writes the whole stack's state at the end of an
epoch (every ``speed.last_checkpoint_seconds``, and at the end): Lightning's loops, the
weights ``[M, ...]`` (``model.W.<i>``, ``model.b.<i>``) and trainlab's payload for M members
(``trainlab.training.payload``: records, best weights, the stacked optimizer's state).

``member_checkpoint`` cuts member m's share out of it: the same checkpoint for a stack of
one, its weights under one network's names (``model.layers.0.W``, which ``Predictor`` reads
too). That is a stacked member's last.ckpt after Ctrl-C; ``resume=<its run dir>`` continues
it as a stack of one.

While its stack trains, a member's run directory holds its config, and the stack's
``jobs.json`` lists it (``trainlab.files.stack_jobs``): a sweep killed outright (no
Ctrl-C) leaves each member resumable, its last.ckpt cut from the stack's file when it
resumes (``restore_member_checkpoint``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from trainlab.files.checkpoints import load_checkpoint, save_atomically
from trainlab.files.rundir import RunDir
from trainlab.files.stack_jobs import training_stack
from trainlab.training.payload import EXTRA, HISTORY, MEMBERS, STACKED, upgrade

SHAPES = "shapes.json"  # in a stack's directory split by its data sets' shapes: which member is in which group


def piece_dir(first: int, last: int) -> str:
    """The directory of the piece of members ``first``..``last`` of a stack cut to fit its device."""
    return f"members-{first}-{last}"


def shape_dir(group: int) -> str:
    """The directory of a stack's ``group``-th group of members whose data sets share a shape."""
    return f"shape-{group}"


def write_shape_groups(stack_dir: Path, groups: list[list[int]]) -> None:
    """Note in ``stack_dir`` which members each shape group holds (``stack_file`` reads it)."""
    RunDir(stack_dir).write_json(SHAPES, {"groups": groups})


def stack_file(stack_dir: Path, m: int) -> tuple[Path, int] | None:
    """(the file holding member ``m`` of the stack in ``stack_dir``, its row there), or None
    when none was written. A stack cut to fit its device keeps its pieces in
    ``members-<first>-<last>/`` below its own directory; one split by its data sets' shapes,
    its groups in ``shape-<k>/`` (``shapes.json`` says which members each holds)."""
    if (stack_dir / "last.ckpt").is_file():
        return stack_dir / "last.ckpt", m
    shapes = RunDir(stack_dir).read_json(SHAPES)
    for k, group in enumerate((shapes or {}).get("groups", [])):
        if m in group:
            return stack_file(stack_dir / shape_dir(k), group.index(m))
    for piece in stack_dir.glob("members-*-*"):
        first, last = (int(n) for n in piece.name.split("-")[1:])
        if first <= m <= last:
            return stack_file(piece, m - first)
    return None


def training_file(run_dir: Path) -> tuple[Path, int] | None:
    """(the file holding the state of the member in ``run_dir``, its row there) while its
    stack trains or after it was killed (its stack's jobs.json lists it), or None."""
    stack = training_stack(run_dir)
    return None if stack is None else stack_file(*stack)


def restore_member_checkpoint(run_dir: Path) -> bool:
    """Write ``run_dir``'s last.ckpt from its stack's file, if the member was killed while its
    stack trained (a stack's jobs.json lists it, the stack's file written); return whether it did."""
    out = RunDir(run_dir)
    found = training_file(run_dir)
    if found is None or out.last_checkpoint.is_file():
        return False
    save_atomically(member_checkpoint(load_checkpoint(found[0]), found[1], {}), out.last_checkpoint)
    return True


def _slice(value: Any, m: int) -> Any:
    """Member ``m``'s row of every tensor in ``value`` (kept as a stack of one), copied so a
    saved file holds that row and not the whole storage."""
    if isinstance(value, torch.Tensor):
        return value[m : m + 1].clone()
    if isinstance(value, dict):
        return {k: _slice(v, m) for k, v in value.items()}
    if isinstance(value, list):
        return [_slice(v, m) for v in value]
    return value


def member_checkpoint(stack: dict[str, Any], m: int, extra: dict[str, Any]) -> dict[str, Any]:
    """Member ``m``'s checkpoint cut from the whole stack's ``stack`` (see the module doc);
    ``extra`` is what a checkpoint carries for prediction (model spec, preprocessing)."""
    upgrade(stack)
    names = stack[STACKED]["names"]
    weights = stack["state_dict"]
    lone = {}
    for part in ("W", "b"):
        for i, name in enumerate(names):
            lone[f"model.{name}.{part}"] = weights[f"model.{part}.{i}"][m].clone()
    members = stack[MEMBERS]
    record = members["records"][m]
    best = members["best"]
    return {
        **{
            k: v for k, v in stack.items() if k not in ("state_dict", STACKED, MEMBERS, "callbacks", "optimizer_states")
        },
        "state_dict": lone,
        "optimizer_states": [],
        HISTORY: json.dumps(record["history"]),
        EXTRA: json.dumps(extra),
        MEMBERS: {"records": [record], "best": None if best is None else best[m : m + 1].clone()},
        STACKED: {**stack[STACKED], "optimizer": _slice(stack[STACKED]["optimizer"], m)},
    }
