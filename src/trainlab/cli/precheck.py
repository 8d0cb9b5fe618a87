"""The command line's pre-check: every job's config composed and checked before Hydra starts."""

from __future__ import annotations

from trainlab.cli.places import check_resume_place, check_writable, output_root
from trainlab.config.composing import compose
from trainlab.config.jobs import check_jobs, compose_each, sweep_jobs
from trainlab.config.launch import launched_rank
from trainlab.config.validate import validate


def check_before_training(overrides: list[str], multirun: bool) -> None:
    """Compose and check the run's config, or each sweep job's, before Hydra makes a
    directory; raise one ConfigError naming every job that cannot run. (The run checks again
    what only the data can tell: ``trainlab.lifecycle.checked_run``.) A search (an Optuna
    sweeper) checks its jobs at its space's ends; another sweeper's syntax is its own."""
    places = launched_rank() == 0  # Lightning's ranks run this command again, into rank 0's checked dir
    if not multirun:
        cfg = compose(overrides)[0]
        if places:
            resumed = check_resume_place(cfg)
            check_writable(*(("resume", resumed) if resumed is not None else output_root(overrides, multirun)))
        validate(cfg)
        return
    if places:
        check_writable(*output_root(overrides, multirun))
    if any(o.lstrip("+~").startswith("hydra/sweeper") for o in overrides):
        from trainlab.search.checks import check_search

        check_search(overrides)
        return
    jobs = sweep_jobs(overrides)
    check_jobs(compose_each(jobs), jobs, stacked="hydra/launcher=stacked" in overrides)
