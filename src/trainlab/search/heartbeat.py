"""Which running trials still have a worker: each trial's heartbeat, and lost trials failed.

A worker (a sweep process: ``python train.py -m hydra/sweeper=optuna ...``) asks a trial,
launches its job and tells the study how it ended. Killed mid-trial, it tells nothing: the
trial would stay RUNNING for ever and hold one of the study's ``n_trials`` places. Optuna's
own heartbeat (``RDBStorage(heartbeat_interval=...)``, ``fail_stale_trials``) serves
``study.optimize`` on an RDB storage only; trainlab asks and tells, on any storage, so it
keeps its own, in each trial's user attributes (shown by optuna-dashboard and optuna.csv;
tested with a worker SIGKILLed on SQLite, PostgreSQL and a journal file):

- ``trainlab:worker``: ``{"host", "pid", "pid_ns"}``, the sweep process that asked the trial
  and will tell it (whichever launcher runs the job: in that process, joblib's workers,
  submitit's nodes);
- ``trainlab:heartbeat``: when that process last said it was alive (Unix seconds): as it asks
  the trial, then every ``heartbeat_seconds`` while the trial's job runs (``Heartbeat``, a
  thread of the sweep process).

Before a worker asks for trials, and while it waits for other workers' last trials, it fails
each other worker's RUNNING trial that is lost (``fail_lost``):

- its worker runs on this machine (same host name and process namespace) and its process is
  gone (or a zombie): at once;
- wherever its worker runs, its heartbeat is older than ``STALE_BEATS x heartbeat_seconds``
  (so clocks that disagree by more than that would fail live trials).

A lost trial is told FAIL with the user attributes ``trainlab`` (the reason, e.g. ``lost:
worker pid 1234 on host gpu3 stopped (no heartbeat for 95 s)``) and ``trainlab:counted``
false: it does not count toward ``n_trials`` (``counts``), so another trial takes its place.
A RUNNING trial without ``trainlab:worker`` (asked by another tool, or in the moment between
``ask`` and the first heartbeat) is never failed here.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

WORKER = "trainlab:worker"
HEARTBEAT = "trainlab:heartbeat"
REASON = "trainlab"  # why trainlab failed a trial (lost, not run, what the job raised)
COUNTED = "trainlab:counted"  # False on a FAIL that does not count toward n_trials
HEARTBEAT_SECONDS = 30.0  # hydra.sweeper.heartbeat_seconds' default
STALE_BEATS = 3  # heartbeats missed before a trial is lost: 90 s by default


@dataclass(frozen=True)
class Worker:
    """A sweep process: its host name, pid and pid namespace (Linux: containers on one host
    may share a host name and reuse pids; None where there is no /proc)."""

    host: str
    pid: int
    pid_ns: int | None = None

    @classmethod
    def this(cls) -> Worker:
        return cls(socket.gethostname(), os.getpid(), _pid_namespace())

    @classmethod
    def of(cls, trial: Any) -> Worker | None:
        """The worker a trial's ``trainlab:worker`` names, or None."""
        attr = trial.user_attrs.get(WORKER)
        if not isinstance(attr, dict) or not isinstance(attr.get("pid"), int):
            return None
        return cls(str(attr.get("host")), attr["pid"], attr.get("pid_ns"))

    def gone(self) -> bool:
        """True when this worker runs on this machine and its process has ended (a zombie
        counts as ended); False when it runs, or runs elsewhere (its heartbeat tells)."""
        if os.name != "posix" or (self.host, self.pid_ns) != (socket.gethostname(), _pid_namespace()):
            return False  # (on Windows os.kill(pid, 0) would stop the process)
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # another user's process: it runs
            return False
        return _zombie(self.pid)

    def __str__(self) -> str:
        return f"worker pid {self.pid} on host {self.host}"


def _pid_namespace() -> int | None:
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return None


