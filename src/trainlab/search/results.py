"""What a search leaves in the sweep dir, besides the sweep's own tables (``trainlab.sweeps.tables``):

- ``<job dir>/trial.json``: the job's trial: number, state (complete, pruned, failed),
  value and params, as the sweeper told the study, and a failed one's reason (``trainlab.sweeps.tables`` adds trial and
  state columns from it);
- ``optuna.csv``: the study's trials (``study.trials_dataframe()``: every worker's);
- ``best_trial.json``: the study's best trial and the ``python train.py ...`` command that
  reruns it, which the sweep's table prints under it (``best_lines``).
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

TRIAL_FILE = "trial.json"
BEST_FILE = "best_trial.json"
TRIALS_CSV = "optuna.csv"


def write_trial(
    job_dir: Path, number: int, state: str, value: float | None, params: dict[str, Any], reason: str | None = None
) -> None:
    from trainlab.files.rundir import RunDir

    record = {"trial": number, "state": state, "value": value, "params": params}
    RunDir(job_dir).write_json(TRIAL_FILE, record | ({"reason": reason} if reason else {}))


def read_trial(job_dir: Path) -> dict[str, Any] | None:
    path = job_dir / TRIAL_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def pruned_refusal(summary: dict[str, Any]) -> str:
    """Why ``resume=`` does not continue a pruned trial's run (its summary.json): its study
    stopped it, and going on would train it as a plain run the study never sees."""
    trial, epoch = summary.get("trial"), summary.get("epoch")
    return (
        f"that run is Optuna trial {trial}, pruned at epoch {epoch} by its study's pruner; there is nothing "
        "to resume (to train it in full, run its overrides without resume=)"
    )


def rerun_command(overrides: list[str]) -> str:
    return " ".join(["python train.py", *(shlex.quote(o) for o in overrides)])


def as_trial(overrides: list[str], number: int) -> list[str]:
    """``overrides`` as trial ``number``'s job read them, for a lone run (which has no job
    number): ``${hydra:job.num}``, as typed or in Hydra's escaped form, is the trial's number
    (its job's: a batch's jobs are numbered by their trials, ``search.loop``)."""
    forms = ("${hydra:job.num}", "$\\{hydra\\:job.num\\}")
    for form in forms:
        overrides = [o.replace(form, str(number)) for o in overrides]
    return overrides


def write_study(sweep_dir: Path, study: Any, overrides_of: Any, monitor: str, storage: str) -> dict[str, Any] | None:
    """optuna.csv, and best_trial.json (None when no trial completed). ``overrides_of(params)``:
    a trial's overrides."""
    from trainlab.files.atomic import write_csv
    from trainlab.files.rundir import RunDir

    out = RunDir(sweep_dir)
    frame = study.trials_dataframe()
    if len(frame):
        write_csv(sweep_dir / TRIALS_CSV, frame)
    try:
        best = study.best_trial
    except ValueError:  # no trial completed
        return None
    record = {
        "trial": best.number,
        "value": best.value,
        "monitor": monitor,
        "params": best.params,
        "command": rerun_command(as_trial(overrides_of(best.params), best.number)),
        "study": study.study_name,
        "storage": storage,
    }
    out.write_json(BEST_FILE, record)
    return record


def best_lines(sweep_dir: Path) -> list[tuple[str, str, bool]]:
    """The lines the sweep's table ends with after a search, as (label, text, whether the text
    is a command): the best trial, the command that reruns it, and optuna-dashboard on the
    storage; none for other sweeps. The table lays them out to the terminal's width."""
    path = sweep_dir / BEST_FILE
    if not path.is_file():
        return []
    best = json.loads(path.read_text())
    storage = str(best["storage"]).removeprefix("journal:")  # optuna-dashboard opens a journal file by its path
    return [
        ("best trial", f"{best['trial']} ({best['monitor']} {best['value']:.4g}) of study {best['study']}", False),
        ("rerun it", best["command"], True),
        ("dashboard", f"optuna-dashboard {shlex.quote(storage)}", True),
    ]
