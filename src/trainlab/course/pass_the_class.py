"""Claim 5: "will I pass this class?", before and after training.

x1 = lectures attended (0..30), x2 = hours on the final project (0..40); a student passes
when (x1 / 30) (x2 / 40) > 0.2, with 5% of the labels flipped (``trainlab.data.will_i_pass``).
The empirical loss J(W) = (1/n) sum_i L(f(x_i; W), y_i), here the mean binary cross-entropy
-[y log p + (1 - y) log(1 - p)] over every student of the data set, is measured for the
untrained network (the same architecture, freshly initialized from the run's seed) and for
the trained one (the run's best weights). Both see the inputs through the run's own
preprocessing (``trainlab.predict.Predictor``), so raw units go in: the lecture's student
x = [4, 5] is 4 lectures and 5 hours.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd
import torch

from trainlab.api import run
from trainlab.course.common import QUIET, Course, Section, train_command
from trainlab.course.plots import boundary, positive_proba, pyplot, raw_data, save
from trainlab.data.dataset import RawData
from trainlab.predict import Predictor

OVERRIDES = ["experiment=course/will_i_pass"]
STUDENT = {"lectures": 4.0, "hours": 5.0}


def untrained(predictor: Predictor, seed: int) -> Predictor:
    """The same network and preprocessing with fresh initial weights (torch seeded with ``seed``)."""
    model = copy.deepcopy(predictor.model)
    torch.manual_seed(seed)
    for module in model.modules():
        if module is not model and hasattr(module, "reset_parameters"):
            module.reset_parameters()
    return dataclasses.replace(predictor, model=model.eval())


def mean_bce(predictor: Predictor, raw: RawData) -> tuple[float, float]:
    """(mean binary cross-entropy, accuracy at 0.5) of ``predictor`` over the whole data set."""
    p = torch.tensor(positive_proba(predictor, raw.features), dtype=torch.float64).clamp(1e-7, 1 - 1e-7)
    y = torch.from_numpy((raw.target.to_numpy() == "pass").astype(np.float64))
    loss = float(torch.nn.functional.binary_cross_entropy(p, y))
    return loss, float(((p > 0.5).double() == y).double().mean())


def section(course: Course) -> Section:
    result = run([*OVERRIDES, *QUIET], output_dir=course.run_dir("will_i_pass"), verbose=False)
    assert result.config is not None
    raw = raw_data(result.config)
    trained = Predictor.from_run(result.run_dir)
    fresh = untrained(trained, int(result.config.seed))
    student = pd.DataFrame([STUDENT])
    numbers: dict[str, float] = {}
    for name, predictor in (("untrained", fresh), ("trained", trained)):
        numbers[f"{name}_loss"], numbers[f"{name}_acc"] = mean_bce(predictor, raw)
        numbers[f"{name}_student"] = float(positive_proba(predictor, student)[0])
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for ax, name, predictor in ((axes[0], "untrained", fresh), (axes[1], "trained", trained)):
        title = f"{name}: J(W) = {numbers[f'{name}_loss']:.3f}, P(pass | 4, 5) = {numbers[f'{name}_student']:.3f}"
        boundary(ax, predictor, raw, title)
        ax.plot(STUDENT["lectures"], STUDENT["hours"], "*", color="gold", markersize=16, markeredgecolor="k")
    fig.tight_layout()
    save(fig, course.image("will_i_pass.png"))
    rule = STUDENT["lectures"] / 30 * STUDENT["hours"] / 40
    return Section(
        key="will_i_pass",
        title="5. Will I pass this class?",
        claim="Training lowers the empirical loss J(W): the untrained network's predictions are arbitrary, "
        "the trained one's follow the data.",
        images=[("will_i_pass.png", "P(pass) over lectures attended and hours on the project, before and after")],
        table=[
            ["network", "J(W), mean cross-entropy over all students", "accuracy", "P(pass) for 4 lectures, 5 hours"],
            *(
                [n, f"{numbers[f'{n}_loss']:.4f}", f"{numbers[f'{n}_acc']:.3f}", f"{numbers[f'{n}_student']:.4f}"]
                for n in ("untrained", "trained")
            ),
            [
                "the trained run's test split",
                f"{result.metrics['test/loss']:.4f}",
                f"{result.metrics['test/acc']:.3f}",
                "",
            ],
        ],
        commands=[train_command(OVERRIDES)],
        notes=[
            f"{len(raw.features)} students; the gold star is the lecture's student x = [4, 5] (4 lectures, 5 hours).",
            f"The lecture's table marks that student ✗ (did not pass); the data set's rule agrees: "
            f"(4/30)·(5/40) = {rule:.3f} < 0.2.",
            "The untrained network has the run's architecture and preprocessing with fresh initial weights.",
        ],
        numbers=numbers,
    )
