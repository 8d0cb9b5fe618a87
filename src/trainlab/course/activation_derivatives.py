"""Claim 2: sigmoid, tanh and ReLU, and the lecture's formulas for their derivatives,

    sigma'(z) = sigma(z) (1 - sigma(z)),  tanh'(z) = 1 - tanh(z)^2,  ReLU'(z) = 1 if z > 0 else 0,

held against torch autograd on a grid of z in [-6, 6] (float64; the grid avoids z = 0,
where ReLU has no derivative and autograd's choice of 0 is a convention).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from trainlab.course.common import Course, Section
from trainlab.course.plots import pyplot, save
from trainlab.models import activation

Formula = Callable[[torch.Tensor], torch.Tensor]

DERIVATIVES: dict[str, Formula] = {
    "sigmoid": lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z)),
    "tanh": lambda z: 1 - torch.tanh(z) ** 2,
    "relu": lambda z: (z > 0).to(z.dtype),
}
FORMULAS = {"sigmoid": "σ(z)(1 − σ(z))", "tanh": "1 − tanh²(z)", "relu": "1 if z > 0 else 0"}


def grid(n: int = 1200) -> torch.Tensor:
    """n points in [-6, 6] (n even: none is exactly 0)."""
    return torch.linspace(-6, 6, n, dtype=torch.float64)


def compare(name: str, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """g(z) (trainlab's activation module), autograd's g'(z), the formula's g'(z), and the
    largest absolute difference between the two derivatives."""
    z = z.clone().requires_grad_(True)
    g = activation(name)(z)
    (auto,) = torch.autograd.grad(g.sum(), z)
    formula = DERIVATIVES[name](z.detach())
    return g.detach(), auto, formula, float((auto - formula).abs().max())


def section(course: Course) -> Section:
    z = grid()
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    rows = [["g", "g'(z) in the lecture", "max |autograd − formula| on 1200 points in [−6, 6]"]]
    numbers: dict[str, float] = {}
    for ax, name in zip(axes, DERIVATIVES, strict=True):
        g, auto, formula, diff = compare(name, z)
        numbers[name] = diff
        rows.append([name, FORMULAS[name], f"{diff:.3g}"])
        ax.plot(z, g, label=f"{name}(z)")
        ax.plot(z, formula, "--", label=f"formula: {FORMULAS[name]}")
        ax.plot(z[::40], auto[::40], "k.", markersize=4, label="torch autograd")
        ax.axhline(0, color="grey", linewidth=0.5)
        ax.set(title=name, xlabel="z")
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    save(fig, course.image("activations.png"))
    return Section(
        key="activations",
        title="2. Activation functions and their derivatives",
        claim="The lecture's derivatives σ' = σ(1 − σ), tanh' = 1 − tanh² and ReLU' = [z > 0] "
        "are what automatic differentiation computes.",
        images=[("activations.png", "sigmoid, tanh and ReLU with their derivatives, formula and autograd")],
        table=rows,
        commands=["python train.py activation=sigmoid   # or activation=tanh, activation=relu"],
        numbers=numbers,
    )
