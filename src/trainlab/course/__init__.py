"""The course, reproduced: one experiment per lecture claim, through trainlab's own ``run``
and ``run_sweep``, written as a static page (``python -m trainlab.course --out DIR``).

Each claim is a module with ``section(course) -> Section``; ``CLAIMS`` lists them in the
lecture's order and ``build`` runs them all and writes ``index.html``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from trainlab.course import (
    activation_derivatives,
    depth,
    fitting,
    gradient_descent,
    learning_rate,
    linearity,
    loss_choice,
    minibatches,
    optimizers,
    pass_the_class,
    perceptron,
    regularization,
)
from trainlab.course.common import Course, Section

CLAIMS: tuple[Callable[[Course], Section], ...] = (
    perceptron.section,
    activation_derivatives.section,
    linearity.section,
    depth.section,
    pass_the_class.section,
    loss_choice.section,
    gradient_descent.section,
    learning_rate.section,
    optimizers.section,
    minibatches.section,
    fitting.section,
    regularization.section,
)


def build(out: str | Path, command: str | None = None) -> tuple[Path, list[Section], float]:
    """Run every claim's experiment into ``out`` and write ``out/index.html``; returns the
    page, the sections and the wall time in seconds."""
    from trainlab.course import site

    start = time.perf_counter()
    course = Course(Path(out).resolve())
    course.out.mkdir(parents=True, exist_ok=True)
    sections = [claim(course) for claim in CLAIMS]
    seconds = time.perf_counter() - start
    page = site.write(course.out, sections, seconds, command or " ".join(["python -m trainlab.course", *sys.argv[1:]]))
    return page, sections, seconds


__all__ = ["CLAIMS", "Course", "Section", "build"]
