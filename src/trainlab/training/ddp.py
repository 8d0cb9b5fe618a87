"""Lightning's DDP as trainlab runs it: the process group's timeout, and a rank that stops.

``strategy`` hands the Trainer a ``TrainlabDDP`` wherever Lightning would run its DDP
(``trainer.strategy=ddp``, or ``auto`` with several devices or nodes):

- **The process group's timeout** is ``distributed.timeout`` (seconds; Lightning's default
  is 30 minutes): how long a rank waits for the others in a collective step, the ranks'
  meeting at the start included. gloo honours it; a rank whose process ended is noticed at
  once, since its connections close (measured on the CPU: about 20 ms).
- **Every collective step** of the strategy (barrier, broadcast, reduce, all-gather, the
  meeting) raises ``CollectiveFailed`` when it cannot communicate, as trainlab's own
  all-reduces do (``trainlab.training.distributed``). ``rank_failure`` then says which rank
  stopped: each rank's machine and process id are gathered at the start (``Peers``), so a
  survivor sees which process on its machine has ended.
- **Lightning's child-process observer is stopped** once the ranks have met
  (``trainlab.internals.stop_watching_children``): it would SIGKILL rank 0 within 5 s of a
  child's death, before rank 0 could record it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
import zlib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.strategies import DDPStrategy

from trainlab.internals import stop_watching_children
from trainlab.training.distributed import CollectiveFailed, collective


class TrainlabDDP(DDPStrategy):
    """Lightning's ``DDPStrategy`` (its subprocess launcher, gloo on the CPU, NCCL on CUDA)
    with ``timeout_seconds`` as the process group's timeout and its collective steps' failures
    as ``CollectiveFailed`` (see the module doc)."""

    def __init__(self, timeout_seconds: float, **kwargs: Any) -> None:
        super().__init__(timeout=timedelta(seconds=timeout_seconds), start_method="popen", **kwargs)
        self.timeout_seconds = timeout_seconds
        self.peers: Peers | None = None

    def setup_distributed(self) -> None:
        with collective():
            super().setup_distributed()
        stop_watching_children()
        if self.peers is None:
            self.peers = Peers.gather(self.global_rank, self.world_size, self.root_device)

    def barrier(self, *args: Any, **kwargs: Any) -> None:
        with collective():
            super().barrier(*args, **kwargs)

    def broadcast(self, obj: Any, src: int = 0) -> Any:
        with collective():
            return super().broadcast(obj, src)

    def reduce(self, *args: Any, **kwargs: Any) -> Any:
        with collective():
            return super().reduce(*args, **kwargs)

    def all_gather(self, *args: Any, **kwargs: Any) -> Any:
        with collective():
            return super().all_gather(*args, **kwargs)


def strategy(trainer_args: dict[str, Any], timeout_seconds: float) -> Any:
    """``trainer.strategy`` as the Trainer takes it: a ``TrainlabDDP`` where Lightning would
    run its DDP (``ddp``; ``auto`` with several devices or nodes, outside an interactive
    session, where Lightning forks instead), else the name given."""
    name = trainer_args.get("strategy", "auto")
    interactive = bool(getattr(sys, "ps1", None) or sys.flags.interactive)
    if name == "ddp" or (name == "auto" and not interactive and _processes(trainer_args) > 1):
        return TrainlabDDP(timeout_seconds)
    return name


def _processes(trainer_args: dict[str, Any]) -> int:
    """The processes Lightning starts for these Trainer arguments: devices (``auto``: every
    visible CUDA device where the accelerator may be CUDA, else one) times nodes."""
    devices = trainer_args.get("devices", 1)
    if devices == "auto":
        from lightning.pytorch.accelerators import CUDAAccelerator

        cuda = trainer_args.get("accelerator", "auto") in ("auto", "gpu", "cuda") and CUDAAccelerator.is_available()
        devices = CUDAAccelerator.auto_device_count() if cuda else 1
    count = len(devices) if isinstance(devices, list | tuple) else int(devices)
    return count * int(trainer_args.get("num_nodes", 1) or 1)


@dataclass(frozen=True)
class Peers:
    """Every rank's machine (a hash of its host name) and process id, by global rank, as
    ``rank`` sees them: which of them has ended is what a survivor can tell."""

    rank: int
    hosts: list[int]
    pids: list[int]

    @staticmethod
    def gather(rank: int, world_size: int, device: Any) -> Peers:
        """Each rank's machine and process id (one all-gather, every rank alike)."""
        import torch.distributed as dist

        mine = torch.tensor([_host(), os.getpid()], dtype=torch.int64, device=device)
        every = [torch.zeros_like(mine) for _ in range(world_size)]
        with collective():
            dist.all_gather(every, mine)
        rows = [t.tolist() for t in every]
        return Peers(rank, [r[0] for r in rows], [r[1] for r in rows])

    def ended(self, wait: float = 2.0) -> list[int]:
        """The other ranks on this machine whose process has ended, looked at for up to
        ``wait`` seconds while none is seen ended (a killed process closes its connections a
        moment before it is gone). Ranks on other machines are never named."""
        deadline = time.monotonic() + wait
        here = _host()
        while True:
            others = [r for r in range(len(self.pids)) if r != self.rank and self.hosts[r] == here]
            gone = [r for r in others if not _alive(self.pids[r])]
            if gone or time.monotonic() >= deadline:
                return gone
            time.sleep(0.05)


def _host() -> int:
    return zlib.crc32(socket.gethostname().encode())


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, ended but not yet reaped by its parent, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X", "x")
    except FileNotFoundError:
        return False
    except (OSError, IndexError):  # no /proc here
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


@dataclass(frozen=True)
class RankFailure:
    """Which rank stopped a run, in words (``what``), the ranks named, whether global rank 0
    (the run's writer) is among those whose process ended, and the timeout the ranks waited."""

    what: str
    ranks: list[int]
    rank_zero_ended: bool
    timeout: float


def rank_failure(failed: CollectiveFailed, strategy: Any) -> RankFailure:
    """What ``failed`` (a collective step that failed on this rank) says about the other
    ranks: those whose process ended on this machine (``Peers.ended``); else, after a timeout,
    that a rank did not answer; else that one stopped. With two ranks the other is named."""
    timeout = float(getattr(strategy, "timeout_seconds", 1800.0))
    rank, world = int(strategy.global_rank), int(strategy.world_size)
    peers = getattr(strategy, "peers", None)
    ended = peers.ended() if peers is not None else []
    other = [r for r in range(world) if r != rank] if world == 2 else []
    if ended:
        process = "its process" if len(ended) == 1 else "their processes"
        what, ranks = f"{_ranks(ended)} stopped ({process} ended)", ended
    elif failed.timed_out:
        who = _ranks(other) if other else "a rank"
        what, ranks = f"{who} did not answer within distributed.timeout={timeout:g}s", other
    else:
        what, ranks = f"{_ranks(other) if other else 'another rank'} stopped", other
    return RankFailure(what, ranks, 0 in ended, timeout)


def _ranks(ranks: list[int]) -> str:
    return f"rank {ranks[0]}" if len(ranks) == 1 else f"ranks {', '.join(map(str, ranks))}"


def leave_process_group() -> None:
    """Destroy the default process group after a failed collective step: the process then
    exits with the code trainlab gives (gloo's threads, left waiting, abort it otherwise)."""
    import torch.distributed as dist

    with contextlib.suppress(Exception):
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
