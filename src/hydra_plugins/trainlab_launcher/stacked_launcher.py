"""``python train.py -m hydra/launcher=stacked ...``: a sweep's jobs trained at once, in stacks.

Hydra finds this launcher after ``pip install`` (the ``hydra_plugins`` namespace). It
composes every job's config as Hydra's basic launcher does, checks them all, trains the
jobs in stacks (``trainlab.sweeps.stacked_sweep``), and then hands each job to Hydra's ``run_job`` with a
task that writes the job's run directory: the job dirs, .hydra files, callbacks (the sweep
summary) and job returns are Hydra's own, as with the basic launcher.
``hydra.launcher.max_stack`` caps the members of one stack. Under ``hydra/sweeper=optuna``
each job is a trial: the stack's pruning callback reports each member's epochs to its trial
and stops the members the pruner prunes (``trainlab.search.link.members``).

A job whose stack fails (its data, a full disk, memory, anything) is one line on stderr,
``error: job <n>: <why>``, and a failed row in the sweep's tables; the other stacks go on. A
sweep continued with ``python train.py -m resume=<sweep dir>`` (``trainlab.sweeps.resume``)
keeps the jobs that ended, continues a stack whose members were all training when it stopped
from the stack's own file, its other stopped members one by one (as ``resume=<sweep dir>/<n>``),
and trains the jobs that had not started in stacks. (No ``from __future__ import
annotations``: Hydra executes plugin modules outside ``sys.modules``, where dataclasses
cannot resolve string annotations.)
"""

import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import (
    JobReturn,
    JobRuntime,
    JobStatus,
    configure_log,
    env_override,
    filter_overrides,
    setup_globals,
)
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from trainlab.internals import set_hydra_config

log = logging.getLogger(__name__)

# A job's config as made on a shared composition: the composition, and the values set on it
# (``StackedLauncher._sweep_configs``); None for a job loaded in full.
_Made = tuple["_Composition", list[Any]] | None


@dataclass
class StackedLauncherConf:
    _target_: str = "hydra_plugins.trainlab_launcher.stacked_launcher.StackedLauncher"
    max_stack: int | None = None  # members per stack at most (None: as many as fit)


ConfigStore.instance().store(group="hydra/launcher", name="stacked", node=StackedLauncherConf, provider="trainlab")


