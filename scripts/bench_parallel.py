"""A sweep on several cores: Hydra's joblib launcher beside the basic launcher (``--only joblib``).

    python scripts/bench.py --only joblib [--repeats 3]

The same 8-job sweep of the default run (``seed=0..7``, everything else as ``python train.py``)
is run from the shell by the basic launcher (one job after another, in one process) and by
``hydra/launcher=joblib hydra.launcher.n_jobs=2`` (two worker processes, each job with its
share of the cores: ``trainlab.training.threads``). Whole wall times, from the shell, alternating,
``repeats`` times each; the ratio of medians is the figure (target: at most 0.6 on 2 cores).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TRAIN = str(Path(__file__).resolve().parent.parent / "train.py")
SEEDS = "seed=range(0,8)"
LAUNCHERS = {
    "basic launcher": [],
    "joblib, n_jobs=2": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
}


def _sweep_seconds(extra: list[str]) -> float:
    with tempfile.TemporaryDirectory() as cwd:
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, TRAIN, "-m", SEEDS, *extra], cwd=cwd, capture_output=True, text=True, timeout=1200
        )
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"sweep {extra} failed:\n{done.stderr[-2000:]}")
        rows = (next(Path(cwd, "outputs", "multirun").glob("*/*")) / "summary.csv").read_text().splitlines()
        if len(rows) != 9 or any(f",{bad}," in r for r in rows for bad in ("failed", "diverged")):
            raise RuntimeError(f"sweep {extra}: expected 8 trained jobs in summary.csv, got:\n" + "\n".join(rows))
    return seconds


def parallel(repeats: int) -> None:
    """Print the median wall time of each launcher and their ratio."""
    times: dict[str, list[float]] = {name: [] for name in LAUNCHERS}
    for _ in range(repeats):
        for name, extra in LAUNCHERS.items():
            times[name].append(_sweep_seconds(extra))
    basic, joblib = (statistics.median(t) for t in times.values())
    print(f"\n== an 8-job sweep of the default run on {os.cpu_count()} cores, whole wall time (median of {repeats}) ==")
    for name, runs in times.items():
        print(f"{name:18s} {statistics.median(runs):7.1f} s   ({', '.join(f'{t:.1f}' for t in runs)})")
    print(f"joblib / basic     {joblib / basic:7.2f}   (target <= 0.6)")


if __name__ == "__main__":
    parallel(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
