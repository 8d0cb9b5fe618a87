"""Claim 6: the loss fits the output: binary cross-entropy for probabilities, mean squared
error for real numbers.

Three runs through ``trainlab.run`` (experiment=course/losses, 600 samples, 40 epochs): the
will-I-pass students with loss=bce and with loss=mse (trainlab allows MSE on a binary task,
between P(y = 1) and the 0/1 label), and the wave y = sin(pi x) + noise with loss=mse. The
wrong loss for the regression, loss=bce, is refused before anything trains; the page shows
trainlab's message. Why cross-entropy for probabilities: its gradient with respect to the
logit z is p - y, while MSE's on p = sigma(z) is 2 (p - y) p (1 - p), which vanishes when the
network is confidently wrong; both computed here by autograd at z = -6, y = 1.
"""

from __future__ import annotations

import torch

from trainlab.api import RunResult, run
from trainlab.course.common import QUIET, Course, Section, fmt, train_command
from trainlab.course.plots import pyplot, save
from trainlab.errors import ConfigError

EXPERIMENT = "experiment=course/losses"
RUNS: dict[str, tuple[str, ...]] = {
    "classification, bce (right)": ("loss=bce",),
    "classification, mse (allowed)": ("loss=mse",),
    "regression, mse (right)": ("data=wave", "loss=mse"),
}
WRONG = ("data=wave", "loss=bce")
WRONG_LOGIT = -6.0


def overrides(extra: tuple[str, ...], seed: int = 0) -> list[str]:
    """The command line's overrides of one run (the page's command)."""
    return [EXPERIMENT, *extra, *([f"seed={seed}"] if seed else [])]


def train(course: Course, seed: int = 0) -> dict[str, RunResult]:
    """Every allowed run, by its name on the page."""
    return {
        name: run(
            [*overrides(extra, seed), *QUIET], output_dir=course.run_dir("losses", f"{i}-seed{seed}"), verbose=False
        )
        for i, (name, extra) in enumerate(RUNS.items())
    }


def refusal(course: Course) -> str:
    """trainlab's message refusing loss=bce on the regression set."""
    try:
        run([*overrides(WRONG), *QUIET], output_dir=course.run_dir("losses", "refused"), verbose=False)
    except ConfigError as error:
        return str(error)
    raise AssertionError(f"{' '.join(WRONG)} was not refused")


def logit_gradients(z: float = WRONG_LOGIT, y: float = 1.0) -> tuple[float, float]:
    """(dBCE/dz, dMSE/dz) for one sample with logit z and label y, by autograd (float64)."""
    logit = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    target = torch.tensor(y, dtype=torch.float64)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logit, target)
    mse = (torch.sigmoid(logit) - target) ** 2
    grads = [float(torch.autograd.grad(j, logit)[0]) for j in (bce, mse)]
    return grads[0], grads[1]


def section(course: Course) -> Section:
    results = train(course)
    message = refusal(course)
    bce_grad, mse_grad = logit_gradients()
    plt = pyplot()
    fig, axes = plt.subplots(1, len(RUNS), figsize=(14, 3.8))
    for ax, (name, result) in zip(axes, results.items(), strict=True):
        epochs = [h["epoch"] for h in result.history]
        ax.plot(epochs, [h["train/loss"] for h in result.history], label="train")
        ax.plot(epochs, [h["val/loss"] for h in result.history], label="validation")
        ax.set(title=name, xlabel="epoch", ylabel="loss", yscale="log")
        ax.legend(fontsize=8)
    fig.tight_layout()
    save(fig, course.image("losses.png"))
    m = {name: result.metrics for name, result in results.items()}
    rows = [["run", "loss", "test loss", "test accuracy", "test r²"]]
    for name, extra in RUNS.items():
        rows.append(
            [
                name,
                extra[-1],
                fmt(m[name]["test/loss"]),
                fmt(m[name].get("test/acc"), 3),
                fmt(m[name].get("test/r2"), 3),
            ]
        )
    rows.append(["regression, bce (wrong)", WRONG[-1], "refused", "-", "-"])
    numbers = {
        "metrics": m,
        "refusal": message,
        "bce_acc": m["classification, bce (right)"]["test/acc"],
        "mse_acc": m["classification, mse (allowed)"]["test/acc"],
        "wave_r2": m["regression, mse (right)"]["test/r2"],
        "bce_logit_grad": bce_grad,
        "mse_logit_grad": mse_grad,
    }
    return Section(
        key="losses",
        title="6. Loss functions: cross-entropy for probabilities, mean squared error for real numbers",
        claim="Binary cross-entropy is the loss for models that output a probability, mean squared error "
        "for models that output a real number; trainlab refuses cross-entropy on a regression target.",
        images=[("losses.png", "Train and validation loss per epoch of the three runs")],
        table=rows,
        commands=[*(train_command(overrides(extra)) for extra in RUNS.values()), train_command(overrides(WRONG))],
        notes=[
            f"The wrong loss for the regression, {' '.join(WRONG)}, is refused before training: “{message}”",
            "MSE on P(pass) is allowed and, on this easy set, reaches about the same test accuracy as "
            "cross-entropy; the losses' values are not comparable (different scales).",
            f"Why cross-entropy for probabilities: for a confidently wrong prediction (logit z = {WRONG_LOGIT:g}, "
            f"label 1) the gradient with respect to z is {bce_grad:.4f} for cross-entropy (p − y) but only "
            f"{mse_grad:.4f} for MSE on p (2(p − y)·p(1 − p)): MSE barely corrects it.",
            "Classification: will_i_pass (x1 = lectures attended, x2 = hours on the project); "
            "regression: data=wave, y = sin(πx) + N(0, 0.1²); 20% of each held out for the test "
            "(the data sets' default split).",
        ],
        numbers=numbers,
    )