def _zombie(pid: int) -> bool:
    """A process that ended and waits for its parent to read its exit status (Linux)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]


def counts(trial: Any) -> bool:
    """Whether a trial holds one of the study's ``n_trials`` places: every trial but a
    waiting one (asked next) and a FAIL that trainlab marked ``trainlab:counted`` false (its
    worker was lost or stopped, or it was never run). A trial that failed on its own (it
    raised, diverged, or had no value) counts, as a finished one."""
    from optuna.trial import TrialState

    if trial.state == TrialState.WAITING:
        return False
    return not (trial.state == TrialState.FAIL and trial.user_attrs.get(COUNTED) is False)


def last_sign(trial: Any) -> float | None:
    """When the trial's worker last said it was alive (Unix seconds): its heartbeat, else
    when it was asked; None when neither is known."""
    beat = trial.user_attrs.get(HEARTBEAT)
    if isinstance(beat, int | float):
        return float(beat)
    return trial.datetime_start.timestamp() if trial.datetime_start is not None else None


def lost_reason(trial: Any, stale_after: float, me: Worker, now: float) -> str | None:
    """Why a RUNNING trial is lost (see the module doc), or None while its worker lives, is
    this process, or cannot be judged (no ``trainlab:worker``)."""
    worker = Worker.of(trial)
    if worker is None or worker == me:
        return None
    last = last_sign(trial)
    age = None if last is None else max(0.0, now - last)
    if worker.gone():
        since = "" if age is None else f"; last heartbeat {age:.0f} s before"
        return f"lost: {worker} stopped (its process is gone{since})"
    if age is not None and age > stale_after:
        return f"lost: {worker} stopped (no heartbeat for {age:.0f} s)"
    return None


def fail_lost(
    study: Any, stale_after: float, me: Worker | None = None, now: float | None = None
) -> list[tuple[int, str]]:
    """Tell FAIL each RUNNING trial whose worker is lost (judged at ``now``, Unix seconds: the
    clock's by default), with its reason and ``trainlab:counted`` false; the (number, reason)
    of each. Two workers failing one trial at once, or its worker telling it meanwhile, is
    harmless: the first tell stands."""
    from optuna.trial import TrialState

    me = me or Worker.this()
    now, failed = (time.time() if now is None else now), []
    for frozen in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        reason = lost_reason(frozen, stale_after, me, now)
        if reason is None:
            continue
        if not fail_uncounted(study, frozen, reason):
            continue
        log.warning("trial %d: failed: %s", frozen.number, reason)
        failed.append((frozen.number, reason))
    return failed


def fail_uncounted(study: Any, frozen: Any, reason: str) -> bool:
    """Tell a RUNNING trial (a ``FrozenTrial``) FAIL with the user attributes ``trainlab``
    (``reason``) and ``trainlab:counted`` false: it does not count toward ``n_trials``.
    False when it was told meanwhile (by its worker, or another one)."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    try:
        trial = _trial(study, frozen)
        trial.set_user_attr(REASON, reason)
        trial.set_user_attr(COUNTED, False)
        told = study.tell(frozen.number, state=TrialState.FAIL, skip_if_finished=True)
    except UpdateFinishedTrialError:
        return False
    return told.state == TrialState.FAIL and told.user_attrs.get(COUNTED) is False


def pending(trial: Any, stale_after: float, me: Worker, now: float) -> bool:
    """Whether a RUNNING trial of another worker may still end (its worker beats, or it was
    asked a moment ago): one worth waiting for before the study is done."""
    from optuna.trial import TrialState

    if trial.state != TrialState.RUNNING or Worker.of(trial) == me:
        return False
    last = last_sign(trial)
    if Worker.of(trial) is None:  # not trainlab's (or not yet beating): only while it is new
        return last is not None and now - last <= stale_after
    return True  # it ends, or fail_lost fails it when its heartbeat goes stale


def _trial(study: Any, frozen: Any) -> Any:
    """An ``optuna.trial.Trial`` for a stored trial, to set its attributes."""
    import optuna

    from trainlab.internals import optuna_trial_id

    return optuna.trial.Trial(study, optuna_trial_id(frozen))


class Heartbeat:
    """``with Heartbeat(study, trials, seconds):`` records ``trainlab:worker`` and
    ``trainlab:heartbeat`` on each of ``trials`` (``optuna.trial.Trial``) at once, then the
    heartbeat every ``seconds`` from a daemon thread until the block ends. A trial told
    meanwhile is dropped; a storage error is logged once and the beats go on."""

    def __init__(self, trials: Sequence[Any], seconds: float, worker: Worker | None = None) -> None:
        self.trials, self.seconds = list(trials), float(seconds)
        self.worker = worker or Worker.this()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="trainlab-heartbeat", daemon=True)
        self._warned = False

    def __enter__(self) -> Heartbeat:
        for trial in self.trials:
            trial.set_user_attr(WORKER, asdict(self.worker))
        self.beat()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def beat(self) -> None:
        from optuna.exceptions import UpdateFinishedTrialError

        now = time.time()
        for trial in list(self.trials):
            try:
                trial.set_user_attr(HEARTBEAT, now)
            except UpdateFinishedTrialError:  # told, or failed by another worker
                self.trials.remove(trial)
            except Exception as error:  # a busy or unreachable storage: try at the next beat
                if not self._warned:
                    log.warning("trial %d: heartbeat not recorded (%s: %s)", trial.number, type(error).__name__, error)
                    self._warned = True

    def _run(self) -> None:
        while self.trials and not self._stop.wait(self.seconds):
            self.beat()
