"""A sweep's jobs: the override list of each, their configs composed at once, and one check of
them all (the command line's pre-check, ``run_sweep`` and the stacked launcher share it)."""

from __future__ import annotations

import itertools
import pickle
from collections.abc import Callable, Sequence

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from trainlab.config.composing import chooses_options, compose, first_line, group_options
from trainlab.config.plain import Derived, frozen, keep
from trainlab.config.stackable import check_stackable
from trainlab.config.validate import check_one_device, validate
from trainlab.errors import ConfigError


def check_jobs(
    cfgs: Sequence[DictConfig | ConfigError],
    jobs: Sequence[Sequence[str]],
    stacked: bool,
    at_job: Callable[[int], None] | None = None,
) -> None:
    """Raise one ConfigError naming every job of a sweep that cannot run (nothing has trained):
    a job that did not compose (its ``ConfigError`` in ``cfgs``), a value out of range, several
    devices for one job, and with ``stacked`` what the stacked launcher cannot serve.
    ``at_job(n)``, where given, is called before job n is checked (the pre-check's
    ``${hydra:...}`` values of the job: ``trainlab.cli.hydra_values``)."""
    failed = []
    for number, (cfg, job) in enumerate(zip(cfgs, jobs, strict=True)):
        if at_job is not None:
            at_job(number)
        try:
            if isinstance(cfg, ConfigError):
                raise cfg
            validate(cfg)
            check_one_device(cfg)
            if stacked:
                check_stackable(cfg)
        except ConfigError as error:
            failed.append(f"\n  job {number} ({' '.join(job)}): {error}")
    if failed:
        raise ConfigError(f"{len(failed)} of {len(cfgs)} sweep jobs cannot run; nothing was trained:{''.join(failed)}")


def compose_each(jobs: Sequence[Sequence[str]], keep_plain: bool = True) -> list[DictConfig | ConfigError]:
    """Each job's config (``compose_jobs``; with ``keep_plain``, read-only with its plain
    values kept: what the checks read; without, each check resolves its values as it reads
    them), or where a job cannot be composed, each job's own config or ``ConfigError``
    (composed one by one, so each error names its job)."""
    try:
        return [cfg for cfg, _ in compose_jobs(jobs, keep_plain=keep_plain)]
    except ConfigError:
        found: list[DictConfig | ConfigError] = []
        for job in jobs:
            try:
                found.append(compose(job)[0])
            except ConfigError as error:
                found.append(error)
        return found


def sweep_jobs(overrides: Sequence[str]) -> list[list[str]]:
    """The override list of each job of a grid sweep, in Hydra's basic sweeper's order (every
    combination of the swept values, the last override varying fastest)."""
    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as error:
        raise ConfigError(f"cannot read the override: {first_line(error)}") from None
    values = [
        [f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()] if o.is_sweep_override() else [o.input_line]
        for o in parsed
    ]
    return [list(job) for job in itertools.product(*values)]


def compose_jobs(jobs: Sequence[Sequence[str]], keep_plain: bool = False) -> list[tuple[DictConfig, dict[str, str]]]:
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
    sets, alike, are set once on the shared composition (``shared_first``, ``shared_prefixes``). A job's copy is
    that composition unpickled (its node types, flags and struct mode with it; a quarter of
    ``copy.deepcopy``'s time), on which the job's remaining values are set.

    With ``keep_plain``, each config is made read-only and its plain values are kept with it
    (``trainlab.config.plain``), derived from its composition's where they can be: a sweep's
    checks, grouping and files then read them without converting each job's config again.
    """
    groups = set(group_options())
    plans = shared_first([_plan(parsed, groups) for parsed in _parse_each(jobs)])
    shared = shared_prefixes([plan for plan in plans if plan is not None])
    bases: dict[tuple[str, ...], tuple[bytes | None, dict[str, str]]] = {}
    derived: dict[tuple[str, ...], Derived] = {}
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
                set_values(base, values[:start])
                bases[chosen] = pickle.dumps(base, protocol=pickle.HIGHEST_PROTOCOL), choices
                if keep_plain:
                    derived[chosen] = Derived(base)
            except OmegaConfBaseException:
                bases[chosen] = None, choices  # every job of these options fails on a shared value
        snapshot, choices = bases[chosen]
        cfg = None
        if snapshot is not None:
            cfg = pickle.loads(snapshot)
            try:
                set_values(cfg, values[start:])
            except OmegaConfBaseException:
                cfg = None
            if cfg is not None and chosen in derived:
                try:
                    found = derived[chosen].derive(cfg, [o.key_or_group for o in values[start:]])
                except OmegaConfBaseException:  # an interpolation naming no key: the full path words it
                    cfg, found = None, None
                if found is not None:
                    keep(cfg, found)
        if cfg is None:  # an unknown key or bad value: the full path words it
            cfg, choices = compose(job)
        composed.append((cfg, dict(choices)))
    if keep_plain:
        frozen(cfg for cfg, _ in composed)
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


def shared_first(
    plans: list[tuple[tuple[str, ...], list[Override]] | None],
) -> list[tuple[tuple[str, ...], list[Override]] | None]:
    """Each plan with the values that every job of its options sets, alike, moved before the
    job's own, each group in the job's order, where that gives the same config: none of the
    moved values sets a key that a value left behind sets, or one inside or around it
    (``model.hidden`` and ``model``). Setting keys that do not overlap in another order gives
    the same config, and ``shared_prefixes`` then sets the moved values once on the
    composition: a grid's fixed overrides typed after its swept ones (``-m
    optimizer.lr=0.1,0.01 seed=0,1 trainer.max_epochs=5``)."""
    common: dict[tuple[str, ...], set[str]] = {}
    for plan in plans:
        if plan is not None:
            chosen, values = plan
            lines = {o.input_line for o in values}
            common[chosen] = lines if chosen not in common else common[chosen] & lines
    moved_plans: list[tuple[tuple[str, ...], list[Override]] | None] = []
    for plan in plans:
        if plan is None:
            moved_plans.append(None)
            continue
        chosen, values = plan
        moving = [o.input_line in common[chosen] for o in values]
        changed = True
        while changed:  # a value that stays keeps every value that overlaps it where it is
            staying = [o.key_or_group for o, moves in zip(values, moving, strict=True) if not moves]
            changed = False
            for i, o in enumerate(values):
                if moving[i] and any(_overlap(o.key_or_group, key) for key in staying):
                    moving[i], changed = False, True
        moved = [o for o, moves in zip(values, moving, strict=True) if moves]
        moved_plans.append((chosen, moved + [o for o, moves in zip(values, moving, strict=True) if not moves]))
    return moved_plans


def _overlap(a: str, b: str) -> bool:
    """Whether dotted keys ``a`` and ``b`` are the same, or one is inside the other."""
    return a == b or a.startswith(f"{b}.") or b.startswith(f"{a}.")


def shared_prefixes(plans: list[tuple[tuple[str, ...], list[Override]]]) -> dict[tuple[str, ...], int]:
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


def set_values(cfg: DictConfig, values: list[Override]) -> None:
    """Set each ``key=value`` override on ``cfg`` in order, as Hydra does after composing."""
    for override in values:
        OmegaConf.update(cfg, override.key_or_group, override.value(), merge=True)
