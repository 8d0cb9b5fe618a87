"""Claim 7: gradient descent and backpropagation.

(a) Gradient descent on a two-parameter model: y = w0 + w1 x fitted to 50 synthetic points
(y = 1 + 2 x plus noise) by the mean squared error J(W) = (1/n) sum_i (w0 + w1 x_i - y_i)^2.
Its loss landscape over (w0, w1) is drawn as contours, and on it the path of the lecture's
update rule W <- W - eta dJ/dW from W = (-3, -2), the gradient taken by torch autograd.

(b) Backpropagation is the chain rule. For the tiny network x -> z1 = w1 x -> a1 = sigma(z1)
-> y_hat = w2 a1 with J = (y_hat - y)^2, the lecture's slides write

    dJ/dw2 = dJ/dy_hat * dy_hat/dw2                          = 2 (y_hat - y) a1
    dJ/dw1 = dJ/dy_hat * dy_hat/da1 * da1/dz1 * dz1/dw1      = 2 (y_hat - y) w2 sigma(z1)(1 - sigma(z1)) x

held here against torch autograd at 200 random (x, y, w1, w2), in float64.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from trainlab.course.common import Course, Section, fmt
from trainlab.course.plots import pyplot, save

START = (-3.0, -2.0)
ETA = 0.1
STEPS = 40


def data(n: int = 50, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n points x in [-1, 3], y = 1 + 2 x + N(0, 0.5^2) (float64)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, generator=g, dtype=torch.float64) * 4 - 1
    y = 1 + 2 * x + 0.5 * torch.randn(n, generator=g, dtype=torch.float64)
    return x, y


def loss(w: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """J(W) = mean (w0 + w1 x - y)^2; ``w`` may carry leading grid dimensions: [..., 2]."""
    pred = w[..., :1] + w[..., 1:] * x
    return ((pred - y) ** 2).mean(-1)


def descend(x: torch.Tensor, y: torch.Tensor, eta: float = ETA, steps: int = STEPS) -> tuple[np.ndarray, list[float]]:
    """The path of W <- W - eta dJ/dW from START: the weights [steps + 1, 2] and J at each."""
    w = torch.tensor(START, dtype=torch.float64, requires_grad=True)
    path, losses = [], []
    for _ in range(steps + 1):
        j = loss(w, x, y)
        path.append(w.detach().clone().numpy())
        losses.append(float(j.detach()))
        (grad,) = torch.autograd.grad(j, w)
        with torch.no_grad():
            w -= eta * grad
    return np.stack(path), losses


Pair = tuple[torch.Tensor, torch.Tensor]


def chain_rule(x: torch.Tensor, y: torch.Tensor, w1: torch.Tensor, w2: torch.Tensor) -> Pair:
    """(dJ/dw1, dJ/dw2) of J = (w2 sigma(w1 x) - y)^2, by the lecture's chain rule."""
    z1 = w1 * x
    a1 = torch.sigmoid(z1)
    y_hat = w2 * a1
    dj_dyhat = 2 * (y_hat - y)
    return dj_dyhat * w2 * a1 * (1 - a1) * x, dj_dyhat * a1


def autograd(x: torch.Tensor, y: torch.Tensor, w1: torch.Tensor, w2: torch.Tensor) -> Pair:
    """The same two gradients by torch autograd (each sample's J is independent: grad of the sum)."""
    w1 = w1.clone().requires_grad_(True)
    w2 = w2.clone().requires_grad_(True)
    j = (w2 * torch.sigmoid(w1 * x) - y) ** 2
    g1, g2 = torch.autograd.grad(j.sum(), (w1, w2))
    return g1, g2


