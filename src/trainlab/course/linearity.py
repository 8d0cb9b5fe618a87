"""Claim 3: linear activations produce linear decisions no matter the network size;
non-linearities don't.

With g(z) = z every layer is affine, and a composition of affine maps is affine:
W_k(...(W_1 x + b_1)...) + b_k = A x + c, so the logit is linear in x and the decision
boundary (logit = 0) a straight line at any depth. On circles (a disc inside a ring) no
line does better than chance by much, while ReLU networks separate them. One run per
(activation, depth) through ``trainlab.run``; test accuracy on 320 held-out points.
"""

from __future__ import annotations

from trainlab.api import RunResult, run
from trainlab.course.common import QUIET, Course, Section, train_command
from trainlab.course.plots import boundary, pyplot, raw_data, save
from trainlab.predict import Predictor

EXPERIMENT = "experiment=course/linearity"
ACTIVATIONS = ("identity", "relu")
DEPTHS: dict[int, str] = {1: "[16]", 2: "[16,16]", 4: "[16,16,16,16]"}


def overrides(activation: str, depth: int, seed: int = 0) -> list[str]:
    """The command line's overrides of one run (the page's command)."""
    return [
        EXPERIMENT,
        f"activation={activation}",
        f"model.hidden={DEPTHS[depth]}",
        *([f"seed={seed}"] if seed else []),
    ]


def train(course: Course, seed: int = 0) -> dict[tuple[str, int], RunResult]:
    """Every (activation, depth) run, by that pair."""
    return {
        (act, depth): run(
            [*overrides(act, depth, seed), *QUIET],
            output_dir=course.run_dir("linearity", f"{act}-{depth}"),
            verbose=False,
        )
        for act in ACTIVATIONS
        for depth in DEPTHS
    }


def section(course: Course) -> Section:
    results = train(course)
    plt = pyplot()
    fig, axes = plt.subplots(len(ACTIVATIONS), len(DEPTHS), figsize=(12, 8), sharex=True, sharey=True)
    raw = raw_data(next(iter(results.values())).config)
    header = ["activation", *(f"{d} hidden layer{'s' if d > 1 else ''}" for d in DEPTHS)]
    accuracy: dict[str, float] = {}
    for i, act in enumerate(ACTIVATIONS):
        for j, depth in enumerate(DEPTHS):
            result = results[act, depth]
            acc = result.metrics["test/acc"]
            accuracy[f"{act}-{depth}"] = acc
            title = f"{act}, hidden={DEPTHS[depth]}: test accuracy {acc:.3f}"
            boundary(axes[i, j], Predictor.from_run(result.run_dir), raw, title)
    fig.tight_layout()
    save(fig, course.image("linearity.png"))
    table = [header, *([act, *(f"{accuracy[f'{act}-{d}']:.3f}" for d in DEPTHS)] for act in ACTIVATIONS)]
    return Section(
        key="linearity",
        title="3. Linear activations give linear decisions",
        claim="Linear activation functions produce linear decisions no matter the network size; "
        "non-linearities allow complex ones.",
        images=[
            ("linearity.png", "Decision boundaries on circles: identity (top) and ReLU (bottom) at depths 1, 2, 4")
        ],
        table=table,
        commands=[train_command(overrides(act, depth)) for act in ACTIVATIONS for depth in DEPTHS],
        notes=[
            "Test accuracy on 320 held-out points of data=circles (a disc inside a ring, 50% each).",
            "The shading is P(inner disc | x) from the run's best weights; the black line is where it is 0.5.",
        ],
        numbers={"accuracy": accuracy},
    )