class StackedLauncher(Launcher):
    # Every job's config is composed and checked in ``launch`` before any trains: the grid
    # sweeper (``grid_sweeper``) skips its own composition of each job.
    composes_every_job = True

    def __init__(self, max_stack: int | None = None) -> None:
        self.max_stack = max_stack
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.task_function: TaskFunction | None = None
        # Each composition Hydra loaded for the options chosen, pickled: a search's batches
        # (one ``launch`` each) choose the same options, and Hydra's loading is the same for
        # the same master config (its resolver cache copied: ``${now:...}`` alike).
        self._loaded: dict[tuple[str, ...], bytes] = {}

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function
        self._loaded = {}

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from trainlab.sweeps.collector import fewer_collections

        setup_globals()
        assert self.config is not None and self.hydra_context is not None and self.task_function is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        log.info("Launching %d jobs in stacks", len(job_overrides))
        with fewer_collections():
            return self._launch(job_overrides, initial_job_idx, sweep_dir)

    def _launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int, sweep_dir: Path) -> list[JobReturn]:
        """``launch``'s work: compose and check every job, then train them in stacks."""
        from rich.console import Console
        from rich.markup import escape

        from trainlab.config.jobs import check_jobs
        from trainlab.files.lock import Taken, sole_writer
        from trainlab.files.stack_jobs import STATE_DIR
        from trainlab.search.link import members, of_config
        from trainlab.training.quiet import quiet_lightning

        configs, sources, compositions = self._sweep_configs(job_overrides, initial_job_idx)
        task_cfgs = _task_configs(configs, sources, compositions)
        made = [None if source is None else (compositions[source[0]], source[1]) for source in sources]
        check_jobs(task_cfgs, [list(filter_overrides(o)) for o in job_overrides], stacked=True)
        quiet_lightning(propagate_to_root=True)  # each message once, in the console and the log
        state_dir = sweep_dir.resolve() / STATE_DIR
        with contextlib.ExitStack() as held:
            try:  # the stacks write every member's directory: one writer at a time
                held.enter_context(sole_writer(sweep_dir))
            except Taken as taken:  # a resume= of this sweep while it still trains
                Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(str(taken))}", highlight=False)
                sys.exit(2)
            # An Optuna search's batch: each member's trial, for the stack's pruning (search.link)
            held.enter_context(members(task_cfgs, [of_config(config) for config in configs]))
            returns = self._stacks(configs, task_cfgs, made, state_dir, sweep_dir)
        return [returns[number] for number in range(len(configs))]

    def _stacks(
        self,
        configs: list[DictConfig],
        task_cfgs: list[DictConfig],
        made: list[_Made],
        state_dir: Path,
        sweep_dir: Path,
    ) -> dict[int, Any]:
        """Every job trained in stacks (or continued: ``-m resume=``); Ctrl-C is the message and
        exit 130. ``made``: each job's composition and the values set on it (``_sweep_configs``)."""
        from rich.console import Console
        from rich.markup import escape

        from trainlab.errors import SweepInterrupted
        from trainlab.sweeps.resume import continuing
        from trainlab.sweeps.stacked_sweep import train_jobs
        from trainlab.sweeps.tables import jobs_together

        try:
            with jobs_together(sweep_dir):
                if continuing(sweep_dir):
                    returns = self._continue(configs, task_cfgs, made, state_dir, sweep_dir)
                else:
                    returns = train_jobs(
                        task_cfgs,
                        lambda number, member: self._write(configs[number], task_cfgs[number], member, made[number]),
                        self.max_stack,
                        state_dir,
                        lambda number: _start(configs[number], task_cfgs[number]),
                        written=lambda: self._written(sweep_dir),
                    )
        except SweepInterrupted as stop:  # as a lone run's Ctrl-C: the message, exit 130
            self._written(sweep_dir)
            console = Console(stderr=True, soft_wrap=True)
            console.print(f"[bold red]error:[/] {escape(str(stop))}", highlight=False)
            if self._grid():
                console.print(f"continue the whole sweep with: python train.py -m resume={sweep_dir}", highlight=False)
            sys.exit(130)
        return returns

    def _written(self, sweep_dir: Path) -> None:
        """After a stack's jobs are written: the launcher's logging again, and the sweep's tables."""
        from trainlab.sweeps.tables import rewrite_tables

        assert self.config is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        rewrite_tables(sweep_dir)

    def _continue(
        self,
        configs: list[DictConfig],
        task_cfgs: list[DictConfig],
        made: list[_Made],
        state_dir: Path,
        sweep_dir: Path,
    ) -> dict[int, Any]:
        """A sweep continued by ``-m resume=`` (``trainlab.sweeps.resume``): the jobs that ended
        and the stopped members that continue one by one go to the task function (which keeps
        or resumes each), then the stacks that continue from their file and the jobs that start
        over train in stacks. Each job's return, by number."""
        import shutil

        from trainlab.sweeps.resume import FRESH, clear_job, ended, job_state, stacks_to_resume
        from trainlab.sweeps.stacked_sweep import train_jobs

        assert self.task_function is not None
        run_dirs = [_run_dir(config) for config in configs]
        states = [job_state(cfg, run_dir) for cfg, run_dir in zip(task_cfgs, run_dirs, strict=True)]
        stacks = stacks_to_resume(state_dir, states)
        in_stacks = {job for jobs, _ in stacks for job in jobs}
        returns: dict[int, Any] = {}
        for number, state in enumerate(states):
            if state != FRESH and number not in in_stacks:
                returns[number] = self._run(configs[number], _without_hydra(configs[number]), self.task_function)
        fresh = [number for number, state in enumerate(states) if state == FRESH]
        for number in fresh:
            clear_job(run_dirs[number])
        self._written(sweep_dir)
        returns |= train_jobs(
            task_cfgs,
            lambda number, member: self._write(configs[number], task_cfgs[number], member, made[number]),
            self.max_stack,
            state_dir,
            lambda number: _start(configs[number], task_cfgs[number]),
            jobs=fresh,
            resumed=stacks,
            written=lambda: self._written(sweep_dir),
        )
        if all(ended(run_dir) for run_dir in run_dirs):  # what the stopped sweep's stacks left: nothing resumes from it
            shutil.rmtree(state_dir, ignore_errors=True)
        return returns

    def _grid(self) -> bool:
        """Whether a grid sweeper (``hydra/sweeper=grid`` or ``basic``) runs the sweep: ``-m resume=`` continues it."""
        assert self.config is not None
        from trainlab.sweeps.resume import is_grid

        return is_grid(self.config.hydra.sweeper)

    def _sweep_configs(
        self, job_overrides: Sequence[Sequence[str]], first: int
    ) -> tuple[list[DictConfig], list[tuple[tuple[str, ...], list[Any]] | None], dict[tuple[str, ...], Any]]:
        """Each job's config, as Hydra's ``load_sweep_config`` makes it; for each job the options
        it chose and the values it set on their composition (None: loaded in full); and each
        composition's task config (``_Composition``), by the options chosen. Hydra
        composes from the files, a quarter of a second a job; here jobs that choose the same
        options share one composition, and each job's ``key=value`` overrides are set on a copy
        of it, as ``trainlab.config.jobs.compose_jobs`` does: each distinct override parsed
        once, the values that every job of a composition sets, alike, set once on the
        composition (``shared_first``, ``shared_prefixes``), each copy unpickled; a job this
        cannot serve is loaded in full. A composition is loaded once per launcher: a search's
        later batches copy the first's."""

        import pickle

        from hydra.core.override_parser.overrides_parser import OverridesParser
        from omegaconf.errors import OmegaConfBaseException

        from trainlab.config.composing import chooses_options, group_options
        from trainlab.config.jobs import set_values, shared_first, shared_prefixes

        assert self.config is not None and self.hydra_context is not None
        loader, parser, groups = self.hydra_context.config_loader, OverridesParser.create(), set(group_options())
        seen: dict[str, Any] = {}
        parsed_jobs: list[list[Any]] = []
        plans: list[tuple[tuple[str, ...], list[Any]] | None] = []
        for overrides in job_overrides:
            for line in overrides:
                if line not in seen:
                    seen[line] = parser.parse_overrides([line])[0]
            parsed = [seen[line] for line in overrides]
            plan = None
            if not any(o.is_hydra_override() or o.is_add() or o.is_force_add() or o.is_delete() for o in parsed):
                chosen = tuple(o.input_line for o in parsed if chooses_options(o, groups))
                plan = chosen, [o for o in parsed if not chooses_options(o, groups)]
            parsed_jobs.append(parsed)
            plans.append(plan)
        plans = shared_first(plans)
        shared = shared_prefixes([plan for plan in plans if plan is not None])
        bases: dict[tuple[str, ...], bytes | None] = {}
        configs: list[DictConfig] = []
        sources: list[tuple[tuple[str, ...], list[Any]] | None] = []
        compositions: dict[tuple[str, ...], _Composition] = {}
        for number, (overrides, parsed, plan) in enumerate(zip(job_overrides, parsed_jobs, plans, strict=True), first):
            log.info("\t#%d : %s", number, " ".join(filter_overrides(overrides)))
            config, source = None, None
            if plan is not None:
                chosen, values = plan
                start = shared[chosen]
                if chosen not in bases:
                    if chosen not in self._loaded:
                        loaded = loader.load_sweep_config(self.config, list(chosen))
                        self._loaded[chosen] = pickle.dumps(loaded, protocol=pickle.HIGHEST_PROTOCOL)
                    base = pickle.loads(self._loaded[chosen])
                    try:
                        set_values(base, values[:start])
                        bases[chosen], compositions[chosen] = pickle.dumps(base), _Composition(base)
                    except OmegaConfBaseException:  # every job of these options fails on a shared value
                        bases[chosen] = None
                snapshot = bases[chosen]
                if snapshot is not None:
                    config = _with_values(pickle.loads(snapshot), parsed, values[start:])
                    source = chosen, values[start:]
            if config is None:
                config, source = loader.load_sweep_config(self.config, list(overrides)), None
            with open_dict(config):
                config.hydra.job.id = config.hydra.job.num = number
            configs.append(config)
            sources.append(source)
        return configs, sources, compositions

    def _write(self, config: DictConfig, task_cfg: DictConfig, member: Any, made: _Made) -> JobReturn:
        """Hydra's run_job for one job: its directory and .hydra files, the callbacks, and a
        task that writes the member's run directory there (or, where its stack failed, or the
        writing fails, the one line and the failed row of ``trainlab.sweeps.tables.fail_job``).
        ``made``: the composition the job's config was made on, and the values set on it."""

        def task(cfg: DictConfig) -> float | None:
            from trainlab.lifecycle.member_dir import write_member
            from trainlab.sweeps.tables import fail_job

            hydra_cfg = HydraConfig.get()
            run_dir = Path(hydra_cfg.runtime.output_dir)
            if isinstance(member, Exception):  # its stack failed
                fail_job(run_dir, hydra_cfg.job.num, member)
                return None
            try:
                result = write_member(
                    member,
                    run_dir,
                    dict(hydra_cfg.runtime.choices),
                    list(hydra_cfg.overrides.task),
                    config_written=True,  # by _start, before its stack trained
                )
            except Exception as error:  # a full disk, ...: this job fails, the others are written
                fail_job(run_dir, hydra_cfg.job.num, error)
                return None
            return result.metrics.get(cfg.monitor)

        return self._run(config, task_cfg, task, made)

    @staticmethod
    def _save_hydra_files(files: Path, task_cfg: DictConfig, hydra_cfg: DictConfig, made: _Made) -> None:
        """The job's config.yaml, hydra.yaml and overrides.yaml in ``files`` (``.hydra/``):
        ``OmegaConf.to_yaml``'s texts, as Hydra saves them, written through libyaml where it
        emits them alike, each section's text kept across jobs (``trainlab.files.config_text``:
        1.5 ms a job, where OmegaConf's dumper takes 8). A job ``made`` on a shared composition
        has its configs' values as written derived from the composition's (``_Composition``),
        not converted (2 ms a job). A task config resolved in place (it reads Hydra's config:
        ``_task_configs``) is written as it was before, interpolations kept, as Hydra's is."""
        from trainlab.files.config_text import config_yaml, section_yaml

        files.mkdir(parents=True, exist_ok=True)
        task_values = hydra_values = None
        if made is not None:
            composition, values = made
            task_values = composition.written_task(task_cfg, values)
            hydra_values = composition.written_hydra(hydra_cfg.hydra, str(hydra_cfg.hydra.runtime.output_dir))
        written = _AS_WRITTEN.get(id(task_cfg))  # resolved in place: its values as written before
        if written is not None:
            task_values, task_cfg = written, OmegaConf.create(written)
        elif task_values is None:
            task_values = OmegaConf.to_container(task_cfg, enum_to_str=True)
        if hydra_values is None:
            hydra_values = OmegaConf.to_container(hydra_cfg.hydra, enum_to_str=True)
        assert isinstance(hydra_values, dict)
        texts = {
            "config.yaml": config_yaml(task_values, lambda: OmegaConf.to_yaml(task_cfg)),
            "hydra.yaml": section_yaml("hydra", hydra_values),
            "overrides.yaml": config_yaml(
                hydra_values["overrides"]["task"], lambda: OmegaConf.to_yaml(hydra_cfg.hydra.overrides.task)
            ),
        }
        for name, text in texts.items():
            (files / name).write_text(text, encoding="utf-8")

    def _run(self, config: DictConfig, task_cfg: DictConfig, task: TaskFunction, made: _Made = None) -> JobReturn:
        """Hydra's ``run_job`` (hydra-core 1.3) for the job of ``config``, whose task config
        (``config`` less its ``hydra`` node) is ``task_cfg``: the job's directory, its
        ``.hydra/`` files, its log file, ``hydra.job.env_set`` and ``hydra.job.chdir``, the
        callbacks, and a ``JobReturn`` as Hydra's launchers return it. Unlike ``run_job``, it
        copies neither config (each job's are its own: ``_sweep_configs``) and sets
        ``HydraConfig`` once, on the job's own ``hydra`` node (``trainlab.internals.
        set_hydra_config``): 15 ms a job, and Hydra's ``set_config`` copies that node for 5
        more, where writing a stack's member costs 5. The launcher's logging comes back after
        each stack (``_written``), not after each job. ``made``: as ``_write``'s (None: the
        job's .hydra/ files are converted from its configs)."""
        assert self.hydra_context is not None
        old_cwd, old_hydra_cfg = os.getcwd(), HydraConfig.instance().cfg
        output_dir = os.path.abspath(os.path.join(str(config.hydra.sweep.dir), str(config.hydra.sweep.subdir)))
        with read_write(config.hydra.runtime), open_dict(config.hydra.runtime):
            config.hydra.runtime.output_dir = output_dir
        set_hydra_config(config)  # HydraConfig's set_config, without copying the job's own hydra node
        hydra_cfg = HydraConfig.instance().cfg
        assert hydra_cfg is not None
        ret = JobReturn(overrides=list(config.hydra.overrides.task), cfg=task_cfg, hydra_cfg=hydra_cfg)
        chdir = bool(config.hydra.job.chdir)
        try:
            Path(output_dir).mkdir(parents=True, exist_ok=True)
            if chdir:
                os.chdir(output_dir)
            ret.working_dir = os.getcwd()
            configure_log(config.hydra.job_logging, config.hydra.verbose)
            if config.hydra.output_subdir is not None:
                self._save_hydra_files(Path(output_dir) / str(config.hydra.output_subdir), task_cfg, hydra_cfg, made)
            callbacks = self.hydra_context.callbacks
            with env_override(config.hydra.job.env_set):
                callbacks.on_job_start(config=config, task_function=task)
                try:
                    ret.return_value = task(task_cfg)
                    ret.status = JobStatus.COMPLETED
                except Exception as error:
                    ret.return_value, ret.status = error, JobStatus.FAILED
            ret.task_name = JobRuntime.instance().get("name")
            for handler in logging.getLogger().handlers:
                handler.flush()
            callbacks.on_job_end(config=config, job_return=ret)
            return ret
        finally:
            HydraConfig.instance().cfg = old_hydra_cfg
            if chdir:
                os.chdir(old_cwd)


