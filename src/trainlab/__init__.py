"""trainlab: an introductory deep-learning course as a configurable trainer.

    from trainlab.models import Dense, Perceptron, MLP   # torch only
    from trainlab import run
    result = run(["model=mlp", "optimizer=adam"])

``run`` and ``RunResult`` load Lightning and Hydra on first use, so importing
``trainlab`` or ``trainlab.models`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trainlab.models import MLP, Dense, Perceptron

if TYPE_CHECKING:
    from trainlab.api import RunResult, run

__all__ = ["MLP", "Dense", "Perceptron", "RunResult", "run"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in ("run", "RunResult"):
        from trainlab import api

        return getattr(api, name)
    raise AttributeError(f"module 'trainlab' has no attribute {name!r}")
