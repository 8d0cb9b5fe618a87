"""``python train.py -m hydra/sweeper=optuna 'optimizer.lr=tag(log,interval(1e-4,1e-1))' ...``

An Optuna search as a Hydra sweeper: the sweep grammar's ``interval``, ``range`` and
``choice`` are the search space (``trainlab.search.space``), the other overrides are every
trial's. Trials are asked ``n_jobs`` at a time and handed to the launcher (basic, joblib,
stacked) as one batch of jobs; each job's result is told to the study, which lives in
``storage`` (default: optuna.db in the sweep dir). Each job reports its monitored value every
epoch and the ``pruner`` stops it (a lone trial, or with ``hydra/launcher=stacked`` a member of
its batch's stack: ``trainlab.training.callbacks.pruning``). Each running trial has a heartbeat, and a
trial whose worker was killed is failed by the others (``trainlab.search.heartbeat``); a
failed trial carries its job's error. The logic is in ``trainlab.search``;
this module is Hydra's glue. (No ``from __future__ import annotations``: Hydra executes
plugin modules outside ``sys.modules``, where dataclasses cannot resolve string annotations.)
"""

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, read_write

log = logging.getLogger(__name__)


@dataclass
class OptunaSweeperConf:
    _target_: str = "hydra_plugins.trainlab_optuna_sweeper.optuna_sweeper.OptunaSweeper"
    n_trials: int = 20  # trials in the study (all workers' together): trainlab.search.loop
    n_jobs: int = 1  # trials asked at once, launched as one batch
    sampler: str = "TPESampler"  # an Optuna sampler's class name (tpe, random, cmaes, ...)
    sampler_args: Any = None  # a dict: the sampler's keyword arguments, e.g. {n_startup_trials: 5}
    seed: int | None = "${seed}"  # type: ignore[assignment]  # the sampler's seed; null: random
    pruner: str | None = "MedianPruner"  # an Optuna pruner's class name, or none
    pruner_args: Any = None  # a dict: the pruner's keyword arguments
    storage: str | None = None  # null: sqlite:///<sweep dir>/optuna.db; a URL; journal:<file>
    study_name: str | None = None  # null: the sweep dir's path
    params: Any = None  # a dict, key -> sweep text (as Hydra's optuna sweeper takes it)
    # how often a worker records that its running trials live; another worker fails a trial
    # whose heartbeat is 3x this old (or whose process on the same machine is gone): trainlab.search.heartbeat
    heartbeat_seconds: float = 30.0


ConfigStore.instance().store(group="hydra/sweeper", name="optuna", node=OptunaSweeperConf, provider="trainlab")


class OptunaSweeper(Sweeper):
    def __init__(self, **settings: Any) -> None:
        self.settings = settings
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.launcher: Any = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        from hydra.core.plugins import Plugins

        self.config, self.hydra_context = config, hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> Any:
        from rich.console import Console
        from rich.markup import escape

        from trainlab.errors import ConfigError

        try:
            return self._sweep(arguments)
        except ConfigError as error:  # as the command line's pre-check says it: one line, exit 2
            Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
            sys.exit(2)

    def _sweep(self, arguments: list[str]) -> int:
        from trainlab.errors import ConfigError
        from trainlab.search import loop
        from trainlab.search.heartbeat import HEARTBEAT_SECONDS
        from trainlab.search.link import StudyLink
        from trainlab.search.results import write_study
        from trainlab.search.settings import (
            check_settings,
            make_sampler,
            pruner_name,
            shown_url,
            storage_url,
        )
        from trainlab.search.space import search_space

        assert self.config is not None
        values = {k: OmegaConf.to_container(v) if isinstance(v, DictConfig) else v for k, v in self.settings.items()}
        check_settings(values)
        space = search_space(arguments, values.get("params"))
        if not space.dimensions:
            raise ConfigError(
                "hydra/sweeper=optuna: nothing to search; "
                "give a dimension, e.g. 'optimizer.lr=tag(log,interval(1e-4,1e-1))'"
            )
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        url = storage_url(values.get("storage"), sweep_dir)
        name = values.get("study_name") or str(self.config.hydra.sweep.dir)
        seed, pruner = values.get("seed"), pruner_name(values.get("pruner", "MedianPruner"))
        pruner_args = values.get("pruner_args") or {}
        study = self._study(values, url, name, pruner, pruner_args)
        with read_write(self.config.hydra.overrides):  # every job's: how it finds its trial (search.link)
            self.config.hydra.overrides.hydra.append(StudyLink(url, name, pruner, pruner_args).override())

        def reseed(first: int) -> None:
            if seed is not None:
                study.sampler = make_sampler(
                    values.get("sampler", "TPESampler"), values.get("sampler_args"), seed + first
                )

        search = loop.Search(
            study=study,
            space=space,
            n_trials=int(values.get("n_trials", 20)),
            n_jobs=int(values.get("n_jobs", 1)),
            reseed=reseed,
            heartbeat_seconds=float(values.get("heartbeat_seconds", HEARTBEAT_SECONDS)),
        )
        log.info("Optuna study %s in %s: %d trials, %d at a time", name, shown_url(url), search.n_trials, search.n_jobs)
        ran = loop.run(search, self._launch, lambda: _rewrite_tables(sweep_dir))
        write_study(sweep_dir, study, space.overrides, str(self.config.get("monitor")), shown_url(url))
        return ran

    def _study(self, values: dict[str, Any], url: str, name: str, pruner: str, pruner_args: dict[str, Any]) -> Any:
        """The study on ``url`` (created, or joined), in the direction ``mode`` says; jobs in this
        process report to it."""
        import optuna

        from trainlab.errors import ConfigError
        from trainlab.search.link import open_study
        from trainlab.search.settings import make_pruner, make_sampler, shown_url
        from trainlab.search.study import create_or_load

        assert self.config is not None
        sampler = make_sampler(values.get("sampler", "TPESampler"), values.get("sampler_args"), values.get("seed"))
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # the sweep logs each trial itself
        direction = "maximize" if self.config.get("mode") == "max" else "minimize"
        study = create_or_load(url, name, sampler, make_pruner(pruner, pruner_args), direction)
        if study.direction.name.lower() != direction:
            aim = study.direction.name.lower()
            raise ConfigError(f"mode={self.config.get('mode')}: the study {name} in {shown_url(url)} is to {aim}")
        open_study(url, name, pruner, pruner_args, study=study)
        return study

    def _launch(self, batch: list[list[str]], first: int) -> Sequence[Any]:
        from trainlab.search.loop import Ended

        assert self.launcher is not None
        returns = self.launcher.launch(batch, initial_job_idx=first)
        return [Ended(r.status == JobStatus.FAILED, _value(r), _job_dir(r)) for r in returns]


def _rewrite_tables(sweep_dir: Path) -> None:
    """summary.csv and summary.md with the trials' states (the jobs wrote them without)."""
    from trainlab.sweeps.tables import job_rows, write_tables

    rows = job_rows(sweep_dir)
    if rows:
        write_tables(sweep_dir, rows)


def _value(job: JobReturn) -> Any:
    return job.return_value if job.status == JobStatus.COMPLETED else None


def _job_dir(job: JobReturn) -> Path | None:
    try:
        return Path(str(job.hydra_cfg.hydra.runtime.output_dir))  # type: ignore[union-attr]
    except Exception:  # a launcher that returned no Hydra config
        return None
