"""Composing the config from overrides, with Hydra's refusals said in trainlab's words.

``compose`` is what ``run()`` and the command line's pre-check use: Hydra and the schema
only (no torch), so a typo answers in about a second. An unknown option, group or key
becomes one ``ConfigError`` naming what was typed, the closest valid name and the valid
choices; ``sweep_jobs`` expands a ``-m`` command line into its jobs' override lists, and
``compose_jobs`` composes many jobs at once.
"""

from __future__ import annotations

import difflib
import itertools
import pickle
from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException, ValidationError

from trainlab.errors import ConfigError


def config_dir() -> Path:
    """The directory of trainlab's Hydra configs (shipped inside the package)."""
    return Path(str(resources.files("trainlab") / "conf"))


@cache
def group_options() -> dict[str, list[str]]:
    """Each config group (a folder of conf/) and its options (the YAML files in it), sorted."""
    root = config_dir()
    return {
        d.name: sorted(p.relative_to(d).with_suffix("").as_posix() for p in d.rglob("*.yaml"))  # course/depth too
        for d in sorted(root.iterdir())
        if d.is_dir() and not d.name.startswith(("_", ".")) and d.name != "hydra"  # hydra/: Hydra's groups
    }


def compose(overrides: Sequence[str] = ()) -> tuple[DictConfig, dict[str, str]]:
    """The composed config for ``overrides`` (as train.py takes them) and each group's
    choice. ``ConfigError`` for an unknown group, option or key, or an override Hydra
    cannot parse."""
    try:
        return _compose(list(overrides))
    except HydraException as error:
        raise ConfigError(explain(list(overrides), error)) from None


def _compose(overrides: list[str]) -> tuple[DictConfig, dict[str, str]]:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from trainlab.config.launch import register_resolvers
    from trainlab.config.schema import register as register_schemas

    register_resolvers()
    register_schemas()
    if GlobalHydra.instance().is_initialized():  # inside train.py's Hydra app (a resume recomposes)
        cfg = hydra_compose("train", overrides=overrides, return_hydra_config=True)
    else:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3", job_name="train"):
            cfg = hydra_compose("train", overrides=overrides, return_hydra_config=True)
    choices = dict(cfg.hydra.runtime.choices)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg, choices


def explain(overrides: list[str], error: Exception) -> str:
    """Hydra's refusal of ``overrides`` as one line naming the override and what is allowed."""
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except HydraException as parse_error:
        return f"cannot read the override: {_first_line(parse_error)}"
    cause = error.__cause__
    full_key = getattr(cause, "full_key", None)
    if full_key and isinstance(cause, ValidationError):  # a value of the wrong type
        base = full_key.split("[")[0]  # model.hidden[0]: the override of model.hidden
        typed = next((o.input_line for o in parsed if o.key_or_group == base), full_key)
        return f"{typed}: {_type_words(_first_line(cause))}"
    groups = group_options()
    choices = [o for o in parsed if "." not in o.key_or_group and o.key_or_group in groups]
    for override in choices:  # an unknown option of a known group
        values = list(override.sweep_string_iterator()) if override.is_sweep_override() else [override.value()]
        for value in values:
            names = value if isinstance(value, list) else [value]
            for name in names:
                group = override.key_or_group
                if name is not None and str(name) not in groups[group]:
                    return _unknown(f"{group}={name}", str(name), groups[group], f"{group} has no option {name}")
    try:  # the config as the group choices make it: is the key there?
        cfg, chosen = _compose([o.input_line for o in choices if not o.is_sweep_override()])
    except HydraException:
        return _first_line(error)
    for override in parsed:
        key = override.key_or_group
        if key.startswith("hydra") or override.is_add() or override.is_delete() or key in groups:
            continue
        missing = _missing_key(cfg, key)
        if missing is not None:
            node_path, name, keys = missing
            keys = [k for k in keys if not k.startswith("_")]  # _target_, _partial_: Hydra's
            owner = f"{node_path}={chosen[node_path]}" if node_path in chosen else node_path
            where = f"{owner} has no key {name}" if node_path else f"there is no group or key {name}"
            return _unknown(override.input_line, name, keys, where)
    return _first_line(error)


def _type_words(message: str) -> str:
    """OmegaConf's type refusal, in a student's words."""
    for needle, words in (("to Integer", "an integer"), ("to Float", "a number"), ("valid bool", "true or false")):
        if needle in message:
            value = message.split("'")[1] if message.count("'") >= 2 else "the value"
            return f"{value!r} is not {words}"
    return message


def _missing_key(cfg: DictConfig, dotted: str) -> tuple[str, str, list[str]] | None:
    """(the path to the deepest node that exists, the first missing key, that node's keys)."""
    node, path = cfg, []
    for part in dotted.split("."):
        if not isinstance(node, DictConfig):
            return None
        if part not in node:
            return ".".join(path), part, [str(k) for k in node]
        node, path = node[part], [*path, part]
    return None


def _unknown(typed: str, name: str, allowed: list[str], where: str) -> str:
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    guess = f"did you mean {close[0]}? " if close else ""
    return f"{typed}: {where}; {guess}allowed: {', '.join(allowed)}"


