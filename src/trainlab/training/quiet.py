"""Keep Lightning's console output to what a trainlab user needs.

Dropped: Lightning's advertisement for its cloud logger, its "Detected KeyboardInterrupt,
attempting graceful shutdown ..." on Ctrl-C (trainlab says where the run stopped and how to
resume it: ``errors.Interrupted``), the warning that there are fewer batches than
``log_every_n_steps`` (trainlab logs per epoch), and a deprecation warning that Lightning
raises inside its own code on newer torch.
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

_LIGHTNING_LOGGERS = ("lightning.pytorch", "lightning.fabric")


# Text of each message dropped from Lightning's rank-zero logger (``rank_zero_info``).
_DROPPED = ("Tip: For seamless cloud logging", "Detected KeyboardInterrupt, attempting graceful shutdown")


class _DropTips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in _DROPPED)


_propagate = False  # set once by a propagate_to_root call, for the rest of the process


def quiet_lightning(propagate_to_root: bool = False) -> None:
    """Filter the noise above. With ``propagate_to_root`` (under Hydra, whose root handlers
    print to the console and to the run's train.log) Lightning's own console handler is
    removed so that each message shows once."""
    for name in _LIGHTNING_LOGGERS:
        # A logger's filters see only its own records, so filter where the tip is logged.
        rank_zero = logging.getLogger(f"{name}.utilities.rank_zero")
        if not any(isinstance(f, _DropTips) for f in rank_zero.filters):
            rank_zero.addFilter(_DropTips())
    global _propagate
    _propagate = _propagate or propagate_to_root
    # Importing Lightning installs its handler; until it is imported (trainlab imports it once
    # the config has passed), a later call, the one after that import, removes it.
    if _propagate and "lightning" in sys.modules:
        for name in ("lightning", *_LIGHTNING_LOGGERS):
            logging.getLogger(name).handlers.clear()
            logging.getLogger(name).propagate = True
    warnings.filterwarnings("ignore", message=r".*smaller than the logging interval.*")
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)` is deprecated.*")


SILENT = ("trainer.enable_progress_bar=false", "trainer.enable_model_summary=false")


@contextmanager
def quiet_logs(quiet: bool) -> Iterator[None]:
    """Lightning's and trainlab's info messages off within the block, with ``quiet``."""
    lightning = [f"lightning.{p}{s}" for p in ("pytorch", "fabric") for s in ("", ".utilities.rank_zero")]
    names = (*lightning, "trainlab") if quiet else ()
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
