"""The course's running example: "will I pass this class?"

x1 = lectures attended, an integer in 0..n_lectures; x2 = hours spent on the final
project, uniform in 0..40. A student passes when a * b > 0.2 with a = x1 / n_lectures
and b = x2 / 40: enough of both is needed, and the boundary is a hyperbola, not a
straight line (about 48% pass). Each label is then flipped with probability ``noise``,
so the best possible accuracy is 1 - noise.
"""

from __future__ import annotations

import pandas as pd
import torch

from trainlab.data.dataset import RawData
from trainlab.errors import ConfigError

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


def load(n_samples: int = 2000, noise: float = 0.05, n_lectures: int = 30, seed: int = 0) -> RawData:
    """The will_i_pass table: columns lectures, hours; target passed (fail / pass)."""
    if not 0 <= noise <= 0.5:
        raise ConfigError(f"data.noise={noise!r} is not allowed: a label-flip probability in [0, 0.5]")
    if n_lectures < 1:
        raise ConfigError(f"data.n_lectures={n_lectures!r} is not allowed: an integer >= 1")
    x, y = generate(n_samples, noise, n_lectures, seed)
    features = pd.DataFrame({"lectures": x[:, 0].numpy(), "hours": x[:, 1].numpy()})
    target = pd.Series(["pass" if v else "fail" for v in y.tolist()], name="passed")
    return RawData("will_i_pass", features, target, task="binary", source="will_i_pass")
