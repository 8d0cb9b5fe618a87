"""A stack member's run directory, in the form a lone run leaves (``trainlab.files.rundir``).

config.yaml and overrides.yaml, preprocessing.json, checkpoints/best.ckpt (the best
epoch's weights) and last.ckpt (the final ones) that ``Predictor.from_run`` reads, the
TensorBoard events (each epoch's values at step = epoch, the test values, HPARAMS with the
final metrics), the pictures as configured, and summary.json: the lone run's keys, plus
``stack`` (how many members trained together). A diverged member's summary says so as a
lone run's does. A finished member's last.ckpt holds its final weights; after Ctrl-C it
holds the member's share of the stack's training state (``trainlab.training.stack.checkpoint``),
which ``resume=<run dir>`` continues, and summary.json says interrupted, as a lone run's.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import lightning as L

from trainlab.errors import Interrupted
from trainlab.files.checkpoints import save_atomically
from trainlab.files.rundir import RunDir
from trainlab.lifecycle.result import RunResult
from trainlab.lifecycle.stack import Member
from trainlab.lifecycle.summary import finished_summary, write_stop_summary, write_summary
from trainlab.pictures.report import save_input_pictures, save_test_pictures
from trainlab.training.loggers import TensorBoard, hyperparameters
from trainlab.training.losses import Loss
from trainlab.training.payload import STACKED
from trainlab.training.stack.checkpoint import IN_STACK


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
    cfg, record = member.cfg, member.record
    out = RunDir(run_dir)
    out.path.mkdir(parents=True, exist_ok=True)
    if not config_written:
        out.save_config(cfg, overrides)
    out.write_json(out.PREPROCESSING, member.extra["preprocessing"])
    (out.checkpoints / IN_STACK).unlink(missing_ok=True)  # its own files hold it from here
    epochs = len(record.history)
    best = None
    if member.resume_checkpoint is not None:
        out.checkpoints.mkdir(exist_ok=True)
        save_atomically(member.resume_checkpoint, out.last_checkpoint)
    elif epochs:
        out.checkpoints.mkdir(exist_ok=True)
        save_atomically(_checkpoint(member, member.last_state, epochs), out.last_checkpoint)
    if record.best_epoch is not None:  # a diverged member keeps it too, as a lone run's best.ckpt stays
        best = out.best_checkpoint
        save_atomically(_checkpoint(member, member.model.state_dict(), record.best_epoch), best)
    loss = Loss(member.loss, member.data.task, *member.data.target_scale)
    finished = record.diverged is None and member.interrupted is None
    metrics = member.metrics if finished else {}
    logger = _log(member, out, choices, metrics)
    start = time.perf_counter()
    pictures: list[Path] = []
    if cfg.pictures.enabled and finished:  # of the weights it ends with, as alone
        writer = logger.experiment if logger is not None else None
        pictures += save_input_pictures(
            member.model, loss, member.data, out.path, cfg.pictures.size, cfg.pictures.neurons, epoch=record.best_epoch
        )
        pictures += save_test_pictures(member.model, loss, member.data, out.path, writer, epochs)
    if logger is not None:
        logger.finalize("success")
    stack = {"stack": {"size": member.stack_size}}
    if member.interrupted is not None:
        done, kept = member.interrupted
        stop = Interrupted(done, kept, out.path, out.last_checkpoint).at(record.history, out.path, kept)
        write_stop_summary(out.path, stop, cfg.monitor, cfg.mode, stack)
    elif record.diverged is not None:
        stop = record.diverged.at(record.history, out.path, len(record.history))
        write_stop_summary(out.path, stop, cfg.monitor, cfg.mode, stack)
    else:
        summary = finished_summary(
            stopped_by=str(record.stopped_by),
            best_epoch=record.best_epoch,
            epochs=epochs,
            monitor=cfg.monitor,
            mode=cfg.mode,
            task=member.data.task,
            loss=member.loss,
            metrics=metrics,
            device=member.device,
            seconds=(member.fit_seconds, 0.0, time.perf_counter() - start),
            threads=member.threads,
            optimizer_steps=member.optimizer_steps,
            run_dir=out.path,
            best_checkpoint=best,
            logger=cfg.logger.name,
            pictures=pictures,
        )
        write_summary(out.path, summary | stack)
    return RunResult(
        metrics=metrics,
        history=record.history,
        model=member.model,
        run_dir=out.path,
        best_checkpoint=best,
        best_epoch=record.best_epoch,
        stopped_early=record.stopped_by == "early stopping",
        stopped_by="interrupted" if member.interrupted is not None else record.stopped_by,
        device=member.device,
        fit_seconds=member.fit_seconds,
        threads=member.threads,
        config=cfg,
    )


def _log(member: Member, out: RunDir, choices: dict[str, str], metrics: dict[str, float]) -> TensorBoard | None:
    """The member's TensorBoard events, as a lone run logs them."""
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
    params = hyperparameters(member.cfg, choices, member.loss)
    params["launcher"] = STACKED
    log_final_only = metrics if member.record.diverged is None and member.interrupted is None else {}
    logger.log_hyperparams(params, metrics={f"final/{k}": v for k, v in log_final_only.items()})
    return logger
