"""Labelled figures drawn once per run with matplotlib: the confusion matrix, predicted vs true.

matplotlib (with its Agg backend, no display) is imported only when a figure is drawn; the
per-epoch pictures are torch rasters (``trainlab.pictures.draw``) in frames drawn once
(``trainlab.pictures.framed``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from trainlab.files.atomic import atomic_open


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def confusion_matrix_figure(matrix: torch.Tensor, class_names: Sequence[str]) -> Any:
    """Counts [C, C] (row: true class, column: predicted class) as a labelled heatmap."""
    plt = _pyplot()
    n = len(class_names)
    side = min(2.5 + 0.55 * n, 12)
    fig, ax = plt.subplots(figsize=(side, side * 0.9), dpi=100)
    counts = matrix.cpu().numpy()
    ax.imshow(counts, cmap="Blues")
    ax.set_xticks(range(n), labels=class_names, rotation=45 if n > 4 else 0)
    ax.set_yticks(range(n), labels=class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    threshold = counts.max() / 2 if counts.size else 0
    if n <= 20:
        for i in range(n):
            for j in range(n):
                colour = "white" if counts[i, j] > threshold else "black"
                ax.text(j, i, f"{counts[i, j]:d}", ha="center", va="center", color=colour, fontsize=9)
    correct = int(counts.trace())
    total = int(counts.sum())
    ax.set_title(f"test: {correct} of {total} correct ({correct / max(total, 1):.1%})")
    fig.tight_layout()
    return fig


def predicted_vs_true_figure(predicted: torch.Tensor, true: torch.Tensor, name: str = "target") -> Any:
    """A scatter of predicted against true values (test set) with the line y = x."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    p, t = predicted.reshape(-1).cpu().numpy(), true.reshape(-1).cpu().numpy()
    ax.scatter(t, p, s=10, alpha=0.6, color="#0877bd")
    lo, hi = float(min(p.min(), t.min())), float(max(p.max(), t.max()))
    ax.plot([lo, hi], [lo, hi], color="#f59322", linewidth=1.5, label="predicted = true")
    ax.set_xlabel(f"true {name}")
    ax.set_ylabel(f"predicted {name}")
    ax.set_title(f"test: {len(t)} rows")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def lr_find_figure(
    lrs: Sequence[float], raw: Sequence[float], smoothed: Sequence[float], suggestion: float | None, log_x: bool = True
) -> Any:
    """The LR range test: loss per step (faint) and smoothed, against the learning rate,
    with the suggested rate marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=100)
    ax.plot(lrs, raw, color="#0877bd", alpha=0.25, linewidth=1, label="loss per step")
    ax.plot(lrs, smoothed, color="#0877bd", linewidth=2, label="smoothed")
    if log_x:
        ax.set_xscale("log")
    finite = [v for v in smoothed if v == v and abs(v) != float("inf")]
    if finite:  # a diverging tail would squash the interesting part
        lo, hi = min(finite), max(finite[: max(1, len(finite) * 9 // 10)])
        ax.set_ylim(lo - 0.1 * (hi - lo + 1e-12), hi + 0.3 * (hi - lo + 1e-12))
    if suggestion is not None:
        ax.axvline(suggestion, color="#f59322", linewidth=1.5, label=f"suggested lr {suggestion:.3g}")
        ax.set_title(f"LR range test: suggested lr {suggestion:.3g}")
    else:
        ax.set_title("LR range test: no suggestion (too few steps)")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def to_image(fig: Any) -> torch.Tensor:
    """The rendered figure as uint8 [3, H, W] (TensorBoard's CHW layout); closes the figure."""
    import numpy as np

    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    _pyplot().close(fig)
    return torch.from_numpy(rgb).permute(2, 0, 1).contiguous()


def save(fig: Any, path: Path) -> Path:
    """Write the figure as a PNG, atomically (``trainlab.files.atomic``), and keep it open."""
    with atomic_open(path, "wb") as file:
        fig.savefig(file, format="png")
    return Path(path)
