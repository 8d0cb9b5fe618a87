"""Numbers and run directories recorded by the release before the layout change (main at 3268e51),
which later code must reproduce: tests/fixtures/release/ (its README says how they were made)."""

import json
import platform
from pathlib import Path
from typing import Any

import pytest
import torch

FIXTURES = Path(__file__).parent / "fixtures" / "release"


def recorded(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def same_machine(record: dict[str, Any]) -> bool:
    """Whether this machine runs the torch build and CPU kernels the record was made with: then
    the same seed, shapes and thread count give the same bits."""
    here = {"torch": torch.__version__, "cpu": torch.backends.cpu.get_cpu_capability(), "machine": platform.machine()}
    return all(record[k] == v for k, v in here.items())


def rows(history: list[dict[str, float]]) -> list[dict[str, float]]:
    """A history without its wall times."""
    return [{k: v for k, v in row.items() if k != "epoch_seconds"} for row in history]


def assert_numbers(ours: Any, theirs: Any, record: dict[str, Any], rel: float) -> None:
    """Equal bit for bit on the machine the record was made on; elsewhere (other CPU kernels or
    torch build) to ``rel``."""
    if same_machine(record):
        assert ours == theirs
    else:
        assert ours == pytest.approx(theirs, rel=rel, abs=rel)
