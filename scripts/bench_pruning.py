"""``bench.py``'s pruning section: a 32-trial Optuna search with a median pruner, its batches
trained as stacks (``hydra/launcher=stacked``), beside the same search trained one trial at
a time (``hydra/launcher=basic``).

Each route is what a user runs: ``python train.py -m hydra/sweeper=optuna ...`` in a
subprocess, its whole wall time (start-up, composing, the study, training, every trial's run
directory and the sweep's tables). The search: 32 trials asked 16 at a time
(``hydra.sweeper.n_jobs=16``: one stack per batch), a seeded random sampler over
``optimizer.lr`` (log, 1e-4 to 0.3), the median pruner (2 startup trials, no pruning before
epoch 2); 2-16-16-2 on random rows, batch 32, pictures off, no logger. The first batch
completes (no trial is COMPLETE while it trains, so the median pruner has nothing to compare
with); the second is judged against it. Both routes print the trials they pruned, each with
its epoch, from their studies: they must agree (``search.link``, ``callbacks.pruning``).
Then both again in this one process, after a small search on each: the search without
Python's start-up and the first imports (about 6 of the stacked command's seconds here).

    python scripts/bench_pruning.py [--repeats N]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRIALS, BATCH = 32, 16
SEARCH = [
    "-m",
    "hydra/sweeper=optuna",
    f"hydra.sweeper.n_trials={TRIALS}",
    f"hydra.sweeper.n_jobs={BATCH}",
    "hydra.sweeper.sampler=random",
    "hydra.sweeper.seed=0",
    "hydra.sweeper.study_name=bench",
    "hydra.sweeper.pruner=median",
    "hydra.sweeper.pruner_args={n_startup_trials:2,n_warmup_steps:2}",
    "optimizer.lr=tag(log,interval(1e-4,3e-1))",
    "data=random",
    "data.n_samples=6000",
    "data.n_features=2",
    "data.n_classes=2",
    "data.batch_size=32",
    "model.hidden=[16,16]",
    "loss=cross_entropy",
    "optimizer=adam",
    "regularization=[]",
    "trainer.max_epochs=8",
    "pictures.enabled=false",
    "logger=none",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
]


def search(launcher: str, sweep_dir: Path) -> float:
    """The search on ``launcher`` into ``sweep_dir``; its wall seconds (the subprocess's whole run)."""
    command = [sys.executable, str(ROOT / "train.py"), *SEARCH, f"hydra/launcher={launcher}"]
    start = time.perf_counter()
    done = subprocess.run(
        [*command, f"hydra.sweep.dir={sweep_dir}"], cwd=sweep_dir.parent, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{launcher}: exit {done.returncode}: {done.stderr.strip()[-2000:]}")
    return seconds


def search_here(launcher: str, sweep_dir: Path, extra: tuple[str, ...] = ()) -> float:
    """The search on ``launcher`` in this process (``trainlab.cli.train`` with its command line
    set): its wall seconds, without Python's start-up and the imports a first search pays."""
    from trainlab.cli import train

    argv = sys.argv
    sys.argv = ["train.py", *SEARCH, *extra, f"hydra/launcher={launcher}", f"hydra.sweep.dir={sweep_dir}"]
    quiet = open(os.devnull, "w")  # noqa: SIM115 (Hydra's log handlers keep it: left for the collector)
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            train()
    except SystemExit as stop:
        if stop.code:
            raise RuntimeError(f"{launcher}: exit {stop.code}") from None
    finally:
        sys.argv = argv
    return time.perf_counter() - start


def pruned(sweep_dir: Path) -> list[tuple[int, int]]:
    """(trial, epoch pruned at) of each trial the study holds as PRUNED, by trial number."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name="bench", storage=f"sqlite:///{sweep_dir}/optuna.db")
    return [(t.number, t.last_step) for t in study.get_trials() if t.state == optuna.trial.TrialState.PRUNED]


def pruning(repeats: int) -> None:
    """Both routes ``repeats`` times, alternating; a table of median wall times, their ratio and
    the pruned trials of each (the last repeat's)."""
    times: dict[str, list[float]] = {"stacked": [], "basic": []}
    lists: dict[str, list[tuple[int, int]]] = {}
    for _ in range(max(repeats, 1)):
        for launcher in times:
            with tempfile.TemporaryDirectory() as out:
                sweep_dir = Path(out) / "sweep"
                times[launcher].append(search(launcher, sweep_dir))
                lists[launcher] = pruned(sweep_dir)
    stacked, basic = statistics.median(times["stacked"]), statistics.median(times["basic"])
    print(f"\n== a {TRIALS}-trial Optuna search, median pruner, {BATCH} trials a batch: stacked vs one at a time ==")
    print(f"  wall seconds, median of {max(repeats, 1)} (python train.py -m ..., whole run)")
    print(f"  hydra/launcher=stacked  {stacked:8.2f} s")
    print(f"  hydra/launcher=basic    {basic:8.2f} s   = {basic / stacked:.1f}x the stacked search")
    for launcher, found in lists.items():
        shown = ", ".join(f"{trial}@{epoch}" for trial, epoch in found) or "none"
        print(f"  pruned ({launcher}, trial@epoch): {shown}")
    same = lists["stacked"] == lists["basic"]
    print(f"  the same trials pruned at the same epochs: {'yes' if same else 'NO'} ({len(lists['stacked'])} pruned)")
    here: dict[str, list[float]] = {"stacked": [], "basic": []}
    with tempfile.TemporaryDirectory() as out:
        for launcher in here:  # a small search on each first: the imports and first calls
            warm = ("hydra.sweeper.n_trials=4", "hydra.sweeper.n_jobs=2", f"hydra.sweeper.study_name=warm_{launcher}")
            search_here(launcher, Path(out) / f"warm_{launcher}", warm)
        for r in range(max(repeats, 1)):
            for launcher in here:
                here[launcher].append(search_here(launcher, Path(out) / f"{launcher}{r}"))
    stacked, basic = statistics.median(here["stacked"]), statistics.median(here["basic"])
    print("  the search alone (in this process after a warm-up search of each: no start-up, no first imports)")
    print(f"  hydra/launcher=stacked  {stacked:8.2f} s")
    print(f"  hydra/launcher=basic    {basic:8.2f} s   = {basic / stacked:.1f}x the stacked search")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    pruning(parser.parse_args().repeats)


if __name__ == "__main__":
    main()