def sweep_jobs(overrides: Sequence[str]) -> list[list[str]]:
    """The override list of each job of a grid sweep, in Hydra's basic sweeper's order (every
    combination of the swept values, the last override varying fastest)."""
    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as error:
        raise ConfigError(f"cannot read the override: {_first_line(error)}") from None
    values = [
        [f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()] if o.is_sweep_override() else [o.input_line]
        for o in parsed
    ]
    return [list(job) for job in itertools.product(*values)]


def compose_jobs(jobs: Sequence[Sequence[str]]) -> list[tuple[DictConfig, dict[str, str]]]:
    """``compose(job)`` for each job, the same configs, without composing each job from the
    files: Hydra takes a quarter of a second per composition, most of a 64-job sweep's set-up.

    Jobs whose overrides choose the same options (config groups, in order) share one
    composition; each job's plain ``key=value`` overrides are then set on a copy of it with
    ``OmegaConf.update(..., merge=True)``, in the job's order, as Hydra sets them after
    composing (``hydra.*`` keys are not part of the job's config). A job that adds or
    deletes keys, or whose overrides this cannot parse or set, is composed in full (which
    also words its error); jobs are composed in order, so the first job that cannot be
    composed raises, as ``compose`` of each in turn would.

    The repetition of a grid sweep is done once: each distinct override is parsed once (Hydra's
    parser takes milliseconds per override), and the values that every job of a composition
    sets first, in the same order, are set once on the shared composition. A job's copy is
    that composition unpickled (its node types, flags and struct mode with it; a quarter of
    ``copy.deepcopy``'s time), on which the job's remaining values are set.
    """
    groups = set(group_options())
    plans = [_plan(parsed, groups) for parsed in _parse_each(jobs)]
    shared = _shared_prefixes([plan for plan in plans if plan is not None])
    bases: dict[tuple[str, ...], tuple[bytes | None, dict[str, str]]] = {}
    composed = []
    for job, plan in zip(jobs, plans, strict=True):
        if plan is None:  # unparsable (compose raises the ConfigError), or additions and deletions:
            composed.append(compose(job))  # Hydra's order of checks, in full
            continue
        chosen, values = plan
        start = shared[chosen]
        if chosen not in bases:
            base, choices = compose(chosen)
            try:
                _set_values(base, values[:start])
                bases[chosen] = pickle.dumps(base, protocol=pickle.HIGHEST_PROTOCOL), choices
            except OmegaConfBaseException:
                bases[chosen] = None, choices  # every job of these options fails on a shared value
        snapshot, choices = bases[chosen]
        cfg = None
        if snapshot is not None:
            cfg = pickle.loads(snapshot)
            try:
                _set_values(cfg, values[start:])
            except OmegaConfBaseException:
                cfg = None
        if cfg is None:  # an unknown key or bad value: the full path words it
            cfg, choices = compose(job)
        composed.append((cfg, dict(choices)))
    return composed


def _parse_each(jobs: Sequence[Sequence[str]]) -> list[list[Override] | None]:
    """Each job's overrides parsed (None for a job Hydra cannot parse), each distinct override
    once: a grid's jobs repeat the same few. The parsed overrides are shared, and only read."""
    parser = OverridesParser.create()
    seen: dict[str, Override] = {}
    parsed_jobs: list[list[Override] | None] = []
    for job in jobs:
        try:
            for line in job:
                if line not in seen:
                    seen[line] = parser.parse_overrides([line])[0]
        except HydraException:
            parsed_jobs.append(None)
            continue
        parsed_jobs.append([seen[line] for line in job])
    return parsed_jobs


def _plan(parsed: list[Override] | None, groups: set[str]) -> tuple[tuple[str, ...], list[Override]] | None:
    """(the overrides that choose options, the values set after composing), or None for a job
    to compose in full: unparsable, or one that adds or deletes keys."""
    if parsed is None or any(o.is_add() or o.is_force_add() or o.is_delete() for o in parsed):
        return None
    chosen = tuple(o.input_line for o in parsed if chooses_options(o, groups))
    values = [o for o in parsed if not chooses_options(o, groups) and not o.key_or_group.startswith("hydra.")]
    return chosen, values


def _shared_prefixes(plans: list[tuple[tuple[str, ...], list[Override]]]) -> dict[tuple[str, ...], int]:
    """For each set of chosen options, how many values every job choosing it sets first, alike."""
    first: dict[tuple[str, ...], list[str]] = {}
    shared: dict[tuple[str, ...], int] = {}
    for chosen, values in plans:
        lines = [o.input_line for o in values]
        if chosen not in first:
            first[chosen], shared[chosen] = lines, len(lines)
            continue
        n = min(shared[chosen], len(lines))
        shared[chosen] = next((i for i in range(n) if lines[i] != first[chosen][i]), n)
    return shared


def _set_values(cfg: DictConfig, values: list[Override]) -> None:
    """Set each ``key=value`` override on ``cfg`` in order, as Hydra does after composing."""
    for override in values:
        OmegaConf.update(cfg, override.key_or_group, override.value(), merge=True)


def chooses_options(override: object, groups: set[str]) -> bool:
    """Whether an override changes the composition (an option, an addition, a deletion)
    rather than one value of it."""
    key = override.key_or_group  # type: ignore[attr-defined]
    structural = override.is_delete() or override.is_add() or override.is_force_add()  # type: ignore[attr-defined]
    return structural or override.package is not None or "/" in key or key in groups  # type: ignore[attr-defined]


def _first_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
