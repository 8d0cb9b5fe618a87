"""What trainlab adds to a Lightning checkpoint, for one model and a stack alike, and the older
forms of it that it still reads.

Beside Lightning's state (weights, optimizer, loops, callbacks):

- ``"trainlab"``: what a checkpoint needs to predict (the model spec, the preprocessing, the
  loss, the id column), as JSON text: plain data, one string copied at once at every save;
- ``"members"``: each member's record (``Record.state_dict``: history, best epoch, early
  stopping's count, how it stopped) and every member's best weights ``[M, P]``;
- ``"stacked"`` (a stack only): the layers' names, the stack's size and its optimizer's state;
- ``"history"`` (one model): its history as JSON text, as before;
- ``"rng"``: the random state dropout draws from, so a resumed run draws the same masks.

Older checkpoints (before one module served both widths) are read too (``upgrade``): one
model's kept its best epoch and early stopping's count in its callbacks' states and its best
weights in best.ckpt only; a stack's kept its records and best weights under ``"stacked"``,
its weights as ``net.W.<i>``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from trainlab.files.checkpoints import load_checkpoint, restore_rng, rng_state
from trainlab.training.callbacks.best_checkpoint import BestCheckpoint
from trainlab.training.records import EARLY_STOPPING, Record

log = logging.getLogger(__name__)

EXTRA, MEMBERS, STACKED, HISTORY, RNG = "trainlab", "members", "stacked", "history", "rng"


def save(
    checkpoint: dict[str, Any],
    records: Sequence[Record],
    best: torch.Tensor | None,
    steps: dict[str, Any],
    extra: dict[str, Any],
    histories: bool = True,
) -> None:
    """Add trainlab's part to ``checkpoint`` (see the module doc). Without ``histories`` the
    records' histories are left out (None), for ``add_histories`` to put in later: a history
    is only ever appended to, so its first rows are those of the time of the save."""
    checkpoint[EXTRA] = json.dumps(extra)
    if histories and len(records) == 1:
        checkpoint[HISTORY] = json.dumps(records[0].history)
    states = [record.state_dict() for record in records]
    checkpoint[MEMBERS] = {
        "records": states if histories else [{**state, "history": None} for state in states],
        "best": None if best is None else best.detach().clone(),
    }
    if steps:
        checkpoint[STACKED] = steps
    checkpoint[RNG] = rng_state()


def add_histories(checkpoint: dict[str, Any], records: Sequence[Record], rows: Sequence[int]) -> None:
    """Put into ``checkpoint`` (saved without its histories) each record's first ``rows``
    rows: its history at the time of that save."""
    states = checkpoint[MEMBERS]["records"]
    for state, record, n in zip(states, records, rows, strict=True):
        state["history"] = [dict(row) for row in record.history[:n]]
    if len(records) == 1:
        checkpoint[HISTORY] = json.dumps(states[0]["history"])


@dataclass
class Loaded:
    """What a checkpoint gives back beside the records: the best weights (None in an older one
    checkpoint of one model, whose ``best_file`` reads them from best.ckpt) and the unit's state."""

    best: torch.Tensor | None
    best_file: Callable[[], torch.Tensor | None] | None
    steps: dict[str, Any]


def load(checkpoint: dict[str, Any], records: Sequence[Record], model: nn.Module, trainer: Any) -> Loaded:
    """Put the records back from ``checkpoint`` (any form, see the module doc), and its random
    state; the rest for the module."""
    upgrade(checkpoint)
    names = [f"model.{name}" for name, _ in model.named_parameters()]
    if STACKED in checkpoint and not all(name in checkpoint["state_dict"] for name in names):
        checkpoint["state_dict"] = _stacked_names(checkpoint["state_dict"], checkpoint[STACKED]["names"])
    state = checkpoint[MEMBERS]
    if len(state["records"]) != len(records):
        raise ValueError(f"a checkpoint of {len(state['records'])} members for a module of {len(records)}")
    epochs_run = checkpoint["epoch"] + 1 if "epoch" in checkpoint else None  # Lightning's loop: epochs finished
    for record, saved in zip(records, state["records"], strict=True):
        record.load_state_dict(saved, epochs_run)
    restore_rng(checkpoint[RNG])
    best_file = None
    if state["best"] is None and records[0].best_epoch is not None:
        epoch = records[0].best_epoch
        best_file = lambda: _from_best_file(trainer, epoch, model)  # noqa: E731
    return Loaded(state["best"], best_file, checkpoint.get(STACKED) or {})


