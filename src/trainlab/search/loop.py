"""The search's loop: ask a batch of trials, launch them as jobs, tell the study how each ended.

``n_trials`` is the size of the study, not of this process's share: before each batch the
process counts the study's trials that hold a place (``heartbeat.counts``: finished ones,
failed ones included, and running ones, whoever asked them) and asks at most ``n_jobs``
more, up to ``n_trials``. Several processes or machines on one storage and study name thus
run ``n_trials`` trials between them, each trial (number) once. A trial runs only while
fewer than ``n_trials`` counted trials precede it: two processes that ask at one instant for
the study's last place both get a trial, and the later one is not run but told FAIL with a
``trainlab`` user attribute saying so (it does not count). A study that already holds
``n_trials`` (a rerun of the same command) asks nothing: raise n_trials to go on.

A worker killed mid-trial tells nothing: before each batch, and while it waits, every worker
fails the trials whose worker is lost (``trainlab.search.heartbeat``: gone from this
machine, or no heartbeat for ``3 x heartbeat_seconds``); such a trial does not count, so
another takes its place. A worker with nothing left to ask waits (polling every
``WAIT_SECONDS``) until the other workers' running trials end or are lost, so the study ends
with ``n_trials`` finished trials as long as one worker lives. Ctrl-C, or a launcher that
crashes, fails this process's running trials (not counted) and stops it.

Jobs are numbered by their trials: job ``k``'s directory is the trial ``k``'s, so a job dir,
its row in summary.csv and the dashboard's trial share one number.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainlab.search.heartbeat import (
    HEARTBEAT_SECONDS,
    REASON,
    STALE_BEATS,
    Heartbeat,
    Worker,
    counts,
    fail_lost,
    fail_uncounted,
    pending,
)
from trainlab.search.results import write_trial
from trainlab.search.space import Space, suggest

log = logging.getLogger(__name__)

WAIT_SECONDS = 2.0  # how often a worker with nothing to ask looks at the others' trials


@dataclass
class Ended:
    """How a launched job ended, as the launcher returned it: ``failed`` (it raised), its
    return value (the monitored metric, or None), and its directory."""

    failed: bool
    value: Any
    job_dir: Path | None


@dataclass
class Search:
    study: Any
    space: Space
    n_trials: int
    n_jobs: int
    reseed: Callable[[int], None]  # the sampler seeded for a process whose first trial has that number
    heartbeat_seconds: float = HEARTBEAT_SECONDS

    @property
    def stale_after(self) -> float:
        """Seconds without a heartbeat after which another worker's trial is lost."""
        return STALE_BEATS * self.heartbeat_seconds


def state_of(ended: Ended) -> tuple[str, float | None, str | None]:
    """(complete | pruned | failed, the value to tell, why it failed): a pruned job's
    summary.json says ``pruned``; a job that raised, diverged or has no finite monitored
    value failed, its reason the summary's ``error`` where the job wrote one."""
    from trainlab.files.rundir import RunDir

    summary: dict[str, Any] = {}
    if ended.job_dir is not None:
        try:
            summary = RunDir(ended.job_dir).read_json(RunDir.SUMMARY) or {}
        except (OSError, ValueError):  # a half-written or unreadable file: the job failed
            summary = {}
    error = summary.get("error")
    if ended.failed:
        return "failed", None, str(error) if error else "the job raised (its train.log says why)"
    if summary.get("status") == "pruned":
        return "pruned", None, None
    value = ended.value
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return "complete", float(value), None
    if error:
        return "failed", None, str(error)
    status = summary.get("status")
    return "failed", None, f"no finite monitored value (the run {status})" if status else "no monitored value"


Launch = Callable[[list[list[str]], int], Sequence[Ended]]  # (a batch's overrides, its first job's number)


def run(search: Search, launch: Launch, after_batch: Callable[[], None]) -> int:
    """Ask, launch and tell until the study holds ``n_trials`` counted trials and no other
    worker's trial runs, calling ``after_batch`` once each batch is told (the sweeper
    rewrites the sweep's tables there, with the trials' states); the number of trials this
    process ran."""
    study, ran, first, me = search.study, 0, True, Worker.this()
    waiting: list[int] = []
    while True:
        fail_lost(study, search.stale_after, me)
        room = search.n_trials - sum(counts(t) for t in study.get_trials(deepcopy=False))
        if room <= 0:
            waiting = _wait_for_others(search, me, waiting)
            if not waiting:
                return ran
            continue
        asked: list[Any] = []
        try:
            asked.extend(study.ask() for _ in range(min(search.n_jobs, room)))
            trials = _places(study, asked, search.n_trials)
            if not trials:
                continue  # another process took the last places: count again
            if first and trials[0].number > 0:  # joined a study: draw other values than its other workers
                search.reseed(trials[0].number)
            first = False
            with Heartbeat(trials, search.heartbeat_seconds, me):
                ran += _launch_and_tell(search, trials, launch)
        except BaseException as error:  # Ctrl-C, a launcher's crash: no trial stays RUNNING
            _fail_running(study, asked, f"not finished: {me} stopped ({_why(error)})")
            raise
        after_batch()


