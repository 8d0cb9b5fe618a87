"""matplotlib on the Agg backend (no display needed), and the decision-boundary picture
drawn from a finished run: the run's own preprocessing and best weights over a grid of
the raw inputs (``trainlab.predict.Predictor``), the data's points on top."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainlab.data.dataset import RawData
from trainlab.predict import Predictor


def pyplot() -> Any:
    """matplotlib.pyplot with the Agg backend, which draws files only."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, path: Path) -> Path:
    """Write ``fig`` at ``path`` (a PNG at 100 dpi, or SVG where the name ends in .svg) and close it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    pyplot().close(fig)
    return path


def positive_proba(predictor: Predictor, frame: pd.DataFrame) -> np.ndarray:
    """P(class = the last of the sorted labels | x) for each row of raw features ``frame``."""
    out = predictor.predict(frame, proba=True)
    return out[[c for c in out.columns if c.startswith("proba_")][-1]].to_numpy()


def boundary(ax: Any, predictor: Predictor, raw: RawData, title: str, size: int = 120) -> Any:
    """Shade P(positive | x) over the raw inputs' box (5% margin), draw the 0.5 contour and
    the points coloured by their label; returns the shading for a colour bar."""
    x = raw.features.to_numpy(dtype=float)
    lo, hi = x.min(0), x.max(0)
    pad = 0.05 * (hi - lo)
    g1, g2 = np.meshgrid(
        np.linspace(lo[0] - pad[0], hi[0] + pad[0], size), np.linspace(lo[1] - pad[1], hi[1] + pad[1], size)
    )
    grid = pd.DataFrame({raw.features.columns[0]: g1.ravel(), raw.features.columns[1]: g2.ravel()})
    p = positive_proba(predictor, grid).reshape(size, size)
    shade = ax.contourf(g1, g2, p, levels=np.linspace(0, 1, 11), cmap="RdBu", alpha=0.8)
    ax.contour(g1, g2, p, levels=[0.5], colors="k", linewidths=1.5)
    labels = raw.target.astype(str).to_numpy()
    positive = sorted(set(labels))[-1]
    ax.scatter(x[:, 0], x[:, 1], c=np.where(labels == positive, "navy", "darkred"), s=6, linewidths=0)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(str(raw.features.columns[0]))
    ax.set_ylabel(str(raw.features.columns[1]))
    return shade


def raw_data(config: Any) -> RawData:
    """The data set a run trained on, all of it, as loaded (before splitting and scaling):
    its loader called with the run's data keys and seed."""
    from omegaconf import OmegaConf

    from trainlab.data import COMMON_KEYS, DATASETS

    data = OmegaConf.to_container(config.data, resolve=True)
    assert isinstance(data, dict)
    kwargs = {k: v for k, v in data.items() if k not in COMMON_KEYS}
    return DATASETS[data["name"]](**kwargs, seed=data["seed"])
