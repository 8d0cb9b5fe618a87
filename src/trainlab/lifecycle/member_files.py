"""The files a trained member leaves, written from memory after its stack: its checkpoints,
its TensorBoard events (with its pictures and weights histograms at its last and best epochs,
for a member whose pictures are drawn) and its pictures, in the form a lone run leaves them. One writer for a
sweep's member (``trainlab.lifecycle.member_dir``) and a cross-validation fold
(``trainlab.lifecycle.folds``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning as L

from trainlab.files.atomic import write_bytes
from trainlab.files.checkpoints import save_atomically, serialized
from trainlab.files.events import EventFile
from trainlab.files.rundir import RunDir
from trainlab.lifecycle.member import Member
from trainlab.models import from_spec
from trainlab.pictures.draw import png_bytes
from trainlab.pictures.inputs import InputPictures
from trainlab.pictures.labels import PlaneLabels
from trainlab.pictures.report import save_input_pictures, save_test_pictures
from trainlab.training import build
from trainlab.training.callbacks.pictures import HISTOGRAM_BINS, epoch_pictures
from trainlab.training.losses import Loss
from trainlab.training.payload import STACKED


def checkpoint(member: Member, state: dict[str, Any], epoch: int, stacked: bool = True) -> dict[str, Any]:
    """A checkpoint of ``member``'s weights ``state`` after ``epoch`` epochs, what prediction
    reads (with ``stacked``: the stack's size, which a sweep's member's resume reads)."""
    steps_per_epoch = member.optimizer_steps // max(len(member.record.history), 1)
    saved = {
        "epoch": epoch - 1,
        "global_step": epoch * steps_per_epoch,
        "pytorch-lightning_version": L.__version__,
        "state_dict": {f"model.{k}": v for k, v in state.items()},
        "history": json.dumps(member.record.history[:epoch]),
        "trainlab": json.dumps(member.extra),
    }
    return saved | ({STACKED: {"size": member.stack_size}} if stacked else {})


def write_checkpoints(member: Member, out: RunDir, stacked: bool = True) -> Path | None:
    """last.ckpt (its final weights, or after Ctrl-C its share of the stack's state) and
    best.ckpt (its best epoch's weights: a diverged member keeps it too, as a lone run's
    best.ckpt stays); best.ckpt's path, if written."""
    record, epochs = member.record, len(member.record.history)
    last: bytes | None = None
    if member.resume_checkpoint is not None:
        out.checkpoints.mkdir(exist_ok=True)
        save_atomically(member.resume_checkpoint, out.last_checkpoint)
    elif epochs:
        out.checkpoints.mkdir(exist_ok=True)
        last = serialized(checkpoint(member, member.last_state, epochs, stacked))
        write_bytes(out.last_checkpoint, last)
    if record.best_epoch is None:
        return None
    if last is not None and record.best_epoch == epochs:  # its best epoch is its last: the same file
        write_bytes(out.best_checkpoint, last)
    else:
        save_atomically(checkpoint(member, member.model.state_dict(), record.best_epoch, stacked), out.best_checkpoint)
    return out.best_checkpoint


def epoch_events(member: Member, metrics: dict[str, float]) -> EventFile:
    """Its TensorBoard events, as a lone run logs them: each epoch's values at step = epoch,
    the test values of ``metrics`` at the last epoch (the hyperparameters follow, with
    ``trainlab.training.loggers.final_events``)."""
    events, history = EventFile(), member.record.history
    for row in history:
        events.scalars({k: v for k, v in row.items() if k not in ("epoch", "epoch_seconds")}, int(row["epoch"]))
    events.scalars({k: v for k, v in metrics.items() if k.startswith("test/")}, len(history))
    return events


def draw(member: Member, out: RunDir, events: EventFile | None) -> list[Path]:
    """The pictures of the weights it ends with, as alone (``trainlab.pictures.report``); the
    test picture also in ``events``."""
    cfg, data, model = member.cfg, member.data, member.model
    loss = Loss(member.loss, data.task, *data.target_scale)
    size, neurons, best = cfg.pictures.size, cfg.pictures.neurons, member.record.best_epoch
    pictures = save_input_pictures(model, loss, data, out.path, size, neurons, epoch=best)
    if events is not None and build.pictures_every(cfg) > 0:
        tensorboard_pictures(member, loss, events)
    return pictures + save_test_pictures(model, loss, data, out.path, events, len(member.record.history))


def tensorboard_pictures(member: Member, loss: Loss, events: EventFile) -> None:
    """In ``events``, what a lone run's TensorBoard shows of its weights, from the two sets a
    member keeps: its pictures (``pictures/<name>``) and weights histograms at its last epoch,
    from its final weights, and its pictures at its best epoch (``pictures/best/<name>``), with
    the histograms there too, from its best weights. A lone run also has them every
    ``pictures.every_n_epochs`` epochs, and the gradients' histograms: its stack kept no other
    weights and no gradients."""
    cfg, data, record = member.cfg, member.data, member.record
    last = from_spec(member.extra["model"])
    last.load_state_dict(member.last_state)
    x, y = data.x_train, loss.targets(data.y_train)
    pictures = InputPictures(
        x, y, data.task, loss.scores, PlaneLabels.of(data), cfg.pictures.size, cfg.pictures.neurons
    )
    logged: set[int] = set()  # epochs whose histograms are logged
    for model, epoch, best in ((last, len(record.history), False), (member.model, record.best_epoch, True)):
        if not epoch:
            continue
        for tag, image in epoch_pictures(pictures, model, record.history, data.task, epoch, best).items():
            _, height, width = image.shape
            events.png(tag, png_bytes(image), height, width, epoch)
        if cfg.pictures.histograms and epoch not in logged:
            for name, parameter in model.named_parameters():
                events.histogram(f"weights/{name}", parameter, epoch, HISTOGRAM_BINS)
            logged.add(epoch)
