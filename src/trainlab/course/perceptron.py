"""Claim 1: the perceptron's forward pass, y = g(w0 + X^T W).

The lecture's worked example: w0 = 1, W = [3, -2], x = [-1, 2] gives
z = 1 + 3 * (-1) + (-2) * 2 = -6 and y = sigmoid(-6) = 1 / (1 + e^6) ~ 0.00247. trainlab's
``Perceptron`` computes it with those weights set; its decision line is where z = 0:
1 + 3 x1 - 2 x2 = 0, i.e. x2 = (1 + 3 x1) / 2.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from trainlab.course.common import Course, Section, fmt
from trainlab.course.plots import pyplot, save
from trainlab.models import Perceptron

W0 = 1.0
W = (3.0, -2.0)
X = (-1.0, 2.0)
IMAGE = "perceptron.svg"
# The page shows an image across its column (site.CSS: 980 px less its padding): drawn 9.4 in
# wide at 100 px an inch, its 10 pt text shows at about the page's own size, not doubled.
FIGSIZE = (9.4, 4.4)


def forward() -> tuple[float, float]:
    """(z, sigmoid(z)) from trainlab's Perceptron with w0, W set to the lecture's values."""
    model = Perceptron(2, 1, activation="sigmoid")
    with torch.no_grad():
        model.w0.copy_(torch.tensor([W0]))
        model.W.copy_(torch.tensor(W).reshape(2, 1))
        x = torch.tensor([X], dtype=torch.float64)
        model = model.double()
        z = float((x @ model.W + model.w0)[0, 0])
        y = float(model(x)[0, 0])
    return z, y


def figure(z: float, y: float) -> tuple[Any, Any, Any]:
    """(the figure, the point's label, the decision line): the plane of (x1, x2) split by the
    decision line, the point x with its z and y labelled on its own side of the line (the label
    to the point's left, where the line never comes: the test holds their boxes apart).

    Drawn at the width the page shows it (``FIGSIZE``) and saved as SVG, so it is sharp at
    any width and on any screen, its text at the page's size."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    x1 = np.linspace(-3, 3, 50)
    x2 = (W0 + W[0] * x1) / -W[1]
    ax.fill_between(x1, x2, 10, color="tab:red", alpha=0.15, label="z < 0 (y < 0.5)")
    ax.fill_between(x1, -10, x2, color="tab:blue", alpha=0.15, label="z > 0 (y > 0.5)")
    (line,) = ax.plot(x1, x2, "k-", label="1 + 3 x1 - 2 x2 = 0")
    ax.plot(*X, "o", color="tab:red", markersize=9)
    label = ax.annotate(
        f"x = [-1, 2]\nz = {z:g}, y = {y:.5f}", X, xytext=(-14, 0), textcoords="offset points", ha="right", va="center"
    )
    ax.set(xlim=(-3, 3), ylim=(-3, 3), xlabel="x1", ylabel="x2", title="The perceptron's decision line")
    ax.legend(loc="lower right", fontsize=8)
    return fig, label, line


def section(course: Course) -> Section:
    z, y = forward()
    by_hand = 1.0 / (1.0 + math.exp(-(W0 + W[0] * X[0] + W[1] * X[1])))
    fig, _, _ = figure(z, y)
    save(fig, course.image(IMAGE))
    return Section(
        key="perceptron",
        title="1. The perceptron: y = g(w0 + XᵀW)",
        claim="With w0 = 1, W = [3, −2] and x = [−1, 2], the perceptron computes z = −6 and y = σ(−6) ≈ 0.002.",
        images=[(IMAGE, "The decision line 1 + 3x1 − 2x2 = 0 and the point x = [−1, 2]")],
        table=[
            ["quantity", "value"],
            ["z = w0 + xᵀW (trainlab Perceptron)", fmt(z, 6)],
            ["y = σ(z) (trainlab Perceptron, activation=sigmoid)", f"{y:.7f}"],
            ["1 / (1 + e⁶) (by hand, math.exp)", f"{by_hand:.7f}"],
        ],
        commands=[
            'python -c \'import torch; from trainlab.models import Perceptron; m = Perceptron(2, 1, "sigmoid"); '
            "m.w0.data[:] = 1; m.W.data[:] = torch.tensor([[3.0], [-2.0]]); print(m(torch.tensor([[-1.0, 2.0]])))'"
        ],
        notes=["The point lies on the side where z < 0, so the perceptron says class 0 with probability 0.998."],
        numbers={"z": z, "y": y, "by_hand": by_hand},
    )