def _wait_for_others(search: Search, me: Worker, waiting: list[int]) -> list[int]:
    """With every place asked: the numbers of other workers' trials that may still end
    (``heartbeat.pending``), after a pause of ``WAIT_SECONDS``; none when the study is done.
    ``waiting``: the last call's, so that each set of trials is logged once."""
    now = time.time()
    others = [t.number for t in search.study.get_trials(deepcopy=False) if pending(t, search.stale_after, me, now)]
    if others and others != waiting:
        log.info("all %d trials asked; waiting for other workers' trial(s) %s", search.n_trials, _numbers(others))
    if others:
        time.sleep(WAIT_SECONDS)
    return others


def _launch_and_tell(search: Search, trials: list[Any], launch: Launch) -> int:
    """Launch ``trials`` (each run of consecutive numbers as one batch) and tell each; how many."""
    params = [{d.name: suggest(t, d) for d in search.space.dimensions} for t in trials]
    told = 0
    for start, stop in _consecutive([t.number for t in trials]):
        batch = [search.space.overrides(p) for p in params[start:stop]]
        endings = launch(batch, trials[start].number)
        for trial, param, ended in zip(trials[start:stop], params[start:stop], endings, strict=True):
            _tell(search.study, trial, param, ended, search.space)
            told += 1
    return told


def _places(study: Any, asked: list[Any], n_trials: int) -> list[Any]:
    """The asked trials that hold one of the study's places (fewer than ``n_trials`` counted
    trials before them); the others, asked at the instant another process took the last
    places, are told FAIL, not counted."""
    stored = study.get_trials(deepcopy=False)
    kept = []
    for trial in asked:
        before = sum(counts(t) for t in stored[: trial.number])
        if before < n_trials:
            kept.append(trial)
            continue
        fail_uncounted(study, stored[trial.number], f"not run: the study had n_trials={n_trials} trials already")
    return kept


def _fail_running(study: Any, trials: list[Any], reason: str) -> None:
    """Tell FAIL (not counted, with ``reason``) each of ``trials`` still RUNNING."""
    from optuna.trial import TrialState

    stored = study.get_trials(deepcopy=False)
    for trial in trials:
        if stored[trial.number].state == TrialState.RUNNING:
            fail_uncounted(study, stored[trial.number], reason)


def _why(error: BaseException) -> str:
    """How a worker stopped: Ctrl-C (trainlab's exit 130, or the interrupt itself), or the error."""
    if isinstance(error, KeyboardInterrupt | SystemExit):
        return "interrupted" if not isinstance(error, SystemExit) or error.code in (130, None) else f"exit {error.code}"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _numbers(numbers: list[int]) -> str:
    return ", ".join(map(str, numbers)) if len(numbers) <= 8 else f"{', '.join(map(str, numbers[:8]))}, ..."


def _consecutive(numbers: list[int]) -> list[tuple[int, int]]:
    """Index ranges [start, stop) of ``numbers`` that run on by one (each launched as one
    batch, its jobs numbered from its first trial's number)."""
    runs, start = [], 0
    for i in range(1, len(numbers) + 1):
        if i == len(numbers) or numbers[i] != numbers[i - 1] + 1:
            runs.append((start, i))
            start = i
    return runs


def _tell(study: Any, trial: Any, params: dict[str, Any], ended: Ended, space: Space) -> None:
    """Tell the study how the trial's job ended (a failed one with its reason, ``trainlab``),
    and write the job's trial.json. A trial another worker failed meanwhile (it took this
    worker for lost) keeps that state: the job's result stays in its directory."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    state, value, reason = state_of(ended)
    shown = " ".join(space.overrides(params)[len(space.fixed) :])
    expected = {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED, "failed": TrialState.FAIL}[state]
    try:
        if reason is not None:
            trial.set_user_attr(REASON, reason)
        kept = study.tell(trial, value, state=expected, skip_if_finished=True).state == expected
    except UpdateFinishedTrialError:
        kept = False
    if not kept:
        log.warning("trial %d: ended %s, but another worker had failed it as lost (%s)", trial.number, state, shown)
    if ended.job_dir is not None and ended.job_dir.is_dir():
        write_trial(ended.job_dir, trial.number, state, value, params, reason)
    outcome = f"{state} {value:.4g}" if value is not None else state
    log.info("trial %d: %s%s (%s)", trial.number, outcome, f": {reason}" if reason else "", shown)
