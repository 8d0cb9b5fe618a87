"""Composing the config from overrides, with Hydra's refusals said in trainlab's words.

``compose`` is what ``run()`` and the command line's pre-check use: Hydra and the schema
only (no torch), so a typo answers in about a second. An unknown option, group or key
becomes one ``ConfigError`` naming what was typed, the closest valid name and the valid
choices. A sweep's jobs: ``trainlab.config.jobs``.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, open_dict
from omegaconf.errors import ValidationError

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
    choice. ``ConfigError`` for an unknown group, option or key, an override Hydra cannot
    parse, or an interpolation (``${data.n_features}``) that names no key."""
    try:
        cfg, choices = _compose(list(overrides))
    except HydraException as error:
        raise ConfigError(explain(list(overrides), error)) from None
    unresolved = _unresolved_key(cfg, choices, list(overrides))
    if unresolved is not None:
        raise ConfigError(unresolved)
    return cfg, choices


def hydra_section(overrides: Sequence[str]) -> DictConfig:
    """The config Hydra composes for ``overrides`` with its ``hydra`` section kept (what
    ``${hydra:...}`` reads once Hydra runs the job, less what the run sets: the job's number
    and output directory). Raises ``HydraException`` where ``compose`` raises ``ConfigError``."""
    return _compose(list(overrides), keep_hydra=True)[0]


def _compose(overrides: list[str], keep_hydra: bool = False) -> tuple[DictConfig, dict[str, str]]:
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
    if not keep_hydra:
        with open_dict(cfg):
            del cfg["hydra"]
    return cfg, choices


def explain(overrides: list[str], error: Exception) -> str:
    """Hydra's refusal of ``overrides`` as one line naming the override and what is allowed."""
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except HydraException as parse_error:
        return f"cannot read the override: {first_line(parse_error)}"
    cause = error.__cause__
    full_key = getattr(cause, "full_key", None)
    if full_key and isinstance(cause, ValidationError):  # a value of the wrong type
        base = full_key.split("[")[0]  # model.hidden[0]: the override of model.hidden
        typed = next((o.input_line for o in parsed if o.key_or_group == base), full_key)
        return f"{typed}: {_type_words(first_line(cause))}"
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
        return first_line(error)
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
    return first_line(error)


def _unresolved_key(cfg: DictConfig, chosen: dict[str, str], overrides: list[str]) -> str | None:
    """The refusal of an interpolation in ``cfg`` that names no key (OmegaConf raises it where
    the value is first read, mid-run), naming the override that holds it; None when every
    such key is there. Other interpolations (a resolver such as ``${hydra:...}``, which needs
    Hydra's app) are left to where they resolve."""
    from omegaconf import OmegaConf
    from omegaconf.errors import InterpolationKeyError, OmegaConfBaseException

    try:
        OmegaConf.to_container(cfg, resolve=True)
    except InterpolationKeyError as error:
        key = str(error).split("'")[1] if str(error).count("'") >= 2 else "?"
        full_key = str(getattr(error, "full_key", "") or "")
        try:
            parsed = OverridesParser.create().parse_overrides(overrides)
        except HydraException:
            parsed = []
        typed = next(
            (o.input_line for o in parsed if "${" in o.input_line and key in o.input_line),
            next((o.input_line for o in parsed if o.key_or_group == full_key.split("[")[0]), full_key),
        )
        relative = "${." in typed  # OmegaConf's message drops the dots of ${..noise}: no key to look up
        missing = None if relative else _missing_key(cfg, key)
        if missing is None:
            named = "its relative interpolation" if relative else f"the interpolation ${{{key}}}"
            return f"{typed}: {named} names no key of the config"
        node_path, name, keys = missing
        owner = f"{node_path}={chosen[node_path]}" if node_path in chosen else node_path or "the config"
        return _unknown(typed, name, keys, f"the interpolation ${{{key}}} names no key: {owner} has no key {name}")
    except OmegaConfBaseException:
        return None
    return None


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


def chooses_options(override: object, groups: set[str]) -> bool:
    """Whether an override changes the composition (an option, an addition, a deletion)
    rather than one value of it."""
    key = override.key_or_group  # type: ignore[attr-defined]
    structural = override.is_delete() or override.is_add() or override.is_force_add()  # type: ignore[attr-defined]
    return structural or override.package is not None or "/" in key or key in groups  # type: ignore[attr-defined]


def first_line(error: Exception) -> str:
    """An error's first line of text (its type's name when it has none)."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
