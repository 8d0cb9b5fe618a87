"""The search space: Hydra's sweep grammar, read by Hydra's own parser, as Optuna distributions.

=============================================  =============================================
override                                       Optuna distribution
=============================================  =============================================
``interval(a, b)``                             FloatDistribution(a, b); IntDistribution when
                                               both ends are written as integers (``1, 8``)
``tag(log, interval(a, b))``                   the same, log=True
``tag(int, interval(a, b))``                   IntDistribution(a, b)
``range(a, b)`` / ``range(a, b, s)``           IntDistribution(a, last, step=s) over Python's
                                               range (b excluded); FloatDistribution(..., step=s)
                                               for a float step. Ordered, not categorical: the
                                               sampler knows 2 lies between 1 and 3
``tag(log, range(a, b))``                      IntDistribution(a, b - 1, log=True) (step 1 only)
``choice(x, y, z)`` / ``x,y,z``                CategoricalDistribution (a list or dict choice,
                                               e.g. ``choice([64,64],[128])``, by its text)
=============================================  =============================================

Any other override (``model=mlp``, ``trainer.max_epochs=5``) is fixed: every trial gets it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep, ValueType
from hydra.errors import HydraException

from trainlab.errors import ConfigError

_INTEGER = re.compile(r"^[+-]?\d+$")
_INTERVAL = re.compile(r"interval\(\s*([^,()]+?)\s*,\s*([^,()]+?)\s*\)")


@dataclass(frozen=True)
class Dimension:
    """One searched override: Optuna's parameter ``name`` (the key, e.g. optimizer.lr), the
    override's ``key`` as typed (``+`` kept), its distribution, and for a categorical one
    each choice's override text (``texts``)."""

    name: str
    key: str
    distribution: Any  # optuna.distributions.BaseDistribution
    texts: tuple[str, ...] = field(default=())

    def override(self, value: Any) -> str:
        """``key=value`` for a value the distribution gave."""
        from optuna.distributions import CategoricalDistribution, IntDistribution

        dist = self.distribution
        if isinstance(dist, CategoricalDistribution):
            return f"{self.key}={self.texts[dist.choices.index(value)]}"
        if isinstance(dist, IntDistribution):
            return f"{self.key}={int(value)}"
        return f"{self.key}={float(value)!r}"

    def ends(self) -> tuple[str, str]:
        """The override at the space's low end (first choice) and at its high end (last choice)."""
        from optuna.distributions import CategoricalDistribution

        dist = self.distribution
        if isinstance(dist, CategoricalDistribution):
            return self.override(dist.choices[0]), self.override(dist.choices[-1])
        return self.override(dist.low), self.override(dist.high)


@dataclass
class Space:
    """The command line split: ``fixed`` overrides (every trial) and the searched ``dimensions``."""

    fixed: list[str]
    dimensions: list[Dimension]

    def overrides(self, params: dict[str, Any]) -> list[str]:
        """A trial's overrides: the fixed ones, then each dimension at its value in ``params``."""
        return [*self.fixed, *(d.override(params[d.name]) for d in self.dimensions)]

    def probe_jobs(self) -> list[list[str]]:
        """Two jobs: every dimension at its low end (first choice), and at its high end."""
        ends = [d.ends() for d in self.dimensions]
        return [[*self.fixed, *(e[0] for e in ends)], [*self.fixed, *(e[1] for e in ends)]]


def search_space(arguments: Sequence[str], params: dict[str, Any] | None = None) -> Space:
    """The space of ``params`` (``hydra.sweeper.params``: key -> sweep text, as Hydra's optuna
    sweeper takes them) and the command line's ``arguments`` (which win for the same key)."""
    lines = [f"{key}={value}" for key, value in (params or {}).items()]
    try:
        parsed = OverridesParser.create().parse_overrides([*lines, *arguments])
    except HydraException as error:
        raise ConfigError(f"cannot read the override: {str(error).strip().splitlines()[0]}") from None
    by_key: dict[str, Override] = {}
    for override in parsed:  # a command-line override replaces a params entry of its key
        by_key.pop(override.key_or_group, None)
        by_key[override.key_or_group] = override
    fixed, dimensions = [], []
    for override in by_key.values():
        if override.is_sweep_override():
            dimensions.append(dimension(override))
        else:
            fixed.append(_fixed(override))
    return Space(fixed, dimensions)