def _run_dir(config: DictConfig) -> Path:
    """The job's directory: ``<sweep dir>/<subdir>``, absolute."""
    return (Path(str(config.hydra.sweep.dir)) / str(config.hydra.sweep.subdir)).resolve()


def _start(config: DictConfig, task_cfg: DictConfig) -> Path:
    """A job's directory with its config.yaml and overrides.yaml, before its stack trains
    (Hydra's job files come when it is written)."""
    from trainlab.sweeps.stacked_sweep import start_job

    return start_job(_run_dir(config), task_cfg, [str(o) for o in config.hydra.overrides.task])


def _with_values(config: DictConfig, parsed: list[Any], values: list[Any]) -> DictConfig | None:
    """``config`` (a copy of a job config composed with the same options, and the values every
    job of those sets first) with the job's other ``key=value`` overrides ``values`` set, its
    override list (``parsed``) and ``override_dirname``; None where that fails."""
    from omegaconf.errors import OmegaConfBaseException

    from trainlab.config.jobs import set_values
    from trainlab.internals import hydra_override_dirname

    try:
        set_values(config, values)
    except OmegaConfBaseException:
        return None
    config.hydra.overrides.task = [o.input_line for o in parsed]
    config.hydra.job.override_dirname = hydra_override_dirname(parsed, config)
    return config


