"""How a run ends: its summary.json and its RunResult, one path for a lone run and a stack's members.

A lone run is one ``Outcome``; a stack's members are many, handed over together (``finish``
walks the member axis once). A finished outcome's summary.json is ``summary.finished_summary``
with the outcome's own keys beside (a stack's size; cross-validation's folds; the
submission; the learning-rate finder's suggestion); a stack's member that diverged or was
interrupted gets a stopped run's summary (``summary.write_stop_summary``), as a lone run that
stops does before it raises. TensorBoard's record of the run (its hyperparameters with the
final metrics) is ``trainlab.training.loggers.log_final``'s, for both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from trainlab.config.plain import readable
from trainlab.errors import Diverged, Pruned, Stopped
from trainlab.files.rundir import RunDir
from trainlab.lifecycle.result import RunResult
from trainlab.lifecycle.summary import finished_summary, write_stop_summary


@dataclass
class Outcome:
    """One member's training as it ended (a lone run is one member), ready to be summarised.

    ``stopped_by``: what ended a finished run (early stopping, max_epochs, max_steps, max_time);
    ``stop``: how a stack's member stopped instead (``Diverged`` or ``Interrupted``, with where);
    ``seconds``: fit, test and pictures; ``summary``: keys added to its summary.json.
    """

    cfg: DictConfig
    run_dir: Path
    task: str
    loss: str
    history: list[dict[str, float]]
    epochs: int  # of the model kept (cross-validation: the best fold's)
    best_epoch: int | None
    stopped_by: str | None
    metrics: dict[str, float]
    model: Any
    best_checkpoint: Path | None
    device: str
    seconds: tuple[float, float, float] = (0.0, 0.0, 0.0)
    threads: int = 1
    optimizer_steps: int = 0
    pictures: list[Path] = field(default_factory=list)
    stop: Stopped | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    metrics_std: dict[str, float] = field(default_factory=dict)
    folds: list[dict[str, float]] = field(default_factory=list)
    submission: Path | None = None


def finish(outcomes: Sequence[Outcome], writes: bool = True) -> list[RunResult]:
    """Each outcome's summary.json (with ``writes``: global rank 0 of a run on several devices
    alone writes) and its RunResult, in order."""
    results = []
    for outcome in outcomes:
        cfg = outcome.cfg
        if outcome.stop is not None:
            if writes:
                write_stop_summary(outcome.run_dir, outcome.stop, cfg.monitor, cfg.mode, outcome.summary)
            results.append(_result(outcome, stopped=True))
            continue
        if writes:
            out = RunDir(outcome.run_dir)
            out.write_json(out.SUMMARY, _summary_of(outcome))
        results.append(_result(outcome, stopped=False))
    return results


def _summary_of(outcome: Outcome) -> dict[str, Any]:
    """A finished outcome's summary.json."""
    values = readable(outcome.cfg)
    summary = finished_summary(
        stopped_by=str(outcome.stopped_by),
        best_epoch=outcome.best_epoch,
        epochs=outcome.epochs,
        monitor=values["monitor"],
        mode=values["mode"],
        task=outcome.task,
        loss=outcome.loss,
        metrics=outcome.metrics,
        device=outcome.device,
        seconds=outcome.seconds,
        threads=outcome.threads,
        optimizer_steps=outcome.optimizer_steps,
        run_dir=outcome.run_dir,
        best_checkpoint=outcome.best_checkpoint,
        logger=values["logger"]["name"],
        pictures=outcome.pictures,
    )
    if outcome.submission is not None:
        summary["submission"] = str(outcome.submission)
    return summary | outcome.summary


def _result(outcome: Outcome, stopped: bool) -> RunResult:
    stop = outcome.stop
    how = "diverged" if isinstance(stop, Diverged) else "pruned" if isinstance(stop, Pruned) else "interrupted"
    stopped_by = how if stopped else outcome.stopped_by
    return RunResult(
        metrics={} if stopped else outcome.metrics,
        history=outcome.history,
        model=outcome.model,
        run_dir=outcome.run_dir,
        best_checkpoint=outcome.best_checkpoint,
        best_epoch=outcome.best_epoch,
        stopped_early=outcome.stopped_by == "early stopping",
        stopped_by=stopped_by,
        device=outcome.device,
        metrics_std=outcome.metrics_std,
        folds=outcome.folds,
        submission=outcome.submission,
        fit_seconds=outcome.seconds[0],
        threads=outcome.threads,
        config=outcome.cfg,
    )
