"""trainlab: an introductory deep-learning course as a configurable trainer.

    from trainlab.models import Dense, Perceptron, MLP   # torch only
    from trainlab import run
    result = run(["model=mlp", "optimizer=adam"])
    results = run_sweep(["seed=range(0,8)", "optimizer.lr=0.001,0.01"])  # 16 jobs, trained at once

Every name loads its module on first use: importing ``trainlab`` imports neither torch
nor Lightning, so the command line answers ``--help`` and config errors before either.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trainlab.api import RunResult, run, run_sweep
    from trainlab.models import MLP, Dense, Perceptron

__all__ = ["MLP", "Dense", "Perceptron", "RunResult", "run", "run_sweep"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in ("run", "run_sweep", "RunResult"):
        from trainlab import api

        return getattr(api, name)
    if name in ("MLP", "Dense", "Perceptron"):
        from trainlab import models

        return getattr(models, name)
    raise AttributeError(f"module 'trainlab' has no attribute {name!r}")
