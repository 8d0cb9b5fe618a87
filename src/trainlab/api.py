"""The public face: ``run()`` trains once, ``run_sweep()`` trains a sweep's jobs in stacks,
each as ``python train.py`` would (``RunResult``: what each gives back)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from trainlab.config.composing import compose
from trainlab.config.jobs import compose_jobs, sweep_jobs
from trainlab.config.launch import launcher_dir, register_resolvers, unique_dir
from trainlab.errors import ConfigError
from trainlab.lifecycle.result import RunResult
from trainlab.lifecycle.resume import resume_target
from trainlab.training.quiet import SILENT, quiet_logs

__all__ = ["RunResult", "run", "run_sweep"]

register_resolvers()  # conf/train.yaml's hydra.run.dir


def run(overrides: Sequence[str] = (), output_dir: str | Path | None = None, verbose: bool = True) -> RunResult:
    """Train with the same configs and overrides as ``python train.py``.

    The run writes to ``output_dir``, or else to a new ``outputs/<date>/<time>`` under the
    current directory; the result's paths are absolute. Invalid values (an unknown option
    or key included) raise ``trainlab.errors.ConfigError`` before training. With
    ``verbose=False`` nothing is printed: no progress bar, model summary, result table or
    Lightning messages (warnings still are).
    """
    from rich.console import Console

    from trainlab.lifecycle.train import train

    cfg, choices = compose([*overrides, *(() if verbose else SILENT)])
    target = resume_target(cfg)
    if target is not None:
        run_dir = target[0]
        if output_dir is not None and Path(output_dir).resolve() != run_dir.resolve():
            raise ConfigError(
                f"output_dir={str(output_dir)!r}: a resumed run continues in its own directory, {run_dir}"
            )
    else:
        if output_dir is not None:
            run_dir = Path(output_dir)
        else:  # under torchrun or SLURM: the same for every rank (trainlab.config.launch)
            run_dir = Path(launcher_dir("outputs") or unique_dir(Path("outputs")))
    with quiet_logs(not verbose):
        console = None if verbose else Console(quiet=True)
        return train(cfg, run_dir.resolve(), choices, console, overrides=[*overrides])


def run_sweep(
    overrides: Sequence[str] = (),
    output_dir: str | Path | None = None,
    max_stack: int | None = None,
    verbose: bool = True,
) -> list[RunResult | ConfigError]:
    """Train every job of a grid sweep as ``python train.py -m hydra/launcher=stacked ...``
    would: ``overrides`` as on that command line (``seed=range(0,8)``, ``optimizer.lr=0.001,0.01``).

    Job n writes its run directory to ``output_dir/<n>`` (default: a new
    ``outputs/multirun/<date>/<time>``), in the same form as a lone run's; the sweep's
    summary.csv and summary.md go to ``output_dir``. Returns one ``RunResult`` per job, in
    job order (a diverged job's has empty metrics and its summary.json says diverged; a job
    that failed on something only its data shows gives its ConfigError, and its summary.json
    says failed).
    Raises ConfigError, before anything trains, naming every job that cannot run, and
    ``SweepInterrupted`` on Ctrl-C (naming the jobs written and those that were not).
    """
    from trainlab.sweeps.collector import fewer_collections
    from trainlab.sweeps.stacked_sweep import train_sweep

    jobs = sweep_jobs(overrides)
    with fewer_collections():
        composed = compose_jobs([[*job, *(() if verbose else SILENT)] for job in jobs], keep_plain=True)
        sweep_dir = (Path(output_dir) if output_dir is not None else unique_dir(Path("outputs/multirun"))).resolve()
        return train_sweep(composed, jobs, sweep_dir, max_stack, verbose)
