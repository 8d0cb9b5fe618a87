"""What every claim's experiment shares: the quiet overrides, the section it hands to the
page, where its runs go, and the command line that reproduces a run."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Neither changes a trained number: no picture files, no logger files, nothing printed.
QUIET: tuple[str, ...] = (
    "pictures.enabled=false",
    "logger=none",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
)


@dataclass
class Section:
    """One lecture claim on the page.

    ``images``: (file name relative to the page, alt text). ``table``: a header row, then
    rows of already-formatted cells. ``numbers``: the measured values, by name, for tests.
    """

    key: str
    title: str
    claim: str
    images: list[tuple[str, str]] = field(default_factory=list)
    table: list[list[str]] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)


@dataclass
class Course:
    """The output folder: the page and its images at the top, every run under ``runs/``."""

    out: Path

    def run_dir(self, *parts: str) -> Path:
        return self.out / "runs" / Path(*parts)

    def image(self, name: str) -> Path:
        return self.out / name


def train_command(overrides: Sequence[str], multirun: bool = False) -> str:
    """The ``python train.py`` line for ``overrides``, each shell-quoted where needed
    (``model.hidden=[16,16]`` would otherwise be a glob)."""
    head = ["python", "train.py", *(["-m"] if multirun else [])]
    return " ".join([*head, *(shlex.quote(o) for o in overrides)])


def fmt(value: float | None, digits: int = 4) -> str:
    """A number for the page: ``digits`` significant digits; ``-`` for none."""
    if value is None:
        return "-"
    return f"{value:.{digits}g}"
