"""``bench.py --only sweep``: a sweep trained in stacks (``trainlab.run_sweep``) beside its jobs
trained one after another, and beside one of its jobs alone, in one process.

Workloads (pictures off, no logger, for every route alike):
- tiny: 2-16-16-2 on 20k random rows, batch 32, 5 epochs; 64 jobs = 8 seeds x 8 learning rates.
  The basic route (what ``hydra/launcher=basic`` does per job: ``trainlab.run``) runs 8 of
  the jobs and is scaled by 8 (said in the output).
- MNIST-size: 784-512-512-10 on 6k random rows, batch 128, 2 epochs; 16 jobs = 4 seeds x 4
  learning rates, stacked 16 wide and basic (all 16), where the matmuls dominate.
- On CUDA also: 1024 tiny jobs stacked beside one alone.
- At scale (``scale``): N = 64 and 1024 tiny jobs (2-16-16-2, 600 rows, batch 64, 2 epochs,
  8 learning rates x N/8 seeds, TensorBoard on), with pictures off and with the defaults (each
  stack's best ``pictures.sweep_best`` jobs drawn), per job beside one job alone; the same
  sweep of 256 jobs as a user types it (``python train.py -m hydra/launcher=stacked``, a fresh
  process) beside ``python train.py`` of one job; and the peak memory (RSS) of a process that
  runs the 1024-job sweep beside one that runs one job.
Then the shrinking stack (scripts/bench_shrink.py), the stacked Optuna search with a pruner
(scripts/bench_pruning.py) and cross-validation's folds as a stack (scripts/bench_folds.py).
Every time is the wall time of the whole call (composing, checks, data, training, testing and
writing each job's run directory), after a warm-up run; medians over ``repeats``, routes
alternating.
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable

import torch

import trainlab
from trainlab.errors import Diverged

TINY = [
    "data=random",
    "data.n_samples=20000",
    "data.n_features=2",
    "data.n_classes=2",
    "data.batch_size=32",
    "model.hidden=[16,16]",
    "trainer.max_epochs=5",
]
MNIST = [
    "data=random",
    "data.n_samples=6000",
    "data.n_features=784",
    "data.n_classes=10",
    "data.batch_size=128",
    "model.hidden=[512,512]",
    "trainer.max_epochs=2",
]
COMMON = [
    "data.val_fraction=0.1",
    "data.test_fraction=0.1",
    "loss=cross_entropy",
    "optimizer=adam",
    "regularization=[]",
    "pictures.enabled=false",
    "logger=none",
]
LRS = ("0.0001", "0.0003", "0.001", "0.003", "0.01", "0.03", "0.1", "0.3")


def _timed(call: Callable[[str], object], where: str | None = None) -> float:
    with tempfile.TemporaryDirectory(dir=where) as out:
        start = time.perf_counter()
        call(out)
        return time.perf_counter() - start


def _jobs(seeds: int, lrs: tuple[str, ...]) -> list[list[str]]:
    return [[f"seed={s}", f"optimizer.lr={lr}"] for s in range(seeds) for lr in lrs]


def compare(name: str, workload: list[str], seeds: int, lrs: tuple[str, ...], basic_jobs: int, repeats: int) -> None:
    """One job alone, the jobs stacked, and ``basic_jobs`` of them one after another (scaled to all)."""
    base = [*workload, *COMMON]
    jobs = _jobs(seeds, lrs)
    sweep = [*base, "seed=" + ",".join(map(str, range(seeds))), "optimizer.lr=" + ",".join(lrs)]

    fits: dict[str, list[float]] = {"one": [], "stacked": []}  # training alone: the Trainer's fit

    def one(out: str) -> None:
        fits["one"].append(trainlab.run([*base, *jobs[0]], output_dir=f"{out}/one", verbose=False).fit_seconds)

    def stacked(out: str) -> None:
        results = trainlab.run_sweep(sweep, output_dir=f"{out}/sweep", verbose=False)
        fits["stacked"].append(max(r.fit_seconds for r in results if not isinstance(r, Exception)))

    def basic(out: str) -> None:
        for n, job in enumerate(jobs[:basic_jobs]):
            with contextlib.suppress(Diverged):  # as in a sweep: recorded, and the next job goes on
                trainlab.run([*base, *job], output_dir=f"{out}/{n}", verbose=False)

    _timed(one)  # warm-up: imports, first compositions
    times: dict[str, list[float]] = {"one": [], "stacked": [], "basic": []}
    for _ in range(repeats):
        for route, call in (("one", one), ("stacked", stacked), ("basic", basic)):
            times[route].append(_timed(call))
    one_s, stacked_s = statistics.median(times["one"]), statistics.median(times["stacked"])
    basic_s = statistics.median(times["basic"]) * len(jobs) / basic_jobs
    scaled = f" ({basic_jobs} run, x{len(jobs) // basic_jobs})" if basic_jobs < len(jobs) else ""
    print(f"\n{name}: {len(jobs)} jobs (wall seconds, median of {repeats})")
    print(f"  one job alone          {one_s:8.2f} s")
    print(f"  stacked, all jobs      {stacked_s:8.2f} s   = {stacked_s / one_s:.2f}x one job alone")
    print(f"  basic, one after another{basic_s:7.2f} s{scaled}   = {basic_s / stacked_s:.1f}x the stacked sweep")
    fit_one, fit_stacked = statistics.median(fits["one"][1:]), statistics.median(fits["stacked"])
    print(
        f"  training alone (the Trainer's fit): one job {fit_one:.2f} s, the stack {fit_stacked:.2f} s"
        f" = {fit_stacked / fit_one:.2f}x"
    )


SCALE = [
    "data=random",
    "data.n_samples=600",
    "data.n_features=2",
    "data.n_classes=2",
    "data.batch_size=64",
    "model.hidden=[16,16]",
    "trainer.max_epochs=2",
    "loss=cross_entropy",
    "optimizer=adam",
    "regularization=[]",
    "logger=tensorboard",
]


def _scale_sweep(n: int) -> list[str]:
    return [*SCALE, "seed=" + ",".join(map(str, range(n // len(LRS)))), "optimizer.lr=" + ",".join(LRS)]


def scale(repeats: int, sizes: tuple[int, ...] = (64, 1024), command_line: bool = True) -> None:
    """The issue's sweep at scale: per job cost with pictures off and with the defaults (and,
    with ``command_line``, the 256-job sweep as ``python train.py -m`` runs it)."""
    print("\n== a sweep at scale: N tiny jobs (2-16-16-2, 600 rows, 2 epochs, TensorBoard on), whole call ==")
    for pictures in ("pictures.enabled=false", "pictures.enabled=true"):
        base = [*SCALE, pictures]
        one = [*base, "seed=0", "optimizer.lr=0.001"]
        _timed(lambda out, one=one: trainlab.run(one, output_dir=f"{out}/w", verbose=False))  # warm-up
        for n in sizes:
            alone, swept = [], []
            for _ in range(repeats if n <= 256 else 1):
                alone.append(_timed(lambda out, one=one: trainlab.run(one, output_dir=f"{out}/one", verbose=False)))
                sweep = [*_scale_sweep(n), pictures]
                swept.append(
                    _timed(lambda out, sweep=sweep: trainlab.run_sweep(sweep, output_dir=f"{out}/s", verbose=False))
                )
            a, b = statistics.median(alone), statistics.median(swept)
            print(
                f"  {pictures:24s} N={n:5d}: one job {a:6.2f} s, the sweep {b:7.2f} s"
                f" = {1000 * b / n:6.1f} ms per job = {b / a:6.1f}x one job alone"
            )
    _in_memory(max(sizes), repeats)
    if command_line:
        _command_line(256)
    _peak_memory(1024)


def _in_memory(n: int, repeats: int) -> None:
    """The n-job sweep with pictures off written to a tmpfs (``/dev/shm``, where there is one
    with room; median of ``repeats``): the CPU's cost per job, without the disk's. Creating a file in a fresh
    directory costs this machine's ext4 about 0.15 ms (0.01 ms in one directory, on a tmpfs
    less), and each job creates 2 directories and 7 files."""
    import shutil
    from pathlib import Path

    shm = Path("/dev/shm")
    if not shm.is_dir() or shutil.disk_usage(shm).free < 2**30:
        print(f"  (no tmpfs with 1 GiB free at {shm}: the in-memory line is left out)")
        return
    sweep = [*_scale_sweep(n), "pictures.enabled=false"]
    runs = [
        _timed(lambda out: trainlab.run_sweep(sweep, output_dir=f"{out}/s", verbose=False), str(shm))
        for _ in range(max(repeats, 1))
    ]
    b = statistics.median(runs)
    where = f"written to a tmpfs ({shm})"
    print(f"  pictures.enabled=false   N={n:5d}, {where}: the sweep {b:7.2f} s = {1000 * b / n:6.1f} ms per job")


def _command_line(n: int) -> None:
    """The same sweep as a user types it, ``python train.py -m hydra/launcher=stacked ...`` (n
    jobs, pictures off), beside ``python train.py`` of one of its jobs: each a fresh process,
    whole wall (Python's start and imports included). The per-job figure is the difference
    over n: what the sweep adds to a lone run for each job (Hydra's composing, the .hydra/
    files and callbacks of each job, its run directory)."""
    import subprocess
    import sys
    from pathlib import Path

    train = str(Path(__file__).resolve().parents[1] / "train.py")
    off = ["pictures.enabled=false", "trainer.enable_progress_bar=false"]

    def wall(args: list[str], out: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, train, *args, *off, out], capture_output=True, text=True, check=True)
        return time.perf_counter() - start

    with tempfile.TemporaryDirectory() as out:
        one = wall([*SCALE, "seed=0", "optimizer.lr=0.001"], f"hydra.run.dir={out}/one")
        many = wall(["-m", "hydra/launcher=stacked", *_scale_sweep(n)], f"hydra.sweep.dir={out}/sweep")
    print(
        f"  python train.py -m hydra/launcher=stacked, N={n}: {many:6.2f} s; python train.py, one job: {one:5.2f} s;"
        f" {1000 * (many - one) / n:5.1f} ms per job beyond the lone run"
    )


def _peak_memory(n: int) -> None:
    """Peak RSS of a fresh process running one job, and one running the n-job sweep (pictures
    off): the kernel's high-water mark (VmHWM; ru_maxrss would keep this process's, across exec)."""
    import subprocess
    import sys

    code = (
        "import sys, tempfile, trainlab\n"
        "args = sys.argv[2:]\n"
        "with tempfile.TemporaryDirectory() as out:\n"
        "    call = trainlab.run_sweep if sys.argv[1] == 'sweep' else trainlab.run\n"
        "    call(args, output_dir=out + '/r', verbose=False)\n"
        "print(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])\n"
    )
    off = "pictures.enabled=false"

    def peak(kind: str, args: list[str]) -> float:
        done = subprocess.run([sys.executable, "-c", code, kind, *args], capture_output=True, text=True, check=True)
        return int(done.stdout.split()[-1]) / 1024

    one = peak("one", [*SCALE, off, "seed=0", "optimizer.lr=0.001"])
    many = peak("sweep", [*_scale_sweep(n), off])
    print(f"  peak memory: one job's process {one:7.1f} MiB, a {n}-job sweep's {many:7.1f} MiB = {many / one:.2f}x")


def sweep(repeats: int) -> None:
    """The sweep section (see the module doc)."""
    print("\n== a sweep trained in stacks (hydra/launcher=stacked) vs one job alone and vs one after another ==")
    compare("tiny 2-16-16-2, batch 32, 20k rows, 5 epochs", TINY, 8, LRS, 8, repeats)
    compare("MNIST-size 784-512-512-10, batch 128, 6k rows, 2 epochs", MNIST, 4, LRS[:4], 16, repeats)
    if torch.cuda.is_available():
        compare("tiny on CUDA, 1024 jobs", TINY, 128, LRS, 8, repeats)
    else:
        print("\nGPU: no CUDA device here; 1024 stacked tiny jobs unmeasured (scripts/gpu_check_sweep.sh)")
    scale(repeats)
    for module, name in (("bench_shrink", "shrink"), ("bench_pruning", "pruning"), ("bench_folds", "folds")):
        getattr(__import__(module), name)(repeats)  # scripts/<module>.py