def backprop_check(n: int = 200, seed: int = 0) -> tuple[float, float]:
    """Largest |chain rule - autograd| for dJ/dw1 and for dJ/dw2 over n random points."""
    g = torch.Generator().manual_seed(seed)
    x, y, w1, w2 = (torch.randn(n, generator=g, dtype=torch.float64) * 2 for _ in range(4))
    hand = chain_rule(x, y, w1, w2)
    auto = autograd(x, y, w1, w2)
    return tuple(float((h - a).abs().max()) for h, a in zip(hand, auto, strict=True))  # type: ignore[return-value]


def section(course: Course) -> Section:
    x, y = data()
    path, losses = descend(x, y)
    w0, w1 = np.meshgrid(np.linspace(-4, 5, 150), np.linspace(-3, 5, 150))
    grid = torch.from_numpy(np.stack([w0, w1], -1))
    landscape = loss(grid, x, y).numpy()
    diff_w1, diff_w2 = backprop_check()
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    levels = np.geomspace(1.05 * landscape.min(), landscape.max(), 18)
    contours = axes[0].contour(w0, w1, landscape, levels=levels, cmap="viridis")
    axes[0].clabel(contours, fontsize=6, fmt="%.3g")
    axes[0].plot(path[:, 0], path[:, 1], "r.-", markersize=4, linewidth=1, label=f"W ← W − {ETA}·∇J(W)")
    axes[0].plot(*path[0], "ko", label=f"start, J = {losses[0]:.3g}")
    axes[0].plot(*path[-1], "r*", markersize=12, label=f"after {STEPS} steps, J = {losses[-1]:.3g}")
    axes[0].set(xlabel="w0", ylabel="w1", title="J(w0, w1) = mean (w0 + w1·x − y)², and gradient descent")
    axes[0].legend(fontsize=8)
    axes[1].plot(range(STEPS + 1), losses, "r.-")
    axes[1].set(yscale="log", xlabel="step", ylabel="J(W)", title="The loss along the path")
    fig.tight_layout()
    save(fig, course.image("gradient_descent.png"))
    monotone = all(b < a for a, b in itertools.pairwise(losses))
    return Section(
        key="gradient_descent",
        title="7. Gradient descent and backpropagation",
        claim="Repeating W ← W − η ∇J(W) walks downhill on the loss landscape, and backpropagation's "
        "chain rule gives exactly the gradient automatic differentiation computes.",
        images=[("gradient_descent.png", "Contours of J(w0, w1) with the gradient-descent path; J along the path")],
        table=[
            ["quantity", "value"],
            ["J(W) at the start W = (−3, −2)", fmt(losses[0])],
            [f"J(W) after {STEPS} steps of η = {ETA}", fmt(losses[-1])],
            ["W after those steps (w0, w1)", f"({path[-1][0]:.3f}, {path[-1][1]:.3f})"],
            ["J decreased at every step", "yes" if monotone else "no"],
            ["max |chain rule − autograd|, ∂J/∂w1 (200 random points)", f"{diff_w1:.3g}"],
            ["max |chain rule − autograd|, ∂J/∂w2 (200 random points)", f"{diff_w2:.3g}"],
        ],
        commands=[
            'python -c "from trainlab.course import gradient_descent as g; print(g.descend(*g.data())[1][-1])"',
            'python -c "from trainlab.course import gradient_descent as g; print(g.backprop_check())"',
        ],
        notes=[
            "50 synthetic points, x uniform in [−1, 3], y = 1 + 2x + N(0, 0.5²); plain torch, float64.",
            "The tiny network: x → z1 = w1·x → a1 = σ(z1) → ŷ = w2·a1, J = (ŷ − y)²; "
            "∂J/∂w1 = 2(ŷ − y) · w2 · σ(z1)(1 − σ(z1)) · x, ∂J/∂w2 = 2(ŷ − y) · a1.",
            "trainlab's optimizer=sgd applies the same update to every weight, the gradients coming from "
            "backpropagation through the whole network.",
        ],
        numbers={"losses": losses, "monotone": monotone, "diff_w1": diff_w1, "diff_w2": diff_w2, "end": path[-1]},
    )
