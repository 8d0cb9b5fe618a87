"""Command-line entry points: ``python train.py``, ``trainlab-train`` and ``python -m trainlab``."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig
from rich.console import Console

from trainlab.errors import ConfigError


@hydra.main(config_path=str(Path(__file__).parent / "conf"), config_name="train", version_base="1.3")
def _train(cfg: DictConfig) -> float | None:
    from trainlab.validate import validate

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    try:
        validate(cfg)  # before Lightning is even imported: a bad value fails fast
        from trainlab.api import train
        from trainlab.quiet import quiet_lightning

        quiet_lightning(propagate_to_root=True)
        result = train(cfg, run_dir, dict(hydra_cfg.runtime.choices))
    except ConfigError as error:
        Console(stderr=True).print(f"[bold red]error:[/] {error}", highlight=False)
        _remove_if_empty_run(run_dir)
        sys.exit(2)
    return result.metrics.get(cfg.monitor)


def _remove_if_empty_run(run_dir: Path) -> None:
    """Drop a run dir that holds only Hydra's own files: a rejected config trained nothing."""
    if run_dir.is_dir() and {p.name for p in run_dir.iterdir()} <= {".hydra", "train.log"}:
        shutil.rmtree(run_dir, ignore_errors=True)


def train() -> None:
    """``trainlab-train [group=option ...] [key=value ...]`` (Hydra's command line; ``-m`` sweeps)."""
    _train()
