"""Claim 10: full batch, one example at a time, and mini-batches.

Plain SGD (lr 0.1) on a small will_i_pass, the same seed and number of epochs for each batch
size, every optimizer step's loss logged (``trainer.log_every_n_steps=1`` with the csv logger:
``train/loss_step`` in the run's ``csv/metrics.csv``). Measured: the noise of the per-step loss
(the standard deviation of its step-to-step change), the time per epoch (``fit_seconds`` over
the epochs, validation included) and the validation loss and accuracy after the last epoch.
"""

from __future__ import annotations

import statistics

import numpy as np
import pandas as pd

import trainlab
from trainlab.course.common import QUIET, Course, Section, fmt, train_command
from trainlab.course.plots import pyplot, save

EXPERIMENT = "experiment=course/minibatches"
BATCHES: dict[str, str] = {"full": "full batch", "1": "one example", "32": "mini-batches of 32"}


def overrides(batch: str) -> list[str]:
    return [EXPERIMENT, f"data.batch_size={batch}"]


def step_losses(run_dir) -> np.ndarray:
    """Every optimizer step's training loss, in step order, from the run's csv log."""
    frame = pd.read_csv(run_dir / "csv" / "metrics.csv")
    steps = frame[["step", "train/loss_step"]].dropna().sort_values("step")
    return steps["train/loss_step"].to_numpy(dtype=float)


def section(course: Course) -> Section:
    plt = pyplot()
    fig, (ax_step, ax_val) = plt.subplots(1, 2, figsize=(12, 4))
    rows = [["batch size", "", "steps per epoch", "per-step loss noise", "seconds per epoch", "val loss", "val acc"]]
    numbers: dict[str, dict] = {}
    for batch, label in BATCHES.items():
        # QUIET turns the logger off; the per-step losses need the csv one back.
        result = trainlab.run(
            [*overrides(batch), *QUIET, "logger=csv"], output_dir=course.run_dir("minibatches", batch), verbose=False
        )
        losses = step_losses(result.run_dir)
        epochs = len(result.history)
        per_epoch = len(losses) / epochs
        noise = float(np.std(np.diff(losses)))
        last = result.history[-1]
        numbers[batch] = {
            "steps_per_epoch": per_epoch,
            "noise": noise,
            "seconds_per_epoch": result.fit_seconds / epochs,
            "epoch_seconds": statistics.fmean(h["epoch_seconds"] for h in result.history),
            "val_loss": last["val/loss"],
            "val_acc": last["val/acc"],
        }
        rows.append(
            [
                batch,
                label,
                f"{per_epoch:g}",
                fmt(noise, 3),
                fmt(result.fit_seconds / epochs, 2),
                fmt(last["val/loss"]),
                fmt(last["val/acc"], 3),
            ]
        )
        ax_step.plot(np.arange(1, len(losses) + 1) / per_epoch, losses, label=label, linewidth=0.8, alpha=0.8)
        ax_val.plot([h["epoch"] for h in result.history], [h["val/loss"] for h in result.history], label=label)
    ax_step.set(title="Training loss at every step", xlabel="epoch", ylabel="train loss (the step's batch)")
    ax_val.set(title="Validation loss after each epoch", xlabel="epoch", ylabel="val loss")
    ax_step.legend(fontsize=8)
    ax_val.legend(fontsize=8)
    fig.tight_layout()
    save(fig, course.image("minibatches.png"))
    return Section(
        key="minibatches",
        title="10. Mini-batches",
        claim="Full-batch gradient descent takes one smooth but slow step per epoch, one example at a time takes "
        "many noisy steps and the longest epochs, and mini-batches sit between: far more progress per epoch than "
        "the full batch at a fraction of one-example time.",
        images=[("minibatches.png", "Per-step training loss and per-epoch validation loss for each batch size")],
        table=rows,
        commands=[train_command(overrides(batch)) for batch in BATCHES],
        notes=[
            "will_i_pass (300 samples, 180 for training), one hidden layer of 16, plain SGD at lr 0.1, seed 0, "
            "10 epochs for each batch size.",
            "Per-step loss noise: the standard deviation of the change in the training loss from one step to the "
            "next. Seconds per epoch: fit_seconds / epochs (validation included), on this machine.",
        ],
        numbers=numbers,
    )
