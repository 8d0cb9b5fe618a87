"""Claim 12: regularization, dropout and early stopping.

The too-big network of claim 11 (two hidden layers of 128, Adam, 200 epochs) on the same 120 noisy
moons. Dropout (p = 0.5, the schema's default) against none, ``SEEDS`` seeds each, each set of seeds
trained as one stack (``trainlab.run_sweep``): the gap is the last epoch's validation loss minus its
training loss (the training loss is measured with dropout on, as it trains). Early stopping (patience
10 on val/loss) on seed 0: where it stopped, and the best epoch whose weights it restored.
"""

from __future__ import annotations

import json
import statistics

import trainlab
from trainlab.api import run_sweep
from trainlab.course.common import QUIET, Course, Section, fmt, train_command
from trainlab.course.plots import pyplot, save

EXPERIMENT = "experiment=course/regularization"
SEEDS = 3
SETTINGS: dict[str, str] = {"none": "regularization=[]", "dropout": "regularization=[dropout]"}
EARLY = "regularization=[early_stopping]"


def sweep_overrides(setting: str) -> list[str]:
    return [EXPERIMENT, SETTINGS[setting], f"seed=range(0,{SEEDS})"]


def section(course: Course) -> Section:
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    rows = [["regularization", "val − train loss gap per seed (last epoch)", "mean gap", "final val loss (mean)"]]
    numbers: dict[str, dict] = {}
    for ax, setting in zip(axes, SETTINGS, strict=False):
        results = run_sweep(
            [*sweep_overrides(setting), *QUIET], output_dir=course.run_dir("regularization", setting), verbose=False
        )
        gaps = [r.history[-1]["val/loss"] - r.history[-1]["train/loss"] for r in results]
        final_val = statistics.fmean(r.history[-1]["val/loss"] for r in results)
        numbers[setting] = {"gaps": gaps, "mean_gap": statistics.fmean(gaps), "final_val_loss": final_val}
        rows.append([setting, ", ".join(fmt(g, 3) for g in gaps), fmt(statistics.fmean(gaps), 3), fmt(final_val)])
        for seed, r in enumerate(results):
            epochs = [h["epoch"] for h in r.history]
            (line,) = ax.plot(epochs, [h["val/loss"] for h in r.history], label=f"seed {seed} val")
            ax.plot(epochs, [h["train/loss"] for h in r.history], color=line.get_color(), linestyle="--", linewidth=1)
        ax.set(title=f"{setting}: val (solid), train (dashed)", xlabel="epoch", ylabel="loss")
        ax.legend(fontsize=7)
    early = trainlab.run(
        [EXPERIMENT, EARLY, *QUIET], output_dir=course.run_dir("regularization", "early"), verbose=False
    )
    summary = json.loads((early.run_dir / "summary.json").read_text())
    val = [h["val/loss"] for h in early.history]
    epochs = [h["epoch"] for h in early.history]
    ax = axes[2]
    ax.plot(epochs, val, label="val loss")
    ax.plot(epochs, [h["train/loss"] for h in early.history], label="train loss")
    best = summary["best_epoch"]
    ax.axvline(best, color="green", linestyle=":", label=f"best epoch {best} (restored)")
    ax.axvline(epochs[-1], color="red", linestyle="--", label=f"stopped after epoch {epochs[-1]}")
    ax.set(title="early stopping (seed 0)", xlabel="epoch", ylabel="loss")
    ax.legend(fontsize=7)
    fig.tight_layout()
    save(fig, course.image("regularization.png"))
    numbers["early_stopping"] = {
        "stopped_by": summary["stopped_by"],
        "stopped_early": summary["stopped_early"],
        "best_epoch": summary["best_epoch"],
        "epochs": len(early.history),
        "min_val_loss": min(val),
        "min_val_epoch": epochs[val.index(min(val))],
        "restored_val_loss": early.metrics["val/loss"],
    }
    rows.append(
        [
            "early stopping (seed 0)",
            f"stopped by {summary['stopped_by']} after epoch {epochs[-1]} of 200",
            f"best epoch {summary['best_epoch']}",
            f"restored val loss {fmt(early.metrics['val/loss'])} (min of its history {fmt(min(val))})",
        ]
    )
    return Section(
        key="regularization",
        title="12. Regularization",
        claim="Dropout narrows the gap between training and validation loss of a network too big for its data, and "
        "early stopping ends training soon after the validation loss turns up, keeping the best weights.",
        images=[("regularization.png", "Losses without and with dropout per seed, and an early-stopped run")],
        table=rows,
        commands=[
            *(train_command(["hydra/launcher=stacked", *sweep_overrides(s)], multirun=True) for s in SETTINGS),
            train_command([EXPERIMENT, EARLY]),
        ],
        notes=[
            f"moons, 120 points, noise 0.35; two hidden layers of 128, Adam at lr 0.01, 200 epochs; {SEEDS} seeds "
            "without and with dropout p = 0.5. Early stopping: patience 10 on val/loss, seed 0; the run's "
            "metrics are those of the restored best weights.",
        ],
        numbers=numbers,
    )