_READS_HYDRA = "${hydra:"  # Hydra's resolver of its own config (the job's number, directory, ...)
# A task config resolved in place (``_task_configs``: it reads Hydra's config), by id: its
# values as written before, for its .hydra/config.yaml (Hydra's keeps the interpolations).
_AS_WRITTEN: dict[int, Any] = {}


def _holds(value: Any, text: str) -> bool:
    """Whether a parsed override's value (``Override.value()``) holds ``text`` in a string.
    Read the value, not the override's line: Hydra's sweepers escape a swept value's
    interpolations there (``$\\{seed\\}``), and ``value()`` gives them back."""
    if isinstance(value, str):
        return text in value
    if isinstance(value, dict):
        return any(_holds(key, text) or _holds(item, text) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(_holds(item, text) for item in value)
    return False


def _without_hydra(config: DictConfig) -> DictConfig:
    """A copy of a job's config without its ``hydra`` node: its task config."""
    return OmegaConf.masked_copy(config, [k for k in config if k != "hydra"])


class _Composition:
    """A composition that jobs share (the options they chose, and the values they all set
    first): its task config pickled (a job's copy is unpickled in a tenth of
    ``OmegaConf.masked_copy``'s time) with its plain values (``trainlab.config.plain.Derived``;
    None where they cannot be resolved here: an interpolation that needs a job's own Hydra
    config), and its ``hydra`` node's values as written, from which each job's
    ``.hydra/hydra.yaml`` is made (``written_hydra``)."""

    def __init__(self, base: DictConfig) -> None:
        import marshal
        import pickle

        from omegaconf.errors import OmegaConfBaseException

        from trainlab.config.plain import Derived

        task = _without_hydra(base)
        self.task = pickle.dumps(task, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self.derived: Derived | None = Derived(task)
        except OmegaConfBaseException:
            self.derived = None
        try:
            self.hydra: bytes | None = marshal.dumps(OmegaConf.to_container(base.hydra, enum_to_str=True))
        except ValueError:  # a value marshal cannot hold
            self.hydra = None

    def copy(self, values: list[Any]) -> DictConfig | None:
        """A job's task config: the composition's with the job's ``key=value`` overrides set
        (None where that fails)."""
        import pickle

        from omegaconf.errors import OmegaConfBaseException

        from trainlab.config.jobs import set_values

        task: DictConfig = pickle.loads(self.task)
        try:
            set_values(task, values)
        except OmegaConfBaseException:
            return None
        return task

    def written_task(self, task_cfg: DictConfig, values: list[Any]) -> dict[str, Any] | None:
        """``OmegaConf.to_container(task_cfg, resolve=False)`` of a job's task config made by
        ``copy(values)``, from its kept plain values (``Derived.written``); None where its
        values were not derived, an override sets an interpolation, or it reads Hydra's config
        (``_task_configs`` resolves such a task config in place)."""
        from trainlab.config.plain import kept

        plain = kept(task_cfg)
        if self.derived is None or plain is None or any(_holds(o.value(), "${") for o in values):
            return None
        if any(_READS_HYDRA in text for text in self.derived.other):  # resolved in place (_task_configs)
            return None
        return self.derived.written(plain, [o.key_or_group for o in values])

    def written_hydra(self, hydra: DictConfig, output_dir: str) -> dict[str, Any] | None:
        """``OmegaConf.to_container(hydra, resolve=False, enum_to_str=True)`` of a job's
        ``hydra`` node (a copy of the composition's): the composition's, with what the
        launcher sets for each job, its ``job`` and ``overrides`` sections (number, override
        list, ``override_dirname``) and ``runtime.output_dir``, read from the job's."""
        import marshal

        if self.hydra is None:
            return None
        values = marshal.loads(self.hydra)
        for section in ("job", "overrides"):
            values[section] = OmegaConf.to_container(hydra[section], enum_to_str=True)
        values["runtime"]["output_dir"] = output_dir
        return values


def _task_configs(
    configs: list[DictConfig],
    sources: list[tuple[tuple[str, ...], list[Any]] | None],
    compositions: dict[tuple[str, ...], _Composition],
) -> list[DictConfig]:
    """Each job's task config (its config less the ``hydra`` node), read-only with its plain
    values kept (``trainlab.config.plain``). A job set up on a shared composition (``sources``)
    gets a copy of the composition's task config with its values set, and its plain values
    derived from the composition's, so the checks, the grouping and the files read them without
    converting each job's config (3 ms a job). A task config that reads Hydra's
    (``${hydra:...}``) has those resolved with ``HydraConfig`` set to its job's, where a stack
    would read them with another job's; whether it does is read once per composition, then
    from each job's values set on it."""
    from trainlab.config.plain import frozen, keep

    reads: dict[tuple[str, ...] | None, bool] = {}
    tasks = []
    _AS_WRITTEN.clear()
    held = HydraConfig.instance().cfg  # the launcher's, back once the tasks are read
    for config, source in zip(configs, sources, strict=True):
        composition = None if source is None else compositions[source[0]]
        task = None if composition is None or source is None else composition.copy(source[1])
        task = _without_hydra(config) if task is None else task
        chosen = None if source is None else source[0]
        if chosen is None or chosen not in reads:
            reads[chosen] = _READS_HYDRA in OmegaConf.to_yaml(task)
        if reads[chosen] or (source is not None and any(_holds(o.value(), _READS_HYDRA) for o in source[1])):
            set_hydra_config(config)
            _AS_WRITTEN[id(task)] = OmegaConf.to_container(task, enum_to_str=True)
            OmegaConf.resolve(task)
        elif source is not None and composition is not None and composition.derived is not None:
            values = composition.derived.derive(task, [o.key_or_group for o in source[1]])
            if values is not None:
                keep(task, values)
        tasks.append(task)
    HydraConfig.instance().cfg = held
    frozen(tasks)
    return tasks
