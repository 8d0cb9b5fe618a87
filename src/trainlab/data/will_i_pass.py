"""The course's running example: "will I pass this class?"

x1 = lectures attended, an integer in 0..n_lectures; x2 = hours spent on the final
project, uniform in 0..40. A student passes when a * b > 0.2 with a = x1 / n_lectures
and b = x2 / 40: enough of both is needed, and the boundary is a hyperbola, not a
straight line (about 48% pass). Each label is then flipped with probability ``noise``,
so the best possible accuracy is 1 - noise.
"""

from __future__ import annotations

import torch

from trainlab.data.dataset import TabularData, split_and_standardize

MAX_HOURS = 40.0
PASS_THRESHOLD = 0.2


def generate(n_samples: int, noise: float, n_lectures: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw features [n, 2] (lectures, hours) and labels [n] (1 = passed)."""
    g = torch.Generator().manual_seed(seed)
    lectures = torch.randint(0, n_lectures + 1, (n_samples,), generator=g).float()
    hours = torch.rand(n_samples, generator=g) * MAX_HOURS
    passed = (lectures / n_lectures) * (hours / MAX_HOURS) > PASS_THRESHOLD
    flip = torch.rand(n_samples, generator=g) < noise
    return torch.stack([lectures, hours], dim=1), (passed ^ flip).long()


def load(
    n_samples: int = 2000,
    noise: float = 0.05,
    n_lectures: int = 30,
    seed: int = 0,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
) -> TabularData:
    """The will_i_pass data set, split and standardized (binary task)."""
    x, y = generate(n_samples, noise, n_lectures, seed)
    return split_and_standardize(
        "will_i_pass",
        "binary",
        x,
        y,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        seed=seed,
        feature_names=["lectures", "hours"],
        class_names=["fail", "pass"],
    )
