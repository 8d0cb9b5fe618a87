"""``python train.py`` (``trainlab-train``, ``python -m trainlab``): Hydra's entry point, the
pre-check before it, and the exit codes."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig
from rich.console import Console
from rich.markup import escape

from trainlab.config.composing import config_dir
from trainlab.config.launch import launched_rank, register_resolvers
from trainlab.config.schema import register as register_schemas
from trainlab.errors import ConfigError, Diverged, Interrupted, Pruned, RankFailed, WriteFailed

EXIT_CONFIG = 2  # a value, file or column trainlab cannot use; nothing was trained
EXIT_DIVERGED = 3  # the loss diverged; summary.json says where
EXIT_WRITE = 4  # a file could not be written (a full or read-only disk); resume= continues
EXIT_RANK_FAILED = 5  # several devices: a rank stopped or did not answer; summary.json names it
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
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    try:
        from trainlab.lifecycle.train import train  # checks the config before it imports Lightning
        from trainlab.training.quiet import quiet_lightning

        quiet_lightning(propagate_to_root=True)
        if rank:
            _quiet_rank()
        overrides = list(hydra_cfg.overrides.task)
        job = _sweep_job(cfg, run_dir, overrides, hydra_cfg) if multirun else None
        if job is not None and job.kept:  # it ended before the sweep stopped
            return job.value
        if job is not None and job.cfg is not None:  # resumed from its checkpoint, or from the start
            cfg, overrides = job.cfg, job.overrides
        result = train(cfg, run_dir, dict(hydra_cfg.runtime.choices), overrides=overrides, script=True)
    except quiet_stops:
        sys.exit(0)
    except ConfigError as error:
        if multirun:  # error: job <n>: ..., recorded in the sweep summary; the others go on
            from trainlab.sweeps.tables import fail_job

            fail_job(run_dir, hydra_cfg.job.num, error)
            return None
        _print_error(error)
        if not rank:
            _remove_if_empty_run(run_dir)
        sys.exit(EXIT_CONFIG)
    except Diverged as error:  # summary.json says diverged; a sweep goes on to its other jobs
        _print_error(error)
        if multirun:
            return None
        sys.exit(EXIT_DIVERGED)
    except Pruned as error:  # an Optuna trial its study's pruner stopped: summary.json says pruned; the search goes on
        Console(stderr=True, soft_wrap=True).print(f"[yellow]pruned:[/] {escape(str(error))}", highlight=False)
        return None
    except Interrupted as error:  # Ctrl-C stops a sweep too
        _print_error(error)
        from trainlab.sweeps.resume import is_grid

        if multirun and is_grid(hydra_cfg.sweeper):
            print(f"continue the whole sweep with: python train.py -m resume={hydra_cfg.sweep.dir}", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except RankFailed as error:  # rank 0 says it; another rank only where rank 0 is the one that stopped
        if rank and (0 not in error.ranks or _rank_zero_said_it(run_dir)):
            sys.exit(0)
        _print_error(error)
        sys.exit(EXIT_RANK_FAILED)
    except WriteFailed as error:  # summary.json says failed (with the file) where the disk took it
        _write_failed(error, cfg, run_dir, hydra_cfg)
        return None
    except Exception as error:  # a sweep's job that failed on anything else: one line, recorded; the others go on
        if not multirun:
            raise
        from trainlab.sweeps.tables import fail_job

        fail_job(run_dir, hydra_cfg.job.num, error)
        return None
    return result.metrics.get(cfg.monitor)


def _sweep_job(cfg: DictConfig, run_dir: Path, overrides: list[str], hydra_cfg: Any) -> Any:
    """A sweep's job: one device each; with ``-m resume=<sweep dir>``, how it goes on
    (``trainlab.sweeps.resume.continued_job``: kept, resumed or run from the start), else None."""
    from trainlab.config.validate import check_one_device
    from trainlab.sweeps.resume import continued_job

    check_one_device(cfg)
    return continued_job(cfg, run_dir, overrides, Path(hydra_cfg.sweep.dir))


def _write_failed(error: WriteFailed, cfg: DictConfig, run_dir: Path, hydra_cfg: Any) -> None:
    """A file the disk refused: one line saying how to go on. A sweep's job is recorded failed
    with the file (``-m resume=`` continues it once space is freed) and the sweep goes on; a
    run exits with ``EXIT_WRITE``."""
    if hydra_cfg.mode == RunMode.MULTIRUN:
        from trainlab.lifecycle.summary import write_failed_summary

        write_failed_summary(run_dir, error)
        _print_error(
            f"job {hydra_cfg.job.num}: {error}; free the space (or mend the disk), then continue the "
            f"sweep with python train.py -m resume={hydra_cfg.sweep.dir}"
        )
        return
    _print_error(f"{error}; free the space (or mend the disk), then {_how_to_continue(cfg, run_dir)}")
    sys.exit(EXIT_WRITE)


def _how_to_continue(cfg: DictConfig, run_dir: Path) -> str:
    """``continue with resume=<run dir>`` where a resume can continue the run (it wrote its
    config; no cross-validation, no learning-rate finder), else ``run the command again``."""
    resumable = (run_dir / "config.yaml").is_file() and cfg.data.get("folds", 1) <= 1 and cfg.tune.name == "none"
    return f"continue with resume={run_dir}" if resumable else "run the command again"


def _rank_zero_said_it(run_dir: Path) -> bool:
    """Whether rank 0 recorded a failure of its own before its process ended (its summary.json
    says failed without naming a rank): a surviving rank then has nothing to add."""
    import json

    try:
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return summary.get("status") == "failed" and "ranks" not in summary


def _one_message_for_a_failing_disk() -> None:
    """A disk that fails (full, read-only) gets one message, from the run: TensorBoard's writer
    thread would print the same failure's traceback, and the log file's handler one per line
    logged."""
    import logging
    import threading

    from trainlab.errors import write_failure

    logging.raiseExceptions = False
    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or write_failure(args.exc_value) is None:
            previous(args)

    threading.excepthook = hook


def _quiet_rank() -> None:
    """A rank other than 0 of a run on several devices logs errors only: rank 0, with the same
    config and the same values, reports (warnings included)."""
    import logging
    import warnings

    import lightning.pytorch  # noqa: F401 (first: importing it sets its loggers' levels)

    for name in ("trainlab", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.simplefilter("ignore")


def _print_error(error: Exception | str) -> None:
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
        from trainlab.sweeps.resume import sweep_command

        args = sys.argv[1:] = sweep_command(args)  # -m resume=<sweep dir>: the sweep's own overrides and dir
        check_extras(args)
        if flags <= {"-m", "--multirun"}:
            check_before_training([a for a in args if not a.startswith("-")], multirun=bool(flags))
    except ConfigError as error:
        _print_error(error)
        sys.exit(EXIT_CONFIG)
    _one_message_for_a_failing_disk()
    _train()
