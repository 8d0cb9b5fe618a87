"""Which jobs of a sweep can train together, as one stacked model (torch-free).

Jobs share a stack when their composed configs agree on every key outside ``VARYING``:
the values in ``VARYING`` change neither a tensor's shape nor the kind of computation, so
one stacked model can hold a different value per job. A ``VARYING`` key must still be
present (and not None) in all of a stack's jobs or in none: ``regularization=[weight_decay]``
against ``regularization=[]`` selects a different computation, not a different value.
This module imports neither torch nor Lightning: it runs before any heavy import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig

from trainlab.config.flatten import flatten
from trainlab.config.plain import plain

VARYING: tuple[str, ...] = (
    "seed",
    "data.seed",
    "data.noise",
    "trainer.max_epochs",
    "optimizer.lr",
    "optimizer.momentum",
    "optimizer.dampening",
    "optimizer.betas",
    "optimizer.eps",
    "optimizer.weight_decay",
    "optimizer.alpha",
    "optimizer.rho",
    "optimizer.lr_decay",
    "optimizer.initial_accumulator_value",
    "regularization.dropout.p",
    "regularization.early_stopping.patience",
    "regularization.early_stopping.min_delta",
    "regularization.weight_decay",
)
_MISSING = object()  # a key a job's config does not have


@dataclass
class Stack:
    """Jobs trained together: ``jobs`` index the configs given to ``group_jobs``, in order;
    ``varying``: the ``VARYING`` keys whose values differ among them, sorted."""

    jobs: list[int]
    cfgs: list[DictConfig]
    varying: list[str]


@dataclass
class Grouping:
    """The stacks, in order of each one's first job, and the sorted dotted keys that split them:
    those outside ``VARYING`` whose values differ between stacks, and those in ``VARYING``
    present in some stacks only (unless a listed key above them, or their node's ``_target_``,
    already says why). A cut by ``max_stack`` adds no key."""

    stacks: list[Stack]
    split_by: list[str]
    max_stack: int | None = None

    def describe(self) -> str:
        """One line for the log, e.g. ``64 jobs in 2 stacks (of 32, 32); split by model.hidden``."""
        sizes = [len(s.jobs) for s in self.stacks]
        if not sizes:
            return "no jobs"
        n, jobs = sum(sizes), _plural(sum(sizes), "job")
        split = f"; split by {', '.join(self.split_by)}" if self.split_by else ""
        if n > 1 and self.split_by and max(sizes) == 1 and self.max_stack != 1:
            return f"{jobs} share nothing, trained as {n} stacks of one{split}"
        if len(sizes) == 1:
            return f"{jobs} in 1 stack of {n}{split}"
        shown = ", ".join(map(str, sizes[:12])) + (", ..." if len(sizes) > 12 else "")
        return f"{jobs} in {_plural(len(sizes), 'stack')} (of {shown}){split}"


def group_jobs(cfgs: Sequence[DictConfig], max_stack: int | None = None) -> Grouping:
    """Jobs whose configs agree on every key outside ``VARYING`` (and on which ``VARYING`` keys
    they set) share a stack. Configs are compared resolved and flattened to dotted keys (lists
    are values); a key one job has and another lacks differs. Stacks come in order of their
    first job, jobs in job order; a stack over ``max_stack`` jobs (None: no cap) is cut into
    consecutive pieces of at most ``max_stack``."""
    if max_stack is not None and max_stack < 1:
        raise ValueError(f"max_stack must be at least 1, got {max_stack}")
    flats = [flatten(plain(cfg)) for cfg in cfgs]
    groups: dict[frozenset, list[int]] = {}
    for i, flat in enumerate(flats):
        signature = frozenset((k, v is None if k in VARYING else _freeze(v)) for k, v in flat.items())
        groups.setdefault(signature, []).append(i)
    firsts = [flats[jobs[0]] for jobs in groups.values()]
    differing = _differing(firsts)
    fixed = {k for k in differing if k not in VARYING}
    present = {k for k in VARYING if len({k in f and f[k] is not None for f in firsts}) > 1}
    split_by = fixed | {k for k in present if not _explained(k, fixed)}
    step = max_stack or max(len(cfgs), 1)
    pieces = [jobs[i : i + step] for jobs in groups.values() for i in range(0, len(jobs), step)]
    stacks = [Stack(piece, [cfgs[j] for j in piece], _varying([flats[j] for j in piece])) for piece in pieces]
    return Grouping(stacks, sorted(split_by), max_stack)


def _varying(flats: Sequence[dict[str, Any]]) -> list[str]:
    return sorted(k for k in _differing(flats) if k in VARYING)


def _freeze(value: Any) -> Any:
    """A hashable stand-in for a config value (lists and dicts as tuples)."""
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    return value


def _differing(flats: Sequence[dict[str, Any]]) -> set[str]:
    keys = set().union(*flats) if flats else set()
    return {k for k in keys if len({_freeze(f.get(k, _MISSING)) for f in flats}) > 1}


def _explained(key: str, fixed: set[str]) -> bool:
    """Whether a listed key above ``key``, or its node's differing ``_target_``, explains it."""
    parts = key.split(".")
    above = {".".join(parts[:i]) for i in range(1, len(parts))}
    return bool(above & fixed) or ".".join([*parts[:-1], "_target_"]) in fixed


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
