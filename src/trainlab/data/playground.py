"""TensorFlow Playground's 2-D data sets, and a 1-D/2-D regression wave.

Each draws ``n_samples`` points from a generator seeded with ``seed``; ``noise`` is
Gaussian noise (standard deviation, in the units of the inputs) added to the points, or,
for ``wave``, to the target. Classes are balanced (half the points each).

- ``circles``: a disc (class 1) inside a ring (class 0); not linearly separable.
- ``xor``: points in [-1, 1]^2, class 1 where x1 * x2 > 0 (the XOR of the signs).
- ``gauss``: two Gaussian blobs around (-1, -1) and (1, 1); linearly separable.
- ``spiral``: two interleaved spirals, one per class: the hardest to separate.
- ``moons``: two interleaving half circles (scikit-learn's make_moons).
- ``wave``: regression, y = sin(pi * x1) (n_features=1) or sin(pi * x1) * cos(pi * x2).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trainlab.data.dataset import RawData
from trainlab.errors import ConfigError


def _check(n_samples: int, noise: float) -> None:
    if n_samples < 4:
        raise ConfigError(f"data.n_samples={n_samples!r} is not allowed: an integer >= 4")
    if noise < 0:
        raise ConfigError(f"data.noise={noise!r} is not allowed: a standard deviation >= 0")


def _classes(name: str, x: np.ndarray, y: np.ndarray) -> RawData:
    features = pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1]})
    return RawData(name, features, pd.Series(y.astype(np.int64), name="y"), task="binary", source=name)


def _halves(n: int) -> np.ndarray:
    return np.repeat([0, 1], [n - n // 2, n // 2])


def circles(n_samples: int = 1000, noise: float = 0.05, seed: int = 0) -> RawData:
    from sklearn.datasets import make_circles  # here: scikit-learn only for the sets that use it

    _check(n_samples, noise)
    x, y = make_circles(n_samples, noise=noise, factor=0.5, random_state=seed)
    return _classes("circles", x, y)


def moons(n_samples: int = 1000, noise: float = 0.1, seed: int = 0) -> RawData:
    from sklearn.datasets import make_moons

    _check(n_samples, noise)
    x, y = make_moons(n_samples, noise=noise, random_state=seed)
    return _classes("moons", x, y)


def xor(n_samples: int = 1000, noise: float = 0.05, seed: int = 0) -> RawData:
    _check(n_samples, noise)
    rng = np.random.default_rng(seed)
    y = rng.permutation(_halves(n_samples))
    # Class 1 in quadrants 1 and 3, class 0 in 2 and 4; points kept off the axes a little.
    magnitude = rng.uniform(0.05, 1.0, size=(n_samples, 2))
    first_sign = rng.choice([-1.0, 1.0], size=n_samples)
    second_sign = np.where(y == 1, first_sign, -first_sign)
    x = magnitude * np.stack([first_sign, second_sign], 1) + rng.normal(0, noise, (n_samples, 2))
    return _classes("xor", x, y)


def gauss(n_samples: int = 1000, noise: float = 0.5, seed: int = 0) -> RawData:
    _check(n_samples, noise)
    rng = np.random.default_rng(seed)
    y = rng.permutation(_halves(n_samples))
    centers = np.where(y[:, None] == 1, 1.0, -1.0)
    x = centers + rng.normal(0, noise, (n_samples, 2))
    return _classes("gauss", x, y)


def spiral(n_samples: int = 1000, noise: float = 0.05, seed: int = 0) -> RawData:
    _check(n_samples, noise)
    rng = np.random.default_rng(seed)
    y = rng.permutation(_halves(n_samples))
    t = rng.uniform(0.0, 1.0, n_samples)
    angle = 1.75 * 2 * np.pi * t + np.pi * y
    x = np.stack([t * np.sin(angle), t * np.cos(angle)], 1) + rng.normal(0, noise, (n_samples, 2))
    return _classes("spiral", x, y)


def wave(n_samples: int = 1000, noise: float = 0.1, n_features: int = 1, seed: int = 0) -> RawData:
    _check(n_samples, noise)
    if n_features not in (1, 2):
        raise ConfigError(f"data.n_features={n_features!r} is not allowed: 1 or 2 for data=wave")
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, (n_samples, n_features))
    y = np.sin(np.pi * x[:, 0])
    if n_features == 2:
        y = y * np.cos(np.pi * x[:, 1])
    y = y + rng.normal(0, noise, n_samples)
    features = pd.DataFrame({f"x{i + 1}": x[:, i] for i in range(n_features)})
    return RawData("wave", features, pd.Series(y, name="y"), task="regression", source="wave")
