"""The course, reproduced: one experiment per lecture claim, through trainlab's own ``run``
and ``run_sweep``, written as a static page (``python -m trainlab.course --out DIR``).

Each claim is a module with ``section(course) -> Section``; ``CLAIMS`` lists them in the
lecture's order and ``build`` runs them all and writes ``index.html``.
"""

from __future__ import annotations

import difflib
import sys
import time
from collections.abc import Callable, Sequence
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


def claim_name(claim: Callable[[Course], Section]) -> str:
    """A claim's name on the command line: its module's (``pass_the_class``)."""
    return claim.__module__.rsplit(".", 1)[-1]


def chosen_claims(names: Sequence[str] | None) -> list[Callable[[Course], Section]]:
    """The claims named (all of them for None), in the lecture's order; ``ValueError`` naming
    an unknown name and the allowed ones."""
    if not names:
        return list(CLAIMS)
    allowed = [claim_name(claim) for claim in CLAIMS]
    unknown = [name for name in names if name not in allowed]
    if unknown:
        hint = difflib.get_close_matches(unknown[0], allowed, n=1)
        maybe = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise ValueError(f"--only {unknown[0]!r} is not a claim{maybe}; allowed: {', '.join(allowed)}")
    return [claim for claim in CLAIMS if claim_name(claim) in names]


def build(
    out: str | Path, command: str | None = None, only: Sequence[str] | None = None
) -> tuple[Path, list[Section], float]:
    """Run each claim's experiment (``only`` those named, by ``claim_name``) into ``out`` and
    write ``out/index.html``; returns the page, the sections and the wall time in seconds."""
    from trainlab.course import site

    claims = chosen_claims(only)  # an unknown name: refused before any work
    start = time.perf_counter()
    course = Course(Path(out).resolve())
    course.out.mkdir(parents=True, exist_ok=True)
    sections = [claim(course) for claim in claims]
    seconds = time.perf_counter() - start
    page = site.write(course.out, sections, seconds, command or " ".join(["python -m trainlab.course", *sys.argv[1:]]))
    return page, sections, seconds


__all__ = ["CLAIMS", "Course", "Section", "build", "chosen_claims", "claim_name"]
