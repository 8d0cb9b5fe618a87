"""The command line's pre-check: the launcher and sweeper named, and every job's config
composed and checked, before Hydra starts."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence

from trainlab.cli.hydra_values import job_hydra
from trainlab.cli.places import check_resume_place, check_writable, output_root
from trainlab.config.composing import compose
from trainlab.config.jobs import check_jobs, compose_each, sweep_jobs
from trainlab.config.launch import launched_rank
from trainlab.config.validate import validate
from trainlab.errors import ConfigError
from trainlab.sweeps.collector import fewer_collections

PLUGIN_GROUPS = ("hydra/launcher", "hydra/sweeper")  # Hydra's groups a user names (README: "Scaling out")


def check_before_training(overrides: list[str], multirun: bool) -> None:
    """Compose and check the run's config, or each sweep job's, before Hydra makes a
    directory; raise one ConfigError naming every job that cannot run. (The run checks again
    what only the data can tell: ``trainlab.lifecycle.checked_run``.) A search (an Optuna
    sweeper) checks its jobs at its space's ends; another sweeper's syntax is its own."""
    check_plugins(overrides)
    with job_hydra(overrides, multirun) as at_job:  # ${hydra:...} read as each job will read it
        _check(overrides, multirun, at_job)


def _check(overrides: list[str], multirun: bool, at_job: Callable[[int], None] | None) -> None:
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
    with fewer_collections():  # values that differ by job number (at_job) are resolved as each job is checked
        cfgs = compose_each(jobs, keep_plain=at_job is None)
        check_jobs(cfgs, jobs, stacked="hydra/launcher=stacked" in overrides, at_job=at_job)


def check_plugins(overrides: Sequence[str]) -> None:
    """One ConfigError for a ``hydra/launcher=`` or ``hydra/sweeper=`` override naming an option
    this install cannot run, naming the override, the closest option and every allowed one
    (those ``--help`` lists: ``trainlab.cli.usage.plugin_options``). Hydra would refuse it in its
    own words once per job, without a closest match. A package missing for a known option is
    ``trainlab.cli.extras``' to say."""
    from trainlab.cli.usage import plugin_options

    for override in overrides:
        group, equals, option = override.lstrip("+").partition("=")
        if override.startswith("~") or not equals or group not in PLUGIN_GROUPS:
            continue
        allowed = plugin_options(group)
        if option not in allowed:
            close = difflib.get_close_matches(option, allowed, n=1, cutoff=0.6)
            guess = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"{group}={option}: {group} has no option {option}; {guess}allowed: {', '.join(allowed)}")
