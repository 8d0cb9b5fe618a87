"""The command line's pre-check of a search (``trainlab.cli.precheck``), before Hydra starts.

A grid sweep composes every job; a search cannot (its values come one trial at a time), so
it composes two: every dimension at its low end (first choice), and at its high end (last
choice). A typo in a key, an unknown option or a value out of range at an end gives
trainlab's one-line error, exit 2, before any trial; so do an unknown ``hydra.sweeper`` key,
sampler or pruner name. (``hydra.sweeper.params`` from a config file is checked when the
sweeper starts.)
"""

from __future__ import annotations

from collections.abc import Sequence

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

from trainlab.config.plain import named_keys, reads_hydra
from trainlab.errors import ConfigError

SWEEPER = "hydra/sweeper=optuna"


def check_search(overrides: Sequence[str]) -> None:
    """ConfigError when the search's settings, or one of its jobs at the space's ends, cannot run."""
    if not any(o.lstrip("+") == SWEEPER for o in overrides):
        return  # another sweeper's syntax: it expands its own jobs
    from trainlab.config.jobs import compose_jobs
    from trainlab.config.validate import validate
    from trainlab.search.settings import check_settings
    from trainlab.search.space import search_space

    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as error:
        raise ConfigError(f"cannot read the override: {str(error).strip().splitlines()[0]}") from None
    settings: dict = {}
    for override in parsed:
        key = override.key_or_group
        if key == "hydra.sweeper.params":
            settings["params"] = override.value()
        elif key.startswith("hydra.sweeper.params."):
            settings.setdefault("params", {})[key.removeprefix("hydra.sweeper.params.")] = override.get_value_string()
        elif key.startswith("hydra.sweeper."):
            settings[key.removeprefix("hydra.sweeper.")] = override.value()
    check_settings(settings)
    task = [o.input_line for o in parsed if not o.is_hydra_override()]
    space = search_space(task, settings.get("params"))
    if not space.dimensions:
        raise ConfigError(
            f"{SWEEPER}: nothing to search; give a dimension, e.g. 'optimizer.lr=tag(log,interval(1e-4,1e-1))'"
        )
    jobs = space.probe_jobs()
    stacked = "hydra/launcher=stacked" in overrides
    composed = compose_jobs(jobs)  # ConfigError: a key, group or option that is not there
    if "seed" not in settings:
        _check_sampler_seed(composed[0][0])
    for (cfg, _), job in zip(composed, jobs, strict=True):
        try:
            validate(cfg)
            if stacked:
                from trainlab.config.stackable import check_stackable

                check_stackable(cfg)
        except ConfigError as error:
            ends = " ".join(job[len(space.fixed) :])
            raise ConfigError(f"{error} (the search's job at {ends})") from None


def _check_sampler_seed(cfg: DictConfig) -> None:
    """ConfigError where the sampler's seed (``hydra.sweeper.seed`` unset: ``${seed}``) leads to
    ``${hydra:...}`` (``seed`` in ``cfg``, a job's config, or a value it names): Hydra makes the
    sweeper before any job, when that has no value."""
    values = OmegaConf.to_container(cfg, resolve=False)
    links = named_keys(values, "seed") if isinstance(values, dict) else []
    if links and reads_hydra(str(links[-1][1])):
        path = [f"{key}={value}" for key, value in links]
        raise ConfigError(
            f"{', '.join(path)}: the search's sampler takes its seed from seed (hydra.sweeper.seed is ${{seed}}) "
            "before any job runs, when ${hydra:...} has no value; give the sampler its own, e.g. hydra.sweeper.seed=0"
        )
