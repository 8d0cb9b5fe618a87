"""A stack's training state in a Lightning checkpoint, and one member's share of it.

While a stack trains, ``LastCheckpoint`` writes the whole stack's state at the end of an
epoch (every ``speed.last_checkpoint_seconds``, and at the end): Lightning's loops and
random state, the weights ``[M, ...]`` under ``net.W.<i>``/``net.b.<i>``, and under
``"stacked"`` what the module adds (``StackedModule.on_save_checkpoint``): the optimizer's
state, each member's best weights and its record (history, best epoch, early stopping's
count, how it stopped).

``member_checkpoint`` cuts member m's share out of it: the same checkpoint for a stack of
one, its weights under the lone network's names (``model.layers.0.W``, which ``Predictor``
reads too). That is a stacked member's last.ckpt after Ctrl-C; ``resume=<its run dir>``
continues it as a stack of one (``StackedModule.on_load_checkpoint`` takes either form).

While its stack trains, a member's run directory holds its config and
``checkpoints/in_stack.json``, which names the stack's file and the member's row in it: a
sweep killed outright (no Ctrl-C) leaves each member resumable, its last.ckpt cut from
the stack's file when it resumes (``restore_member_checkpoint``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from trainlab.errors import Diverged
from trainlab.files.checkpoints import load_checkpoint, save_atomically
from trainlab.files.rundir import RunDir
from trainlab.training.members import Record

STACKED = "stacked"  # the checkpoint key that marks a stacked run's checkpoint
IN_STACK = "in_stack.json"  # in a training member's checkpoints/: where its state is


def write_in_stack(run_dir: Path, stack_dir: Path, m: int) -> None:
    """Note in ``run_dir`` that its state is member ``m``'s of the stack whose last.ckpt goes
    to ``stack_dir`` while it trains."""
    out = RunDir(run_dir)
    out.checkpoints.mkdir(parents=True, exist_ok=True)
    RunDir(out.checkpoints).write_json(IN_STACK, {"stack_dir": str(stack_dir), "member": m})


def stack_file(stack_dir: Path, m: int) -> tuple[Path, int] | None:
    """(the file holding member ``m`` of the stack in ``stack_dir``, its row there), or None
    when none was written. A stack cut to fit its device keeps its pieces in
    ``members-<first>-<last>/`` below its own directory."""
    if (stack_dir / "last.ckpt").is_file():
        return stack_dir / "last.ckpt", m
    for piece in stack_dir.glob("members-*-*"):
        first, last = (int(n) for n in piece.name.split("-")[1:])
        if first <= m <= last:
            return stack_file(piece, m - first)
    return None


def restore_member_checkpoint(run_dir: Path) -> bool:
    """Write ``run_dir``'s last.ckpt from its stack's file, if the member was killed while its
    stack trained (``in_stack.json`` there, the stack's file written); return whether it did."""
    out = RunDir(run_dir)
    note = RunDir(out.checkpoints).read_json(IN_STACK)
    found = None if note is None else stack_file(Path(note["stack_dir"]), int(note["member"]))
    if found is None or out.last_checkpoint.is_file():
        return False
    save_atomically(member_checkpoint(load_checkpoint(found[0]), found[1], {}), out.last_checkpoint)
    return True


def record_state(record: Record) -> dict[str, Any]:
    """``record`` as plain data (its rules come from the config, not from here)."""
    diverged = record.diverged
    return {
        "history": record.history,
        "best_epoch": record.best_epoch,
        "best_score": record.best_score,
        "stopped_by": record.stopped_by,
        "diverged": None if diverged is None else [diverged.epoch, diverged.step, diverged.loss, diverged.lr],
        "early_best": record._early_best,
        "wait": record._wait,
    }


def load_record(record: Record, state: dict[str, Any]) -> None:
    """Put ``state`` (from ``record_state``) back into ``record``."""
    record.history = [dict(row) for row in state["history"]]
    record.best_epoch, record.best_score = state["best_epoch"], state["best_score"]
    record.stopped_by = state["stopped_by"]
    record.diverged = None if state["diverged"] is None else Diverged(*state["diverged"])
    record._early_best, record._wait = state["early_best"], state["wait"]


def lone_names(names: list[str]) -> list[str]:
    """The lone network's parameter names, in ``flatten_``'s order (every W, then every b)."""
    return [f"{name}.W" for name in names] + [f"{name}.b" for name in names]


def stacked_names(n_layers: int) -> list[str]:
    """``StackedNetwork``'s parameter names in the module's state_dict, in the same order."""
    return [f"net.W.{i}" for i in range(n_layers)] + [f"net.b.{i}" for i in range(n_layers)]


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
    state = stack[STACKED]
    names = state["names"]
    weights = [stack["state_dict"][key][m].clone() for key in stacked_names(len(names))]
    member_state = {
        "names": names,
        "size": state["size"],
        "optimizer": _slice(state["optimizer"], m),
        "best": _slice(state["best"], m),
        "records": [state["records"][m]],
    }
    history = state["records"][m]["history"]
    return {
        **{k: v for k, v in stack.items() if k not in ("state_dict", STACKED, "callbacks", "optimizer_states")},
        "state_dict": {f"model.{k}": v for k, v in zip(lone_names(names), weights, strict=True)},
        "optimizer_states": [],
        "history": json.dumps(history),
        "trainlab": json.dumps(extra),
        STACKED: member_state,
    }


def to_stacked_state_dict(checkpoint: dict[str, Any]) -> None:
    """A member checkpoint's lone-form weights (``model.layers.0.W`` ...) as a stack of one's
    (``net.W.0`` [1, ...]), in place; a whole stack's checkpoint is left as it is."""
    state = checkpoint["state_dict"]
    names = checkpoint[STACKED]["names"]
    if not all(f"model.{key}" in state for key in lone_names(names)):
        return
    lone = [state[f"model.{key}"] for key in lone_names(names)]
    checkpoint["state_dict"] = {k: v.unsqueeze(0) for k, v in zip(stacked_names(len(names)), lone, strict=True)}
