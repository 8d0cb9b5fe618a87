"""``${hydra:...}`` in the command line's pre-check.

Hydra's ``hydra`` resolver reads the running job's ``hydra`` section (``HydraConfig``), which
Hydra sets when its app runs the job. The pre-check composes the jobs before that, where an
override such as ``'seed=${hydra:job.num}'`` or ``'data.train=${hydra:runtime.cwd}/train.csv'``
cannot be resolved. While the pre-check runs, ``job_hydra`` sets the section as Hydra sets it
for the first job: the composition's own (``hydra.runtime.cwd``, ``hydra.job.name``, the
choices), a sweep's job number and id (``hydra.job.num``: 0; a lone run has none, as under
Hydra) and the job's output directory (``hydra.runtime.output_dir``: ``hydra.run.dir``, or a
sweep job's ``hydra.sweep.dir``/``hydra.sweep.subdir``). Every job is checked with those
values; each job checks its own again when it runs (``trainlab.lifecycle.train``). It does
so only where an override reads ``${hydra:`` (another composition, a quarter of a second),
and unsets the section afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException
from omegaconf import open_dict


def reads_hydra(overrides: Sequence[str]) -> bool:
    """Whether an override's value reads Hydra's resolver (``${hydra:...}``)."""
    return any("${hydra:" in "".join(o.split()) for o in overrides)


@contextmanager
def job_hydra(overrides: Sequence[str], multirun: bool) -> Iterator[None]:
    """Inside: ``HydraConfig`` as Hydra sets it for the first job of ``overrides`` (see the
    module doc), where an override reads ``${hydra:`` and none is set; else nothing changes.
    Where the first job cannot be composed (its own error is the pre-check's to word), the
    section is Hydra's overrides' alone; where those fail too, none is set."""
    from hydra.core.hydra_config import HydraConfig

    from trainlab.config.composing import hydra_section

    if HydraConfig.initialized() or not reads_hydra(overrides):
        yield
        return
    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException:  # the pre-check words it
        yield
        return
    first = [o for o in map(_first, parsed) if o is not None]  # a sweep's first job (a search: its fixed values)
    config = None
    for chosen in (first, [o.input_line for o in parsed if o.is_hydra_override()]):
        try:  # the first job, or where it cannot be composed, Hydra's own overrides alone
            config = hydra_section(chosen)
            break
        except HydraException:
            continue
    if config is None:
        yield
        return
    section = config.hydra
    with open_dict(section):
        if multirun:
            section.job.num = 0
            section.job.id = f"{section.job.name}_0"
            where = os.path.join(str(section.sweep.dir), str(section.sweep.subdir))
        else:
            where = str(section.run.dir)
        section.runtime.output_dir = os.path.abspath(where)
    HydraConfig.instance().set_config(config)
    try:
        yield
    finally:
        HydraConfig.instance().cfg = None


def _first(override: Override) -> str | None:
    """``override`` as one job takes it: a grid's first value; None for a search's dimension."""
    if not override.is_sweep_override():
        return override.input_line
    values = list(override.sweep_string_iterator()) if override.is_discrete_sweep() else []
    return f"{override.get_key_element()}={values[0]}" if values else None
