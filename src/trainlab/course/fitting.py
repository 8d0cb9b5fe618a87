"""Claim 11: underfitting and overfitting.

Three networks on the same few, noisy moons (120 points, noise 0.35), Adam, no dropout and no early
stopping, 200 epochs: the perceptron (too small), one hidden layer of 8 (about right), two hidden
layers of 128 (too big). The big one drives its training loss towards zero while its validation loss
turns up after its minimum.
"""

from __future__ import annotations

import trainlab
from trainlab.course.common import QUIET, Course, Section, fmt, train_command
from trainlab.course.plots import pyplot, save

EXPERIMENT = "experiment=course/fitting"
NETWORKS: dict[str, list[str]] = {
    "perceptron (too small)": ["model=perceptron"],
    "1 hidden layer of 8 (right)": ["model=mlp", "model.hidden=[8]"],
    "2 hidden layers of 128 (too big)": ["model=mlp", "model.hidden=[128,128]"],
}
KEYS = ("small", "right", "big")


def section(course: Course) -> Section:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(NETWORKS), figsize=(14, 3.8), sharey=True)
    rows = [["network", "final train loss", "final val loss", "min val loss (epoch)", "final val acc"]]
    numbers: dict[str, dict] = {}
    for ax, key, (name, model) in zip(axes, KEYS, NETWORKS.items(), strict=True):
        result = trainlab.run([EXPERIMENT, *model, *QUIET], output_dir=course.run_dir("fitting", key), verbose=False)
        epochs = [h["epoch"] for h in result.history]
        train = [h["train/loss"] for h in result.history]
        val = [h["val/loss"] for h in result.history]
        best = min(range(len(val)), key=val.__getitem__)
        numbers[key] = {
            "name": name,
            "final_train_loss": train[-1],
            "final_val_loss": val[-1],
            "min_val_loss": val[best],
            "min_val_epoch": epochs[best],
            "final_val_acc": result.history[-1]["val/acc"],
        }
        rows.append(
            [
                name,
                fmt(train[-1]),
                fmt(val[-1]),
                f"{fmt(val[best])} ({epochs[best]})",
                fmt(result.history[-1]["val/acc"], 3),
            ]
        )
        ax.plot(epochs, train, label="train loss")
        ax.plot(epochs, val, label="val loss")
        ax.axvline(epochs[best], color="grey", linestyle=":", linewidth=1, label=f"min val loss, epoch {epochs[best]}")
        ax.set(title=name, xlabel="epoch", ylabel="loss")
        ax.legend(fontsize=7)
    fig.tight_layout()
    save(fig, course.image("fitting.png"))
    return Section(
        key="fitting",
        title="11. Overfitting and underfitting",
        claim="A network too small underfits (both losses stay high); one too big for the data overfits: its "
        "training loss keeps falling while its validation loss turns up.",
        images=[("fitting.png", "Training and validation loss per epoch for a small, a right and a big network")],
        table=rows,
        commands=[train_command([EXPERIMENT, *model]) for model in NETWORKS.values()],
        notes=[
            "moons, 120 points (72 for training), noise 0.35; Adam at lr 0.01, mini-batches of 32, seed 0, 200 "
            "epochs, no dropout and no early stopping. The curves are the losses after each epoch.",
        ],
        numbers=numbers,
    )
