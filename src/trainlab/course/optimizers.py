"""Claim 9: adaptive optimizers (Adam, Adadelta, Adagrad, RMSProp) next to plain gradient descent.

Every optimizer at the default learning rate of its config (trainlab/config/schema/groups.py), ``SEEDS``
seeds each, on will_i_pass; one sweep trains them all (``trainlab.run_sweep`` makes one stack per
optimizer class). The measure: the first epoch at which the validation loss, averaged over the
seeds, is at or below ``TARGET``.
"""

from __future__ import annotations

import statistics

from trainlab.api import run_sweep
from trainlab.course.common import QUIET, Course, Section, fmt, train_command
from trainlab.course.plots import pyplot, save

EXPERIMENT = "experiment=course/optimizers"
OPTIMIZERS: tuple[str, ...] = ("sgd", "adam", "adadelta", "adagrad", "rmsprop")
SEEDS = 3
TARGET = 0.40


def sweep_overrides() -> list[str]:
    """The sweep's command line: every optimizer times every seed."""
    return [EXPERIMENT, "optimizer=" + ",".join(OPTIMIZERS), f"seed=range(0,{SEEDS})"]


def epochs_to(losses: list[float], target: float) -> int | None:
    """The first epoch (from 1) whose loss is at or below ``target``; None if none is."""
    return next((epoch for epoch, loss in enumerate(losses, start=1) if loss <= target), None)


def section(course: Course) -> Section:
    results = run_sweep([*sweep_overrides(), *QUIET], output_dir=course.run_dir("optimizers"), verbose=False)
    # Jobs come back in sweep order: optimizer-major, then seed.
    histories: dict[str, list[list[dict]]] = {name: [] for name in OPTIMIZERS}
    rates: dict[str, float] = {}
    for name, result in zip((o for o in OPTIMIZERS for _ in range(SEEDS)), results, strict=True):
        assert result.config is not None
        histories[name].append(result.history)
        rates[name] = float(result.config.optimizer.lr)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    rows = [
        ["optimizer", "lr (its default)", f"epochs to mean val loss ≤ {TARGET:g}", "per seed", "final val loss (mean)"]
    ]
    numbers: dict[str, dict] = {}
    for name in OPTIMIZERS:
        runs = histories[name]
        epochs = min(len(h) for h in runs)
        mean = [statistics.fmean(h[e]["val/loss"] for h in runs) for e in range(epochs)]
        per_seed = [epochs_to([row["val/loss"] for row in h], TARGET) for h in runs]
        reached = epochs_to(mean, TARGET)
        numbers[name] = {"lr": rates[name], "epochs_to_target": reached, "per_seed": per_seed, "mean_val_loss": mean}
        rows.append(
            [
                name,
                f"{rates[name]:g}",
                str(reached) if reached else f"not in {epochs}",
                ", ".join(str(e) if e else "-" for e in per_seed),
                fmt(mean[-1]),
            ]
        )
        ax.plot(range(1, epochs + 1), mean, label=f"{name} (lr {rates[name]:g})")
    ax.axhline(TARGET, color="grey", linestyle="--", linewidth=1, label=f"target {TARGET:g}")
    ax.set(title=f"Validation loss, mean over {SEEDS} seeds", xlabel="epoch", ylabel="val loss")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save(fig, course.image("optimizers.png"))
    return Section(
        key="optimizers",
        title="9. Adaptive optimizers",
        claim="Adaptive optimizers such as Adam, Adagrad and RMSProp scale each weight's step by its gradients' "
        "history, and at their usual learning rates reach a given loss in fewer epochs than plain gradient descent.",
        images=[("optimizers.png", "Validation loss per epoch, mean over seeds, for each optimizer")],
        table=rows,
        commands=[train_command(["hydra/launcher=stacked", *sweep_overrides()], multirun=True)],
        notes=[
            f"will_i_pass (600 samples), one hidden layer of 16, mini-batches of 32, {SEEDS} seeds per optimizer, "
            "each optimizer at its config's default learning rate; one sweep, one stack per optimizer class.",
            "RMSProp's default lr (0.001) is ten to a thousand times smaller than the others': it is the slowest here, "
            "a reminder that an adaptive optimizer still has a learning rate to set.",
            "'-': that seed's validation loss never reached the target.",
        ],
        numbers=numbers,
    )
