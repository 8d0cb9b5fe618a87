"""A stack that shrinks as its members stop (``trainlab.training.stack.stack_steps``): its time
against the time of its live members, in one process (``bench.py``'s sweep section calls ``shrink``).

Workload: 2-16-16-2 on 20k random rows, batch 32 (``bench_sweep.TINY``'s), Adam, pictures off,
no logger, through ``trainlab.run_sweep`` (the whole call: composing, data, training, testing,
every job's run directory). Routes, medians over ``repeats``, alternating:

- ``64 x 5``: 64 jobs (16 seeds x 4) for 5 epochs; ``16 x 20``: 16 jobs (16 seeds) for 20 epochs;
- ``mixed``: 64 jobs, 48 with ``trainer.max_epochs=5`` and 16 with 20 (``trainer.max_epochs=5,5,5,20``
  x 16 seeds: the three 5-epoch jobs of a seed are alike, which changes no time), never shrinking
  (``SHRINK_BELOW = 0``, before) and shrinking (the default, after).

The target: ``mixed`` within 1.2x of ``64 x 5 + 15/20 x (16 x 20)`` (5 epochs at 64 members plus
15 at 16; the 16-job sweep's whole call scaled by 15/20), for the whole call and for the fit
alone (the Trainer's fit, the stacks' ``fit_seconds``).

``thresholds`` times ``SHRINK_BELOW`` choices on a stack whose members stop a few at a time
(64 jobs: 4 seeds x max_epochs 5..20, four stopping after each epoch from 5 on).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable

from bench_sweep import COMMON, TINY  # scripts/bench_sweep.py

from trainlab.api import run_sweep
from trainlab.training.stack import stack_steps

# bench_sweep's tiny workload (its epochs set per route here), lr 0.003.
WORKLOAD = [*(o for o in TINY if not o.startswith("trainer.max_epochs")), *COMMON, "optimizer.lr=0.003"]
SEEDS = "seed=range(0,16)"


def _sweep(overrides: list[str], shrink_below: float) -> Callable[[], tuple[float, float]]:
    """A route: the sweep's whole wall and its fit seconds (the stacks' fits, summed)."""

    def route() -> tuple[float, float]:
        stack_steps.SHRINK_BELOW = shrink_below
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            results = run_sweep([*WORKLOAD, *overrides], output_dir=out, verbose=False)
            wall = time.perf_counter() - start
        fits = {r.fit_seconds for r in results if not isinstance(r, Exception)}  # one value per stack
        return wall, sum(fits)

    return route


def _medians(routes: dict[str, Callable[[], tuple[float, float]]], repeats: int) -> dict[str, tuple[float, float]]:
    """Each route's median (wall, fit) over ``repeats``, routes alternating, after one warm-up call."""
    default = stack_steps.SHRINK_BELOW
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in routes}
    try:
        next(iter(routes.values()))()  # warm-up: imports, first compositions
        for _ in range(repeats):
            for name, route in routes.items():
                times[name].append(route())
    finally:
        stack_steps.SHRINK_BELOW = default
    return {name: tuple(statistics.median(t[i] for t in got) for i in (0, 1)) for name, got in times.items()}  # type: ignore[misc]


def shrink(repeats: int) -> None:
    """The target's table (see the module doc)."""
    default = stack_steps.SHRINK_BELOW
    routes = {
        "64 x 5 epochs": _sweep([SEEDS, "trainer.max_epochs=5,5,5,5"], default),
        "16 x 20 epochs": _sweep([SEEDS, "trainer.max_epochs=20"], default),
        "mixed, never shrinking": _sweep([SEEDS, "trainer.max_epochs=5,5,5,20"], 0.0),
        f"mixed, shrinking ({default:g})": _sweep([SEEDS, "trainer.max_epochs=5,5,5,20"], default),
    }
    got = _medians(routes, repeats)
    live = tuple(a + 15 / 20 * b for a, b in zip(got["64 x 5 epochs"], got["16 x 20 epochs"], strict=True))
    print(f"\nA shrinking stack: 64 tiny jobs, 48 stop after 5 of 20 epochs (medians of {repeats})")
    print("| route | whole call (s) | fit (s) | / live members' time (call, fit) |")
    print("|---|---|---|---|")
    for name, (wall, fit) in got.items():
        ratio = f"{wall / live[0]:.2f}x, {fit / live[1]:.2f}x" if name.startswith("mixed") else ""
        print(f"| {name} | {wall:.2f} | {fit:.2f} | {ratio} |")
    print(f"| live members' time: 64 x 5 + 15/20 of 16 x 20 | {live[0]:.2f} | {live[1]:.2f} | target <= 1.2x |")


def thresholds(repeats: int, choices: tuple[float, ...] = (0.0, 0.5, 0.75, 1.0)) -> None:
    """``SHRINK_BELOW`` choices on members stopping four at a time (see the module doc)."""
    graded = ["seed=range(0,4)", "trainer.max_epochs=range(5,21)"]
    got = _medians({f"{c:g}": _sweep(graded, c) for c in choices}, repeats)
    print(f"\nSHRINK_BELOW on 64 tiny jobs stopping 4 per epoch from epoch 5 to 20 (medians of {repeats})")
    print("| SHRINK_BELOW | whole call (s) | fit (s) |")
    print("|---|---|---|")
    for name, (wall, fit) in got.items():
        print(f"| {name} | {wall:.2f} | {fit:.2f} |")


if __name__ == "__main__":
    import sys

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    shrink(count)
    thresholds(count)
