"""Claim 8: setting the learning rate of gradient descent, W <- W - lr * dJ/dW.

A small rate converges slowly, a large one overshoots and becomes unstable, a much larger one
diverges; a stable one converges smoothly. Plain SGD on will_i_pass, ``SEEDS`` seeds per rate,
all trained by one stacked sweep (``trainlab.run_sweep``: the jobs share shapes, so they train
as one stacked model). A run that diverges is recorded, not raised: its summary.json says
status diverged, with the epoch and loss where it stopped (``trainlab.errors.Diverged``).
"""

from __future__ import annotations

import json
import statistics

from trainlab.api import run_sweep
from trainlab.course.common import QUIET, Course, Section, fmt, train_command
from trainlab.course.plots import pyplot, save

EXPERIMENT = "experiment=course/learning_rate"
RATES: dict[float, str] = {0.001: "too small", 0.3: "good", 10.0: "too large", 300.0: "far too large"}
SEEDS = 3


def sweep_overrides() -> list[str]:
    """The sweep's command line: every rate times every seed."""
    return [EXPERIMENT, "optimizer.lr=" + ",".join(f"{lr:g}" for lr in RATES), f"seed=range(0,{SEEDS})"]


def section(course: Course) -> Section:
    results = run_sweep([*sweep_overrides(), *QUIET], output_dir=course.run_dir("learning_rate"), verbose=False)
    runs: dict[float, list[dict]] = {lr: [] for lr in RATES}
    for result in results:
        summary = json.loads((result.run_dir / "summary.json").read_text())
        assert result.config is not None
        lr = float(result.config.optimizer.lr)
        runs[lr].append({"status": summary["status"], "history": result.history, "summary": summary})
    plt = pyplot()
    fig, axes = plt.subplots(1, len(RATES), figsize=(14, 3.6))
    rows = [["lr", "", "status (per seed)", "final train loss (mean over seeds)", "final val loss (mean)"]]
    numbers: dict[str, dict] = {}
    for ax, (lr, label) in zip(axes, RATES.items(), strict=True):
        statuses = [r["status"] for r in runs[lr]]
        finished = [r["history"] for r in runs[lr] if r["status"] != "diverged" and r["history"]]
        train = statistics.fmean(h[-1]["train/loss"] for h in finished) if finished else None
        val = statistics.fmean(h[-1]["val/loss"] for h in finished) if finished else None
        numbers[f"{lr:g}"] = {"statuses": statuses, "final_train_loss": train, "final_val_loss": val}
        rows.append([f"{lr:g}", label, ", ".join(statuses), fmt(train), fmt(val)])
        for seed, r in enumerate(runs[lr]):
            if r["history"]:
                ax.plot(
                    [h["epoch"] for h in r["history"]], [h["train/loss"] for h in r["history"]], label=f"seed {seed}"
                )
        diverged = [(seed, r["summary"]) for seed, r in enumerate(runs[lr]) if r["status"] == "diverged"]
        if diverged:
            lines = [f"seed {n}: epoch {s['epoch']}, step {s['step']}, loss {s['loss']:.2g}" for n, s in diverged]
            text = "diverged (stopped at)\n" + "\n".join(lines)
            ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=8, transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
        else:
            ax.legend(fontsize=7)
        ax.set(title=f"lr = {lr:g} ({label})", xlabel="epoch", ylabel="train loss")
    fig.tight_layout()
    save(fig, course.image("learning_rate.png"))
    return Section(
        key="learning_rate",
        title="8. Setting the learning rate",
        claim="A small learning rate converges slowly, a large one overshoots, becomes unstable and diverges; "
        "a stable one converges smoothly.",
        images=[("learning_rate.png", "Training loss per epoch for each learning rate and seed")],
        table=rows,
        commands=[train_command(["hydra/launcher=stacked", *sweep_overrides()], multirun=True)],
        notes=[f"Plain SGD on will_i_pass, {SEEDS} seeds per rate, trained as stacks by one sweep."],
        numbers=numbers,
    )
