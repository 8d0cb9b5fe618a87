"""``${hydra:...}`` in the command line's pre-check.

Hydra's ``hydra`` resolver reads the running job's ``hydra`` section (``HydraConfig``), which
Hydra sets when its app runs the job. The pre-check composes the jobs before that, where an
override such as ``'seed=${hydra:job.num}'`` or ``'data.train=${hydra:runtime.cwd}/train.csv'``
cannot be resolved. While the pre-check runs, ``job_hydra`` sets the section as Hydra sets it
for each job: the composition's own (``hydra.runtime.cwd``, ``hydra.job.name``, the choices;
the first job's), a sweep job's number and id (``hydra.job.num``: its index in the sweep; a
lone run has none, as under Hydra) and its output directory (``hydra.runtime.output_dir``:
``hydra.run.dir``, or a sweep job's ``hydra.sweep.dir``/``hydra.sweep.subdir``), so each job
is checked with its own values. It does so only where an override reads ``${hydra:`` (in
Hydra's escaped form too) or adds config files (``hydra.searchpath``, whose files may), at
the price of another composition (a quarter of a second), and unsets the section afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException
from omegaconf import open_dict, read_write

from trainlab.config.plain import reads_hydra as reads_hydra_value


def reads_hydra(overrides: Sequence[str]) -> bool:
    """Whether an override's value may read Hydra's resolver: ``${hydra:...}`` in it, as typed
    or in Hydra's escaped form (``$\\{hydra\\:job.num\\}``), or config files added
    (``hydra.searchpath``)."""
    return any(reads_hydra_value(o) or o.lstrip("+").startswith("hydra.searchpath") for o in overrides)


@contextmanager
def job_hydra(overrides: Sequence[str], multirun: bool) -> Iterator[Callable[[int], None] | None]:
    """Inside: ``HydraConfig`` as Hydra sets it for the first job of ``overrides`` (see the
    module doc), where an override may read ``${hydra:`` and none is set; else nothing
    changes. For a sweep it yields a setter of the job number (the section then as Hydra sets
    it for job ``n``), else None. Where the first job cannot be composed (its own error is the pre-check's to
    word), the section is Hydra's overrides' alone; where those fail too, none is set."""
    from hydra.core.hydra_config import HydraConfig

    from trainlab.config.composing import hydra_section
    from trainlab.internals import set_hydra_config

    if HydraConfig.initialized() or not reads_hydra(overrides):
        yield None
        return
    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException:  # the pre-check words it
        yield None
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
        yield None
        return
    if not multirun:
        with open_dict(config.hydra):
            config.hydra.runtime.output_dir = os.path.abspath(str(config.hydra.run.dir))
    set_hydra_config(config)  # the node itself (read-only now), its interpolations reaching the config
    section = config.hydra

    def at_job(number: int) -> None:
        """The section as Hydra's launchers set it for the sweep's job ``number``."""
        with read_write(section), open_dict(section):
            section.job.num = number
            section.job.id = f"{section.job.name}_{number}"
            where = os.path.join(str(section.sweep.dir), str(section.sweep.subdir))
            section.runtime.output_dir = os.path.abspath(where)

    if multirun:
        at_job(0)
    try:
        yield at_job if multirun else None
    finally:
        HydraConfig.instance().cfg = None


def _first(override: Override) -> str | None:
    """``override`` as one job takes it: a grid's first value; None for a search's dimension."""
    if not override.is_sweep_override():
        return override.input_line
    values = list(override.sweep_string_iterator()) if override.is_discrete_sweep() else []
    return f"{override.get_key_element()}={values[0]}" if values else None
