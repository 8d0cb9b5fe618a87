"""``hydra/sweeper=grid``, trainlab's default sweeper: Hydra's basic sweeper (every combination
of the values given, ``python train.py -m optimizer=sgd,adam seed=0,1``), less its second
composition of every job under ``hydra/launcher=stacked``.

Before it hands a batch to the launcher, Hydra's basic sweeper composes every job's config
once to fail early (``Sweeper.validate_batch_is_legal``: "this repeats work the launcher
will do, [...] in a different process/machine"). The stacked launcher composes and checks
every job itself, in this process, before any trains (its ``launch``: one composition per
distinct choice of config options, the same errors), so the check is the sweep's largest
cost there: about 0.1 s a job on this project's CPU, where the rest of a stacked job costs
a few milliseconds. Under any other launcher this sweeper checks as Hydra's does.
(No ``from __future__ import annotations``: see ``stacked_launcher``.)
"""

from collections.abc import Sequence
from dataclasses import dataclass

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper, BasicSweeperConf
from hydra.core.config_store import ConfigStore


@dataclass
class GridSweeperConf(BasicSweeperConf):
    _target_: str = "hydra_plugins.trainlab_launcher.grid_sweeper.GridSweeper"


ConfigStore.instance().store(group="hydra/sweeper", name="grid", node=GridSweeperConf, provider="trainlab")


class GridSweeper(BasicSweeper):
    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        """Hydra's check that each job of ``batch`` composes, unless the launcher composes and
        checks every job before any runs (``composes_every_job``)."""
        if not getattr(self.launcher, "composes_every_job", False):
            super().validate_batch_is_legal(batch)