def holds_weights_only(checkpoint: dict[str, Any]) -> bool:
    """Whether ``checkpoint`` is a finished stack member's best.ckpt or last.ckpt: its weights
    (to predict), not a training state to resume."""
    return STACKED in checkpoint and MEMBERS not in checkpoint and "records" not in checkpoint[STACKED]


def upgrade(checkpoint: dict[str, Any]) -> None:
    """An older checkpoint in this form, in place (see the module doc)."""
    if MEMBERS not in checkpoint:
        if STACKED in checkpoint:
            stacked = checkpoint[STACKED]
            checkpoint[MEMBERS] = {"records": stacked.pop("records"), "best": stacked.pop("best")}
        else:
            checkpoint[MEMBERS] = {"records": [_lone_record(checkpoint)], "best": None}
    weights = checkpoint["state_dict"]
    if any(key.startswith("net.") for key in weights):  # a whole stack's, as the stack module named them
        checkpoint["state_dict"] = {f"model.{key.removeprefix('net.')}": v for key, v in weights.items()}


def _lone_record(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """One model's record from an older checkpoint: its history, and the states of the callbacks
    that kept its best epoch (RestoreBestWeights), early stopping's count (EarlyStopping) and
    whether early stopping had ended it (LastCheckpoint); those callbacks' states are dropped
    (Lightning would ask for the callbacks back)."""
    callbacks = checkpoint.get("callbacks", {})

    def state(prefix: str, pop: bool = True) -> dict[str, Any]:
        key = next((k for k in callbacks if k.startswith(prefix)), None)
        return {} if key is None else (callbacks.pop(key) if pop else callbacks[key])

    best, early = state("RestoreBestWeights"), state("EarlyStopping")
    state("ModelCheckpoint")  # best.ckpt's writer then: BestCheckpoint now, which keeps no state
    stopped = state("LastCheckpoint", pop=False).get("stopped", False)
    early_best = float(early["best_score"]) if "best_score" in early else None
    return {
        "history": json.loads(checkpoint.get(HISTORY, "[]")),
        "best_epoch": best.get("best_epoch"),
        "best_score": best.get("best_score"),
        "stopped_by": EARLY_STOPPING if stopped else None,
        "diverged": None,
        "early_best": early_best if early_best is not None and abs(early_best) != float("inf") else None,
        "wait": early.get("wait_count", 0),
    }


def _stacked_names(weights: dict[str, torch.Tensor], layers: list[str]) -> dict[str, torch.Tensor]:
    """One member's weights under one network's names (``model.layers.0.W``: what a member's
    last.ckpt holds, and ``Predictor`` reads) as a stack of one's (``model.W.0`` [1, ...])."""
    lone = [*(f"model.{name}.W" for name in layers), *(f"model.{name}.b" for name in layers)]
    stacked = [*(f"model.W.{i}" for i in range(len(layers))), *(f"model.b.{i}" for i in range(len(layers)))]
    return {new: weights[old].unsqueeze(0) for old, new in zip(lone, stacked, strict=True)}


def _from_best_file(trainer: Any, best_epoch: int, model: nn.Module) -> torch.Tensor | None:
    """One model's best weights [1, P] from the run's best.ckpt (``BestCheckpoint``'s file,
    where the run is now); None when that file holds another epoch (written after the
    last.ckpt the run resumed from) or is not there."""
    found = next((c for c in trainer.checkpoint_callbacks if isinstance(c, BestCheckpoint)), None)
    if found is None or not found.file.is_file():
        return None
    checkpoint = load_checkpoint(found.file)
    if checkpoint["epoch"] + 1 != best_epoch:
        log.warning(
            "%s holds epoch %d, not the best epoch %s that the resumed run recorded; keeping the final weights",
            found.file,
            checkpoint["epoch"] + 1,
            best_epoch,
        )
        return None
    weights = checkpoint["state_dict"]
    return torch.cat([weights[f"model.{name}"].reshape(1, -1) for name, _ in model.named_parameters()], dim=1)