def _fixed(override: Override) -> str:
    """A fixed override as each trial takes it: as typed, or where its value holds an
    interpolation (``seed=${hydra:job.num}``), escaped as Hydra's sweepers pass it, so that
    Hydra's ``hydra.overrides.task`` keeps it as text and the job's config resolves it."""
    if "${" not in override.input_line or override.is_delete():
        return override.input_line
    return f"{override.get_key_element()}={override.get_value_element_as_str()}"


def dimension(override: Override) -> Dimension:
    """The Optuna distribution of one sweep override (see the module's table)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    name, key, value = override.key_or_group, override.get_key_element(), override.value()
    tags = set(getattr(value, "tags", ()) or ())
    log = "log" in tags
    if isinstance(value, IntervalSweep):
        low, high = float(value.start), float(value.end)
        if low >= high:
            raise ConfigError(f"{override.input_line}: interval(low, high) needs low < high")
        ends = _INTERVAL.search(override.input_line)
        integers = "int" in tags or (ends is not None and all(_INTEGER.match(e) for e in ends.groups()))
        if log and low <= 0:
            raise ConfigError(f"{override.input_line}: a log interval needs low > 0")
        if integers:
            return Dimension(name, key, IntDistribution(int(low), int(high), log=log))
        return Dimension(name, key, FloatDistribution(low, high, log=log))
    if isinstance(value, RangeSweep):
        if value.shuffle:
            raise ConfigError(f"{override.input_line}: shuffle() means nothing to a search; drop it")
        values = list(override.sweep_iterator())
        if not values:
            raise ConfigError(f"{override.input_line}: the range is empty")
        low, high, step = min(values), max(values), abs(value.step)
        if all(isinstance(v, int) for v in values):
            if log and step != 1:
                raise ConfigError(f"{override.input_line}: a log range needs step 1 (Optuna's rule)")
            if log and low <= 0:
                raise ConfigError(f"{override.input_line}: a log range needs start > 0")
            return Dimension(name, key, IntDistribution(low, high, log=log, step=1 if log else step))
        if log:
            raise ConfigError(f"{override.input_line}: a log range needs integers; use tag(log, interval(a, b))")
        return Dimension(name, key, FloatDistribution(float(low), float(high), step=float(step)))
    if isinstance(value, ChoiceSweep):
        texts = tuple(override.sweep_string_iterator())
        choices = tuple(
            c if c is None or isinstance(c, bool | int | float | str) else t
            for c, t in zip(value.list, texts, strict=True)
        )
        if len(set(texts)) != len(texts):
            raise ConfigError(f"{override.input_line}: a choice is listed twice")
        return Dimension(name, key, CategoricalDistribution(choices), texts)
    kind = "glob(...)" if override.value_type == ValueType.GLOB_CHOICE_SWEEP else str(override.value_type)
    raise ConfigError(f"{override.input_line}: {kind} cannot be searched; use choice(...), interval(...) or range(...)")


def suggest(trial: Any, dim: Dimension) -> Any:
    """The trial's value of ``dim`` (asked from the sampler through Optuna's public suggest_*)."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    dist = dim.distribution
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(dim.name, list(dist.choices))
    if isinstance(dist, IntDistribution):
        step = None if dist.log else dist.step
        return trial.suggest_int(dim.name, dist.low, dist.high, step=step or 1, log=dist.log)
    return trial.suggest_float(dim.name, dist.low, dist.high, step=dist.step, log=dist.log)
