"""``resume=<run dir>`` of a stack member interrupted by Ctrl-C: it continues alone.

Its last.ckpt holds its share of the stack's training state (``trainlab.training.stack.member_checkpoint``):
weights, optimizer state, best weights, record, epoch counters and random state. It trains on
as a stack of one from there, in its own run directory, which ends as the sweep would have
left it. Each member's arithmetic is its own, so the numbers are those the stack would have
given (dropout aside: in a stack, masks for all members come from one random stream).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from trainlab.config.stackable import check_stackable
from trainlab.errors import Interrupted
from trainlab.files.rundir import RunDir
from trainlab.lifecycle.member import StackInterrupted
from trainlab.lifecycle.member_dir import write_member
from trainlab.lifecycle.result import RunResult
from trainlab.lifecycle.stack import train_stack
from trainlab.lifecycle.summary import print_summary


def resume_member(
    cfg: DictConfig, run_dir: Path, choices: dict[str, str], checkpoint: Path, overrides: list[str], console: Any
) -> RunResult:
    """Continue the member in ``run_dir`` from ``checkpoint``; write its run directory as a
    finished member's and return its result, or, on Ctrl-C again, write it as interrupted and
    raise ``Interrupted``."""
    out = RunDir(run_dir)
    check_stackable(cfg, resuming=True)
    try:
        member = train_stack([cfg], out.checkpoints, resume_from=checkpoint)[0]
    except StackInterrupted as stop:
        member = stop.members[0]
        write_member(member, run_dir, choices, overrides)
        assert member.interrupted is not None
        done, kept = member.interrupted
        raise Interrupted(done, kept, run_dir, out.last_checkpoint).at(member.record.history, run_dir, kept) from None
    result = write_member(member, run_dir, choices, overrides)
    print_summary(out.read_json(out.SUMMARY), console)
    return result
