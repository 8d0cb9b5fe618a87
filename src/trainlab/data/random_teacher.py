"""``random``: a random-teacher classification set, sized at will (for benchmarks).

Inputs x ~ N(0, 1) of ``n_features``; a fixed random linear map W [n_features, n_classes]
(drawn from ``seed``) scores each class, and the label is argmax(x @ W + noise * e) with
e ~ N(0, 1): a task a network can learn to any accuracy the noise allows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trainlab.data.dataset import RawData
from trainlab.errors import ConfigError


def generate(n_samples: int, n_features: int, n_classes: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """float32 inputs [n, n_features] and int64 labels [n]."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_samples, n_features), dtype=np.float32)
    teacher = rng.standard_normal((n_features, n_classes), dtype=np.float32)
    scores = x @ teacher + noise * rng.standard_normal((n_samples, n_classes), dtype=np.float32)
    return x, scores.argmax(1).astype(np.int64)


def load(n_samples: int = 20000, n_features: int = 2, n_classes: int = 2, noise: float = 0.1, seed: int = 0) -> RawData:
    if n_features < 1:
        raise ConfigError(f"data.n_features={n_features!r} is not allowed: an integer >= 1")
    if n_classes < 2:
        raise ConfigError(f"data.n_classes={n_classes!r} is not allowed: an integer >= 2")
    x, y = generate(n_samples, n_features, n_classes, noise, seed)
    features = pd.DataFrame(x, columns=[f"x{i + 1}" for i in range(n_features)])
    task = "binary" if n_classes == 2 else "multiclass"
    return RawData("random", features, pd.Series(y, name="y"), task=task, source="random")
