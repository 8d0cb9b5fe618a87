"""The command line's pre-check: every job's config composed and checked before Hydra starts."""

from __future__ import annotations

from trainlab.config.composing import compose
from trainlab.config.jobs import check_jobs, compose_each, sweep_jobs
from trainlab.config.validate import validate


def check_before_training(overrides: list[str], multirun: bool) -> None:
    """Compose and check the run's config, or each sweep job's, before Hydra makes a
    directory; raise one ConfigError naming every job that cannot run. (The run checks again
    what only the data can tell: ``trainlab.lifecycle.checked_run``.) A search (an Optuna
    sweeper) checks its jobs at its space's ends; another sweeper's syntax is its own."""
    if multirun and any(o.lstrip("+~").startswith("hydra/sweeper") for o in overrides):
        from trainlab.search.checks import check_search

        check_search(overrides)
        return
    if not multirun:
        validate(compose(overrides)[0])
        return
    jobs = sweep_jobs(overrides)
    check_jobs(compose_each(jobs), jobs, stacked="hydra/launcher=stacked" in overrides)
