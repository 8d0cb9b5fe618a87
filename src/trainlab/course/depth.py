"""Claim 4: from the perceptron to a single hidden layer to a deep network.

The same two interleaved spirals (800 points, 40% held out for the test) trained at growing
depth and width: the perceptron (one Dense layer, a straight decision line), one hidden
layer of 4 and of 32 ReLU units, and two hidden layers of 32. One run per network through
``trainlab.run``; the decision boundaries are drawn from each run's best weights.
"""

from __future__ import annotations

from trainlab.api import RunResult, run
from trainlab.course.common import QUIET, Course, Section, train_command
from trainlab.course.plots import boundary, pyplot, raw_data, save
from trainlab.predict import Predictor

EXPERIMENT = "experiment=course/depth"
# name on the page -> the overrides that pick that network
NETWORKS: dict[str, tuple[str, ...]] = {
    "perceptron": ("model=perceptron",),
    "1 hidden layer of 4": ("model.hidden=[4]",),
    "1 hidden layer of 32": ("model.hidden=[32]",),
    "2 hidden layers of 32": ("model.hidden=[32,32]",),
}


def overrides(network: str, seed: int = 0) -> list[str]:
    """The command line's overrides of one run (the page's command)."""
    return [EXPERIMENT, *NETWORKS[network], *([f"seed={seed}"] if seed else [])]


def train(course: Course, seed: int = 0) -> dict[str, RunResult]:
    """Every network's run, by its name."""
    return {
        name: run(
            [*overrides(name, seed), *QUIET],
            output_dir=course.run_dir("depth", f"{i}-seed{seed}"),
            verbose=False,
        )
        for i, name in enumerate(NETWORKS)
    }


def section(course: Course) -> Section:
    results = train(course)
    plt = pyplot()
    fig, axes = plt.subplots(1, len(NETWORKS), figsize=(16, 4.2), sharex=True, sharey=True)
    raw = raw_data(next(iter(results.values())).config)
    accuracy: dict[str, float] = {}
    for ax, (name, result) in zip(axes, results.items(), strict=True):
        accuracy[name] = result.metrics["test/acc"]
        boundary(ax, Predictor.from_run(result.run_dir), raw, f"{name}: test accuracy {accuracy[name]:.3f}")
    fig.tight_layout()
    save(fig, course.image("depth.png"))
    return Section(
        key="depth",
        title="4. Dense layers, a single hidden layer, a deep network",
        claim="Stacking Dense layers with a non-linearity between them lets a network draw decisions "
        "a single perceptron cannot: accuracy grows from the perceptron to one hidden layer to two.",
        images=[("depth.png", "Decision boundaries on two spirals: perceptron, hidden [4], [32], [32, 32]")],
        table=[
            ["network", "model overrides", "test accuracy"],
            *([name, " ".join(NETWORKS[name]), f"{accuracy[name]:.3f}"] for name in NETWORKS),
        ],
        commands=[train_command(overrides(name)) for name in NETWORKS],
        notes=[
            f"Test accuracy on {round(0.4 * len(raw.features))} held-out points of data=spiral "
            "(two interleaved spirals, 50% each); ReLU activations, Adam, 60 epochs.",
            "The perceptron can only draw a straight line; a hidden layer of 4 units bends it a little, "
            "32 units bend it more, and a second layer of 32 follows the spirals.",
        ],
        numbers={"accuracy": accuracy},
    )
