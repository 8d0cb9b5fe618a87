"""What a run gives back: ``RunResult``, the same for a lone run and a stack's member."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig


@dataclass
class RunResult:
    """What a finished run gives back.

    ``metrics``: final ``val/*`` and ``test/*`` metrics, both of the best weights (with
    cross-validation: their mean over the folds, ``metrics_std`` their standard deviation
    and ``folds`` each fold's).
    ``history``: one dict per epoch (epoch from 1, train/loss, val/loss, val metrics, lr;
    ``fold`` with cross-validation).
    ``model``: the trained ``nn.Module`` holding the best weights (of the best fold).
    ``best_checkpoint``: the Lightning checkpoint of those weights.
    ``stopped_by``: what ended training (early stopping, max_epochs, max_steps, max_time).
    ``device``: where it trained (``cpu``, ``cuda:0``); Lightning hands the model back on the CPU.
    ``submission``: the predictions for ``data.test``, when given.
    ``fit_seconds``: wall time of training (all folds), validation included, test excluded.
    ``threads``: torch's CPU threads while training (``trainlab.training.threads``: the thread policy).
    """

    metrics: dict[str, float]
    history: list[dict[str, float]]
    model: Any  # torch.nn.Module (torch is imported only once a run is certain)
    run_dir: Path
    best_checkpoint: Path | None
    best_epoch: int | None = None
    stopped_early: bool = False
    stopped_by: str | None = None
    device: str = "cpu"
    metrics_std: dict[str, float] = field(default_factory=dict)
    folds: list[dict[str, float]] = field(default_factory=list)
    submission: Path | None = None
    fit_seconds: float = 0.0
    threads: int = 1
    config: DictConfig | None = field(default=None, repr=False)
