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
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

ENV = "TRAINLAB_OPTUNA_TRIAL"
_NUMBER = "${hydra.job.num}"
_STUDIES: dict[tuple[str, str, str], Any] = {}  # studies this process opened, by (storage, study, pruner)


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
    text = os.environ.get(ENV)
    if not text:
        return None
    return TrialLink(**json.loads(text))


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
