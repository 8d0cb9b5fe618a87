"""The search's loop: ask a batch of trials, launch them as jobs, tell the study how each ended.

``n_trials`` is the size of the study, not of this process's share: before each batch the
process counts the study's trials (every state, running ones included, whoever asked them)
and asks at most ``n_jobs`` more, up to ``n_trials`` (Optuna's MaxTrialsCallback counted
over all states). Several processes or machines on one storage and study name thus run
``n_trials`` trials between them, each trial (number) once. Two processes that ask at the
same instant for the study's last place both get a trial; the one numbered ``n_trials`` or
more is not run but told FAIL with a ``trainlab`` user attribute saying so. A study that
already holds ``n_trials`` (a rerun of the same command) asks nothing: raise n_trials to go
on. A worker killed mid-trial leaves that trial RUNNING in the study, where it still counts.

Jobs are numbered by their trials: job ``k``'s directory is the trial ``k``'s, so a job dir,
its row in summary.csv and the dashboard's trial share one number.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainlab.search.results import write_trial
from trainlab.search.space import Space, suggest

log = logging.getLogger(__name__)


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


def state_of(ended: Ended) -> tuple[str, float | None]:
    """(complete | pruned | failed, the value to tell): a pruned job's summary.json says
    ``pruned``; a job that raised, diverged or has no finite monitored value failed."""
    from trainlab.files.rundir import RunDir

    if ended.failed:
        return "failed", None
    if ended.job_dir is not None:
        summary = RunDir(ended.job_dir).read_json(RunDir.SUMMARY) or {}
        if summary.get("status") == "pruned":
            return "pruned", None
    value = ended.value
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return "complete", float(value)
    return "failed", None


def run(
    search: Search, launch: Callable[[list[list[str]], int], Sequence[Ended]], after_batch: Callable[[], None]
) -> int:
    """Ask, launch and tell until the study holds ``n_trials`` trials, calling ``after_batch``
    once each batch is told (the sweeper rewrites the sweep's tables there, with the trials'
    states); the number of trials this process ran."""
    from optuna.trial import TrialState

    study, ran, first = search.study, 0, True
    while True:
        room = search.n_trials - len(study.get_trials(deepcopy=False))
        if room <= 0:
            break
        asked = [study.ask() for _ in range(min(search.n_jobs, room))]
        for trial in asked:
            if trial.number >= search.n_trials:  # another process took the last place meanwhile
                trial.set_user_attr("trainlab", f"not run: the study had n_trials={search.n_trials} trials already")
                study.tell(trial, state=TrialState.FAIL)
        trials = [t for t in asked if t.number < search.n_trials]
        if not trials:
            break
        if first and trials[0].number > 0:  # joined a study: draw other values than its other workers
            search.reseed(trials[0].number)
        first = False
        try:
            params = [{d.name: suggest(t, d) for d in search.space.dimensions} for t in trials]
            for start, stop in _consecutive([t.number for t in trials]):
                batch = [search.space.overrides(p) for p in params[start:stop]]
                endings = launch(batch, trials[start].number)
                for trial, param, ended in zip(trials[start:stop], params[start:stop], endings, strict=True):
                    _tell(study, trial, param, ended, search.space)
                    ran += 1
        except BaseException:  # Ctrl-C, a launcher's crash: no trial stays RUNNING
            for trial in trials:
                if study.get_trials(deepcopy=False)[trial.number].state == TrialState.RUNNING:
                    study.tell(trial, state=TrialState.FAIL)
            raise
        after_batch()
    return ran


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
    from optuna.trial import TrialState

    state, value = state_of(ended)
    if state == "complete":
        study.tell(trial, value)
    else:
        study.tell(trial, state=TrialState.PRUNED if state == "pruned" else TrialState.FAIL)
    if ended.job_dir is not None and ended.job_dir.is_dir():
        write_trial(ended.job_dir, trial.number, state, value, params)
    shown = f"{value:.4g}" if value is not None else ""
    log.info("trial %d: %s %s (%s)", trial.number, state, shown, " ".join(space.overrides(params)[len(space.fixed) :]))
