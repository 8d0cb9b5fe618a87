"""The end-of-run summary: a Rich table on the terminal and summary.json in the run dir."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from trainlab.errors import Diverged, Pruned, RankFailed, Stopped, WriteFailed
from trainlab.files.batch import is_file
from trainlab.files.rundir import RunDir


def write_summary(run_dir: str | os.PathLike[str], summary: dict[str, Any]) -> Path:
    """Write ``summary`` as run_dir/summary.json, atomically (``RunDir.write_json``)."""
    out = RunDir(run_dir)
    return out.write_json(out.SUMMARY, summary)


def finished_summary(
    *,
    stopped_by: str,
    best_epoch: int | None,
    epochs: int,
    monitor: str,
    mode: str,
    task: str,
    loss: str,
    metrics: dict[str, float],
    device: str,
    seconds: tuple[float, float, float],
    threads: int,
    optimizer_steps: int,
    run_dir: Path,
    best_checkpoint: Path | None,
    logger: str,
    pictures: list[Path],
) -> dict[str, Any]:
    """summary.json of a run that finished: its status, how it stopped, the metrics of its
    best weights, where it ran and for how long (``seconds``: fit, test, pictures), where
    its files are (``pictures`` relative to ``run_dir``)."""
    return {
        "status": "early-stopped" if stopped_by == "early stopping" else "finished",
        "best_epoch": best_epoch,
        "epochs": epochs,
        "stopped_early": stopped_by == "early stopping",
        "stopped_by": stopped_by,
        "monitor": monitor,
        "mode": mode,
        "task": task,
        "loss": loss,
        "metrics": metrics,
        "device": device,
        "fit_seconds": seconds[0],
        "test_seconds": seconds[1],
        "pictures_seconds": seconds[2],
        "threads": threads,
        "optimizer_steps": optimizer_steps,
        "run_dir": str(run_dir),
        "best_checkpoint": str(best_checkpoint) if best_checkpoint else None,
        "logger": logger,
        "pictures": [str(p.relative_to(run_dir)) for p in pictures],
    }


def print_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    """Best epoch, val and test metrics, the run directory, the checkpoint and the
    command that opens TensorBoard on this run."""
    # soft_wrap: paths and the tensorboard command stay on one line, ready to copy. The
    # table's cells fold on a narrow console (80 columns where no terminal is attached): names are never cut.
    console = console or Console(soft_wrap=True)
    metrics = summary["metrics"]
    names = sorted({k.split("/", 1)[1] for k in metrics}, key=lambda n: (n != "loss", n))
    table = Table(title=f"trainlab run: {summary['status']}", title_justify="left")
    stages = [s for s in ("val", "test") if any(k.startswith(f"{s}/") for k in metrics)]
    table.add_column("metric", overflow="fold")
    for stage in stages:
        table.add_column(stage, justify="right", overflow="fold")
    std = summary.get("metrics_std", {})
    for name in names:
        table.add_row(name, *(_fmt(metrics.get(f"{s}/{name}"), std.get(f"{s}/{name}")) for s in stages))
    console.print(table)
    if "folds" in summary:
        n = len(summary["folds"])
        console.print(f"folds          {n} (mean ± std over folds; the model kept is fold {summary['best_fold']}'s)")
    epochs = summary["epochs"]
    stop = summary["stopped_by"]
    console.print(
        f"best epoch     {summary['best_epoch']} of {epochs} (stopped by {stop}; metrics of the best weights)"
    )
    console.print(f"device         {summary['device']}")
    console.print(f"run directory  {summary['run_dir']}")
    console.print(f"checkpoint     {summary['best_checkpoint']}")
    if summary.get("submission"):
        console.print(f"submission     {summary['submission']}")
    if summary.get("logger") == "tensorboard":
        console.print(f"tensorboard    tensorboard --logdir {summary['run_dir']}")


def _fmt(value: float | None, std: float | None = None) -> str:
    if value is None:
        return ""
    return f"{value:.4f}" if std is None else f"{value:.4f} ± {std:.4f}"


def write_stop_summary(
    run_dir: str | os.PathLike[str], stop: Stopped, monitor: str, mode: str, extra: dict[str, Any] | None = None
) -> Path:
    """summary.json of a run that diverged, was interrupted or pruned (an Optuna trial: the
    epoch it was pruned at, its monitored value then and the trial's number): why, where,
    and the checkpoint it keeps, with the number of finished epochs in it (``stop.history``,
    ``stop.out_dir`` and ``stop.epochs_kept`` are set by the fit); ``extra`` keys added."""
    out = RunDir(run_dir)
    last = RunDir(stop.out_dir or out.path).last_checkpoint
    summary: dict[str, Any] = {
        "status": "diverged" if isinstance(stop, Diverged) else "interrupted",
        "error": str(stop),
        "epochs": len(stop.history),
        "monitor": monitor,
        "mode": mode,
        "metrics": {},
        "run_dir": str(out.path),
        "last_checkpoint": str(last) if is_file(last) else None,
        "epochs_kept": stop.epochs_kept if is_file(last) else 0,
    }
    if isinstance(stop, Diverged):
        summary |= {"epoch": stop.epoch, "step": stop.step, "loss": stop.loss, "lr": stop.lr}
    if isinstance(stop, RankFailed):  # several devices: a rank stopped (the ranks named)
        summary |= {"status": "failed", "ranks": stop.ranks}
    if isinstance(stop, Pruned):  # not an error: the sweep's table says pruned, and the epoch
        del summary["error"]
        summary |= {"status": "pruned", "epoch": stop.epoch, "trial": stop.trial, "value": stop.value}
    return out.write_json(out.SUMMARY, summary | (extra or {}))


def write_failed_summary(run_dir: str | os.PathLike[str], failure: WriteFailed) -> None:
    """summary.json of a run that stopped because a file could not be written: status
    ``failed``, the file and the reason, and the checkpoint ``resume=`` continues from. Written
    only where the run's summary does not already say it finished, and only if the disk
    takes it (a full disk may not take even this: the message said it)."""
    out = RunDir(run_dir)
    last = out.last_checkpoint
    summary = {
        "status": "failed",
        "error": str(failure),
        "file": None if failure.path is None else str(failure.path),
        "run_dir": str(out.path),
        "last_checkpoint": str(last) if is_file(last) else None,
    }
    with contextlib.suppress(OSError, ValueError):
        if out.path.is_dir() and (out.read_json(out.SUMMARY) or {}).get("status") not in ("finished", "failed"):
            out.write_json(out.SUMMARY, summary)
