"""Cross-validation trained as a stack (``trainlab.lifecycle.folds``) beside one run, in one process
(``bench.py``'s sweep section calls ``folds``).

Routes, the whole ``trainlab.run`` call (composing, checks, data, training, testing, every
fold's directory and the summary), pictures off, the default run otherwise (will_i_pass,
dropout and early stopping, TensorBoard on):

- ``one run``: ``trainlab.run(["pictures.enabled=false"])``;
- ``5 folds, stacked``: ``data.folds=5``, its folds trained as one stack (the default);
- ``5 folds, one by one``: the same, each fold trained alone after the other (as before:
  ``checked_run.STACK_FOLDS = False``).

After a warm-up of each route; medians over ``repeats``, routes alternating. The target:
``5 folds, stacked`` at most 1.5x ``one run``.

    python scripts/bench_folds.py [repeats]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable

import trainlab
from trainlab.lifecycle import checked_run

ONE = ["pictures.enabled=false"]
FOLDS = ["data.folds=5", "pictures.enabled=false"]


def _route(overrides: list[str], stacked: bool) -> Callable[[], float]:
    """A route: the wall seconds of one whole ``trainlab.run`` call."""

    def route() -> float:
        checked_run.STACK_FOLDS = stacked
        try:
            with tempfile.TemporaryDirectory() as out:
                start = time.perf_counter()
                trainlab.run(overrides, output_dir=out, verbose=False)
                return time.perf_counter() - start
        finally:
            checked_run.STACK_FOLDS = True

    return route


def folds(repeats: int) -> None:
    """Time the routes (see the module doc) and print their medians and ratios to one run."""
    routes = {
        "one run": _route(ONE, True),
        "5 folds, stacked": _route(FOLDS, True),
        "5 folds, one by one": _route(FOLDS, False),
    }
    for route in routes.values():  # warm-up: imports, first compositions
        route()
    times: dict[str, list[float]] = {name: [] for name in routes}
    for _ in range(repeats):
        for name, route in routes.items():
            times[name].append(route())
    one = statistics.median(times["one run"])
    print(f"\ndata.folds=5 on the default run, pictures off (wall seconds of the whole call, median of {repeats})")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:22s} {median:7.2f} s  {median / one:5.2f}x one run")
    print("  target: 5 folds, stacked at most 1.50x one run")


if __name__ == "__main__":
    folds(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
