"""Checkpoint files: written atomically, read as tensors and plain data only.

Writing: to ``<name>.tmp`` in the same directory, flushed and fsynced, then renamed over
``<name>`` (``os.replace`` is atomic on one file system), so a crash or a kill during a
write leaves the previous checkpoint whole; at worst a stale ``.tmp`` remains, which a
resume removes. Reading: ``torch.load(weights_only=True)``, whose unpickler builds only
tensors, numbers, strings and containers of them: a file crafted to run code when
unpickled is refused before any of it runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from trainlab.errors import ConfigError


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint at ``path`` on the CPU, tensors and plain data only; ConfigError
    naming the file when it is missing, unreadable or holds anything else."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"checkpoint {path}: file not found")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # the unpickler names the global it refused
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(
            f"checkpoint {path} cannot be loaded safely: it is not tensors and plain data only "
            f"(refused by torch.load(weights_only=True), nothing in it was run): {first}"
        ) from None
    if not isinstance(checkpoint, dict):
        raise ConfigError(f"checkpoint {path} is not a Lightning checkpoint (a dict), but {type(checkpoint).__name__}")
    return checkpoint


def save_atomically(checkpoint: dict[str, Any], path: str | Path) -> None:
    """torch.save to a temporary file beside ``path``, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as file:
            torch.save(checkpoint, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint I/O with atomic writes and weights-only reads (see the module doc)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        save_atomically(checkpoint, path)

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        return load_checkpoint(path)
