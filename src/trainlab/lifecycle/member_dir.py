"""A stack member's run directory, in the form a lone run leaves (``trainlab.files.rundir``).

config.yaml and overrides.yaml, preprocessing.json, checkpoints/best.ckpt (the best
epoch's weights) and last.ckpt (the final ones) that ``Predictor.from_run`` reads, the
TensorBoard events (each epoch's values at step = epoch, the test values, HPARAMS with the
final metrics; one ``EventFile`` written whole, no logger), the pictures as configured (for a
member among its stack's best, ``pictures.sweep_best``: the others' summary.json says
``pictures_later``), and summary.json: the lone run's keys, plus ``stack`` (how many members
trained together). The files go through ``trainlab.files.atomic``: inside the sweep's
``durable_batch`` a stack's members are made durable together. A job with cross-validation
(``FoldedJob``) is written as a lone run of folds (``fold_<k>/``, ``fold_outcome``). A
diverged member's summary says so as a lone run's does. A finished member's last.ckpt holds
its final weights; after Ctrl-C it holds the member's share of the stack's training state
(``trainlab.training.stack.member_checkpoint``), which ``resume=<run dir>`` continues, and
summary.json says interrupted, as a lone run's.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from trainlab.config.hparams import hyperparameters
from trainlab.config.plain import readable
from trainlab.errors import Interrupted, Stopped
from trainlab.files.events import EventFile
from trainlab.files.rundir import RunDir
from trainlab.lifecycle.finish import Outcome, finish
from trainlab.lifecycle.fold_outcome import folds_outcome
from trainlab.lifecycle.member import FoldedJob, Member
from trainlab.lifecycle.member_files import draw, epoch_events, write_checkpoints
from trainlab.lifecycle.result import RunResult
from trainlab.training.loggers import final_events


def write_member(
    member: Member | FoldedJob,
    run_dir: Path,
    choices: dict[str, str],
    overrides: list[str],
    config_written: bool = False,
) -> RunResult:
    """Write ``member``'s run directory (see the module doc) and return its RunResult; its
    config.yaml and overrides.yaml too, unless ``config_written`` (before its stack trained)."""
    out = RunDir(run_dir)
    out.path.mkdir(parents=True, exist_ok=True)
    if isinstance(member, FoldedJob):
        return _write_folded(member, out, choices, overrides, config_written)
    if not config_written:
        out.save_config(member.cfg, overrides)
    out.write_json(out.PREPROCESSING, member.extra["preprocessing"])
    best = write_checkpoints(member, out)
    stop = _stop(member, out)
    events = _events(member, {} if stop else member.metrics)
    start = time.perf_counter()
    drawn = readable(member.cfg)["pictures"]["enabled"] and stop is None
    pictures = draw(member, out, events) if drawn and member.pictures else []
    outcome = Outcome(
        cfg=member.cfg,
        run_dir=out.path,
        task=member.data.task,
        loss=member.loss,
        history=member.record.history,
        epochs=len(member.record.history),
        best_epoch=member.record.best_epoch,
        stopped_by=member.record.stopped_by,
        metrics=member.metrics,
        model=member.model,
        best_checkpoint=best,
        device=member.device,
        seconds=(member.fit_seconds, 0.0, time.perf_counter() - start),
        threads=member.threads,
        optimizer_steps=member.optimizer_steps,
        pictures=pictures,
        stop=stop,
        summary={"stack": {"size": member.stack_size}} | ({} if member.pictures or not drawn else _later(out.path)),
    )
    if events is not None:
        params = hyperparameters(member.cfg, choices, member.loss, overrides)
        final_events(events, params, {} if stop else member.metrics)
        for old in out.path.glob("events.out.tfevents.*"):  # an interrupted member's, now resumed: all again
            old.unlink()
        events.write(out.path)
    (result,) = finish([outcome])
    return result


def _write_folded(
    job: FoldedJob, out: RunDir, choices: dict[str, str], overrides: list[str], config_written: bool
) -> RunResult:
    """A job with cross-validation: each fold in ``fold_<k>/`` and its summary.json, as a lone
    run of folds leaves them (``fold_outcome.folds_outcome``), with ``stack`` beside."""
    first = job.folds[0]
    if not config_written:
        out.save_config(first.cfg, overrides)
    params = hyperparameters(first.cfg, choices, first.loss, overrides)
    outcome = folds_outcome(first.cfg, job.folds, out.path, params)
    outcome.summary["stack"] = {"size": first.stack_size}
    (result,) = finish([outcome])
    return result


def _stop(member: Member, out: RunDir) -> Stopped | None:
    """How the member stopped before its end (pruned, interrupted, diverged), with where; None
    when it finished. A pruned member (an Optuna trial its study's pruner stopped, even in a
    stack Ctrl-C cut later) is written as a lone pruned trial: its last.ckpt keeps every epoch
    it trained."""
    record = member.record
    if record.pruned is not None:
        return record.pruned.at(record.history, out.path, len(record.history))
    if member.interrupted is not None:
        done, kept = member.interrupted
        return Interrupted(done, kept, out.path, out.last_checkpoint).at(record.history, out.path, kept)
    if record.diverged is not None:
        return record.diverged.at(record.history, out.path, len(record.history))
    return None


def _later(run_dir: Path) -> dict[str, Any]:
    """What summary.json says of pictures not drawn (not among its stack's best)."""
    why = "not among its stack's best (pictures.sweep_best)"
    return {"pictures_later": f"{why}; draw them: trainlab-pictures {run_dir}"}


def _events(member: Member, metrics: dict[str, float]) -> EventFile | None:
    """The member's TensorBoard events (``member_files.epoch_events``); None when it logs elsewhere."""
    return epoch_events(member, metrics) if readable(member.cfg)["logger"]["name"] == "tensorboard" else None
