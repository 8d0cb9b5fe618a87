"""The optional parts of trainlab and the packages they need (``pip install "trainlab[scale]"``).

A launcher or sweeper asked for on the command line whose package is missing is refused
before Hydra starts, in one line naming the extra to install (Hydra's own refusal lists the
installed options instead, and says nothing of where the missing one comes from).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

from trainlab.errors import ConfigError

# (group, option) -> (the module that must import, what it is)
NEEDS = {
    ("hydra/launcher", "joblib"): ("hydra_plugins.hydra_joblib_launcher", "Hydra's joblib launcher"),
    ("hydra/launcher", "submitit_local"): ("hydra_plugins.hydra_submitit_launcher", "Hydra's submitit launcher"),
    ("hydra/launcher", "submitit_slurm"): ("hydra_plugins.hydra_submitit_launcher", "Hydra's submitit launcher"),
    ("hydra/launcher", "slurm"): ("hydra_plugins.hydra_submitit_launcher", "Hydra's submitit launcher"),
    ("hydra/sweeper", "optuna"): ("optuna", "Optuna"),
}
INSTALL = 'pip install "trainlab[scale]"'


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def check_extras(overrides: Sequence[str]) -> None:
    """``ConfigError`` for the first ``group=option`` override whose package is not installed."""
    for override in overrides:
        group, _, option = override.lstrip("+~").partition("=")
        need = NEEDS.get((group, option))
        if need is not None and not _installed(need[0]):
            raise ConfigError(f"{group}={option} needs {need[1]}, which is not installed: {INSTALL}")
