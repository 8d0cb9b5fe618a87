"""How a job finds its Optuna trial, in whatever process or machine the launcher runs it.

When the search starts, the sweeper adds one Hydra override to the sweep's own (those every
job is composed with): ``++hydra.job.env_set.TRAINLAB_OPTUNA_TRIAL='<json>'``, whose JSON
names the storage URL, the study, the pruner with its arguments, and the trial's number as
``${hydra.job.num}``: the sweeper numbers each job by its trial (``trainlab.search.loop``).
Hydra's ``run_job`` sets that environment variable while the job runs (basic launcher: in
the sweep's process; joblib, submitit: in the worker) and restores it after; the job's
pruning callback (``trainlab.training.callbacks.pruning``) opens the study from the storage and
reports to the trial. A ``hydra.*`` override: not in a job's overrides.yaml, nor in the
launcher's log of each job, nor in the sweep's tables.

The stacked launcher (``hydra/launcher=stacked``) trains a batch's jobs in one process before
Hydra runs any of them, so no job's environment holds its link while it trains: the launcher
reads each job's link from its config (``of_config``) and names it for the job's task config
while the stacks train (``members``); the stack's pruning callback asks ``member_trial`` for
each member's (``trainlab.training.callbacks.pruning.StackPruning``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

ENV = "TRAINLAB_OPTUNA_TRIAL"
_NUMBER = "${hydra.job.num}"
_STUDIES: dict[tuple[str, str, str], Any] = {}  # studies this process opened, by (storage, study, pruner)
_MEMBERS: dict[int, tuple[Any, TrialLink]] = {}  # while stacks train: id(task config) -> (it, its trial)


@dataclass(frozen=True)
class StudyLink:
    storage: str
    study: str
    pruner: str = "MedianPruner"
    pruner_args: dict[str, Any] = field(default_factory=dict)

    def override(self) -> str:
        """The sweep's override that sets ``ENV`` in each job (Hydra's quoted string: only a
        quote and a backslash are escaped in it; the job number is resolved in each job)."""
        text = json.dumps({**asdict(self), "number": -1}, sort_keys=True)
        quoted = text.replace("\\", "\\\\").replace("'", "\\'").replace('"number": -1', f'"number": {_NUMBER}')
        return f"++hydra.job.env_set.{ENV}='{quoted}'"


@dataclass(frozen=True)
class TrialLink(StudyLink):
    number: int = -1

    def trial(self) -> Any:
        """The running ``optuna.trial.Trial`` (its study with this link's pruner)."""
        import optuna

        study = open_study(self.storage, self.study, self.pruner, self.pruner_args)
        frozen = next(t for t in study.get_trials(deepcopy=False) if t.number == self.number)
        from trainlab.internals import optuna_trial_id

        return optuna.trial.Trial(study, optuna_trial_id(frozen))


def current() -> TrialLink | None:
    """This job's trial, when an Optuna sweep launched it (``ENV`` set), else None."""
    return _parsed(os.environ.get(ENV))


def of_config(config: Any) -> TrialLink | None:
    """The trial of the job whose full Hydra config (with its ``hydra`` node, ``hydra.job.num``
    set) is ``config``, when an Optuna sweep launched it, else None: what ``ENV`` will hold
    while Hydra runs that job."""
    env_set = config.hydra.job.get("env_set") or {}
    return _parsed(str(env_set[ENV])) if ENV in env_set else None


def _parsed(text: str | None) -> TrialLink | None:
    return TrialLink(**json.loads(text)) if text else None


@contextmanager
def members(task_cfgs: Sequence[Any], links: Sequence[TrialLink | None]) -> Iterator[None]:
    """While the block runs, ``member_trial(task_cfgs[i])`` is ``links[i]`` (the very config
    objects: a stack's members are the launcher's task configs, not copies)."""
    named = {id(cfg): (cfg, link) for cfg, link in zip(task_cfgs, links, strict=True) if link is not None}
    _MEMBERS.update(named)
    try:
        yield
    finally:
        for key in named:
            _MEMBERS.pop(key, None)


def member_trial(task_cfg: Any) -> TrialLink | None:
    """The trial of the stack member whose task config is ``task_cfg`` (see ``members``), or None."""
    found = _MEMBERS.get(id(task_cfg))
    return found[1] if found is not None and found[0] is task_cfg else None


def open_study(storage: str, study_name: str, pruner: str, pruner_args: dict[str, Any], study: Any = None) -> Any:
    """The study, once per process (the sweep's own where a job runs in its process);
    ``study`` given: remember it as this process's."""
    key = (storage, study_name, json.dumps([pruner, pruner_args], sort_keys=True))
    if study is not None:
        _STUDIES[key] = study
    if key not in _STUDIES:
        import optuna

        from trainlab.search.settings import make_pruner, open_storage

        pruning = make_pruner(pruner, pruner_args)
        _STUDIES[key] = optuna.load_study(study_name=study_name, storage=open_storage(storage), pruner=pruning)
    return _STUDIES[key]
