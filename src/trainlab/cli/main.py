"""``python train.py`` (``trainlab-train``, ``python -m trainlab``): Hydra's entry point, the
pre-check before it, and the exit codes."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig
from rich.console import Console
from rich.markup import escape

from trainlab.config.composing import config_dir
from trainlab.config.launch import launched_rank, register_resolvers
from trainlab.config.schema import register as register_schemas
from trainlab.errors import ConfigError, Diverged, Interrupted, Pruned

EXIT_CONFIG = 2  # a value, file or column trainlab cannot use; nothing was trained
EXIT_DIVERGED = 3  # the loss diverged; summary.json says where
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), after a clean stop

register_resolvers()  # before Hydra composes conf/train.yaml (hydra.run.dir)
register_schemas()  # the /schema/... entries conf/'s defaults lists name


@hydra.main(config_path=str(config_dir()), config_name="train", version_base="1.3")
def _train(cfg: DictConfig) -> float | None:
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    rank = launched_rank()  # several devices: rank 0 speaks for the run (trainlab.training.distributed)
    # On ranks other than 0 a stop (diverged, Ctrl-C) exits with 0: rank 0 says so and gives the
    # exit code; another code would make Lightning's launcher kill rank 0 while it writes.
    quiet_stops: tuple[type[Exception], ...] = (Diverged, Interrupted) if rank else ()
    try:
        from trainlab.lifecycle.train import train  # checks the config before it imports Lightning
        from trainlab.training.quiet import quiet_lightning

        quiet_lightning(propagate_to_root=True)
        if rank:
            _quiet_rank()
        if hydra_cfg.mode == RunMode.MULTIRUN:
            from trainlab.config.validate import check_one_device

            check_one_device(cfg)
        overrides = list(hydra_cfg.overrides.task)
        result = train(cfg, run_dir, dict(hydra_cfg.runtime.choices), overrides=overrides, script=True)
    except quiet_stops:
        sys.exit(0)
    except ConfigError as error:
        _print_error(error)
        if hydra_cfg.mode == RunMode.MULTIRUN:  # recorded in the sweep summary; the other jobs go on
            from trainlab.sweeps.tables import record_failure

            record_failure(run_dir, str(error))
            return None
        if not rank:
            _remove_if_empty_run(run_dir)
        sys.exit(EXIT_CONFIG)
    except Diverged as error:  # summary.json says diverged; a sweep goes on to its other jobs
        _print_error(error)
        if hydra_cfg.mode == RunMode.MULTIRUN:
            return None
        sys.exit(EXIT_DIVERGED)
    except Pruned as error:  # an Optuna trial its study's pruner stopped: summary.json says pruned; the search goes on
        Console(stderr=True, soft_wrap=True).print(f"[yellow]pruned:[/] {escape(str(error))}", highlight=False)
        return None
    except Interrupted as error:  # Ctrl-C stops a sweep too
        _print_error(error)
        sys.exit(EXIT_INTERRUPTED)
    return result.metrics.get(cfg.monitor)


def _quiet_rank() -> None:
    """A rank other than 0 of a run on several devices logs errors only: rank 0, with the same
    config and the same values, reports (warnings included)."""
    import logging
    import warnings

    import lightning.pytorch  # noqa: F401 (first: importing it sets its loggers' levels)

    for name in ("trainlab", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.simplefilter("ignore")


def _print_error(error: Exception) -> None:
    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)


def _remove_if_empty_run(run_dir: Path) -> None:
    """Drop a run dir that holds only Hydra's own files (a rejected config trained nothing),
    and the date and outputs/ folders above it that it leaves empty."""
    if run_dir.is_dir() and {p.name for p in run_dir.iterdir()} <= {".hydra", "train.log"}:
        shutil.rmtree(run_dir, ignore_errors=True)
        for parent in list(run_dir.resolve().parents)[:2]:  # outputs/<date>, outputs
            if parent == Path.cwd().resolve() or any(parent.iterdir()):
                break
            parent.rmdir()


def train() -> None:
    """``trainlab-train [group=option ...] [key=value ...]`` (Hydra's command line; ``-m`` sweeps).

    ``--help`` answers from conf/ alone. Before Hydra starts, the overrides are composed and
    checked (every job of a sweep): a config error is one message, exit 2, with nothing
    trained and no directory left behind. Other Hydra flags go to Hydra unchecked."""
    args = sys.argv[1:]
    if any(a in ("-h", "--help") for a in args):
        from trainlab.cli.usage import help_text

        print(help_text())
        return
    from trainlab.cli.extras import check_extras
    from trainlab.cli.precheck import check_before_training

    flags = {a for a in args if a.startswith("-")}
    try:
        check_extras(args)
        if flags <= {"-m", "--multirun"}:
            check_before_training([a for a in args if not a.startswith("-")], multirun=bool(flags))
    except ConfigError as error:
        _print_error(error)
        sys.exit(EXIT_CONFIG)
    _train()
