"""A stack member's run directory, in the form a lone run leaves (``trainlab.files.rundir``).

config.yaml and overrides.yaml, preprocessing.json, checkpoints/best.ckpt (the best
epoch's weights) and last.ckpt (the final ones) that ``Predictor.from_run`` reads, the
TensorBoard events (each epoch's values at step = epoch, the test values, HPARAMS with the
final metrics), the pictures as configured, and summary.json: the lone run's keys, plus
``stack`` (how many members trained together). A diverged member's summary says so as a
lone run's does. A finished member's last.ckpt holds its final weights; after Ctrl-C it
holds the member's share of the stack's training state (``trainlab.training.stack.member_checkpoint``),
which ``resume=<run dir>`` continues, and summary.json says interrupted, as a lone run's.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import lightning as L

from trainlab.errors import Interrupted, Stopped
from trainlab.files.checkpoints import save_atomically
from trainlab.files.rundir import RunDir
from trainlab.lifecycle.finish import Outcome, finish
from trainlab.lifecycle.member import Member
from trainlab.lifecycle.result import RunResult
from trainlab.pictures.report import save_input_pictures, save_test_pictures
from trainlab.training.loggers import TensorBoard, hyperparameters, log_final
from trainlab.training.losses import Loss
from trainlab.training.payload import STACKED
from trainlab.training.stack.member_checkpoint import IN_STACK


def _checkpoint(member: Member, state: dict[str, Any], epoch: int) -> dict[str, Any]:
    return {
        "epoch": epoch - 1,
        "global_step": epoch * member.optimizer_steps // max(len(member.record.history), 1),
        "pytorch-lightning_version": L.__version__,
        "state_dict": {f"model.{k}": v for k, v in state.items()},
        "history": json.dumps(member.record.history[:epoch]),
        "trainlab": json.dumps(member.extra),
        STACKED: {"size": member.stack_size},
    }


def write_member(
    member: Member, run_dir: Path, choices: dict[str, str], overrides: list[str], config_written: bool = False
) -> RunResult:
    """Write ``member``'s run directory (see the module doc) and return its RunResult; its
    config.yaml and overrides.yaml too, unless ``config_written`` (before its stack trained)."""
    out = RunDir(run_dir)
    out.path.mkdir(parents=True, exist_ok=True)
    if not config_written:
        out.save_config(member.cfg, overrides)
    out.write_json(out.PREPROCESSING, member.extra["preprocessing"])
    (out.checkpoints / IN_STACK).unlink(missing_ok=True)  # its own files hold it from here
    best = _write_checkpoints(member, out)
    stop = _stop(member, out)
    logger = _log_epochs(member, out, {} if stop else member.metrics)
    start = time.perf_counter()
    pictures = _pictures(member, out, logger) if member.cfg.pictures.enabled and stop is None else []
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
        summary={"stack": {"size": member.stack_size}},
    )
    if logger is not None:
        params = hyperparameters(member.cfg, choices, member.loss) | {"launcher": STACKED}
        log_final(logger, params, {} if stop else member.metrics)
    (result,) = finish([outcome])
    return result


def _write_checkpoints(member: Member, out: RunDir) -> Path | None:
    """last.ckpt (its final weights, or after Ctrl-C its share of the stack's state) and
    best.ckpt (its best epoch's weights: a diverged member keeps it too, as a lone run's
    best.ckpt stays); best.ckpt's path, if written."""
    record, epochs = member.record, len(member.record.history)
    if member.resume_checkpoint is not None:
        out.checkpoints.mkdir(exist_ok=True)
        save_atomically(member.resume_checkpoint, out.last_checkpoint)
    elif epochs:
        out.checkpoints.mkdir(exist_ok=True)
        save_atomically(_checkpoint(member, member.last_state, epochs), out.last_checkpoint)
    if record.best_epoch is None:
        return None
    save_atomically(_checkpoint(member, member.model.state_dict(), record.best_epoch), out.best_checkpoint)
    return out.best_checkpoint


def _stop(member: Member, out: RunDir) -> Stopped | None:
    """How the member stopped before its end (interrupted, diverged), with where; None when it finished."""
    record = member.record
    if member.interrupted is not None:
        done, kept = member.interrupted
        return Interrupted(done, kept, out.path, out.last_checkpoint).at(record.history, out.path, kept)
    if record.diverged is not None:
        return record.diverged.at(record.history, out.path, len(record.history))
    return None


def _pictures(member: Member, out: RunDir, logger: TensorBoard | None) -> list[Path]:
    """The pictures of the weights it ends with, as alone (``trainlab.pictures.report``)."""
    cfg, data, model = member.cfg, member.data, member.model
    loss = Loss(member.loss, data.task, *data.target_scale)
    writer = logger.experiment if logger is not None else None
    size, neurons, best = cfg.pictures.size, cfg.pictures.neurons, member.record.best_epoch
    pictures = save_input_pictures(model, loss, data, out.path, size, neurons, epoch=best)
    return pictures + save_test_pictures(model, loss, data, out.path, writer, len(member.record.history))


def _log_epochs(member: Member, out: RunDir, metrics: dict[str, float]) -> TensorBoard | None:
    """The member's TensorBoard events, as a lone run logs them: each epoch's values at step =
    epoch, the test values at the last epoch (its hyperparameters follow, with ``log_final``)."""
    if member.cfg.logger.name != "tensorboard":
        return None
    for old in out.path.glob("events.out.tfevents.*"):  # an interrupted member's, now resumed: all again
        old.unlink()
    logger = TensorBoard(save_dir=str(out.path), name="", version="", default_hp_metric=False)
    for row in member.record.history:
        logger.log_metrics(
            {k: v for k, v in row.items() if k not in ("epoch", "epoch_seconds")}, step=int(row["epoch"])
        )
    tests = {k: v for k, v in metrics.items() if k.startswith("test/")}
    if tests:
        logger.log_metrics(tests, step=len(member.record.history))
    return logger
