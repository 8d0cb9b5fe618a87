"""Training speed: trainlab beside a hand-written loop and a stock Lightning setup, in one process.

    python scripts/bench.py            # tiny and MNIST-size workloads, digits, memory
    python scripts/bench.py --quick    # fewer epochs and repeats (a smoke run)

For each workload, the same model (trainlab's MLP), data and optimizer (Adam, softmax
cross-entropy) are trained by:
  (a) trainlab's default path (`trainlab.run`, default speed settings, its fit time; pictures
      off, their cost is measured by --only pictures),
  (b) a hand-written PyTorch loop slicing mini-batches from a shuffled in-memory tensor,
  (c) Lightning over DataLoader(TensorDataset) with self.log(on_step=True, prog_bar=True),
  (d) on CUDA, a hand-written loop whose whole step is one captured CUDA graph.
Each route also evaluates the validation split once per epoch, as trainlab does.
Throughput is steady-state: samples of epochs 2..N over the wall time from the start of
epoch 2 to the end of epoch N (validation and, for trainlab and Lightning, everything they
do between epochs, checkpointing included). One-time costs are left out alike: the first
epoch (CUDA graph capture, allocator warm-up), each route's set-up, and the teardown after
the last epoch (where trainlab waits for its last checkpoint writes to reach the disk). The
routes alternate, `--repeats` times after a warm-up round; the table gives median
samples/s and the ratios.
Then: the default run's fit with one core busy beside it (--only busy), what a student
waits for from the shell (--only startup: --help, --cfg job, an error, the default run
split into imports, set-up, fit, test and pictures, beside a scikit-learn script),
trainlab's per-epoch fixed cost (--only overhead: outside its steps, and beside a hand
loop doing the same work),
time-to-accuracy on digits against scikit-learn's MLPClassifier, the peak RSS of a default
`trainlab` run beside a hand loop's process on the same data, the cost of the
pictures (a default run with and without them), and a sweep trained in stacks beside its
jobs one after another (--only sweep: scripts/bench_sweep.py), and an 8-job sweep on two
cores with Hydra's joblib launcher beside the basic launcher (--only joblib: scripts/bench_parallel.py).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F

WORKLOADS = {
    "tiny 2-16-16-2, batch 32": dict(n_samples=20000, n_features=2, n_classes=2, hidden=[16, 16], batch=32),
    "MNIST-size 784-512-512-10, batch 128": dict(
        n_samples=60000, n_features=784, n_classes=10, hidden=[512, 512], batch=128
    ),
    "MNIST-size 784-512-512-10, batch 1024": dict(
        n_samples=60000, n_features=784, n_classes=10, hidden=[512, 512], batch=1024
    ),
}
QUIET = ["trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]


def overrides(w: dict, epochs: int) -> list[str]:
    return [
        "data=random",
        f"data.n_samples={w['n_samples']}",
        f"data.n_features={w['n_features']}",
        f"data.n_classes={w['n_classes']}",
        f"data.batch_size={w['batch']}",
        "data.val_fraction=0.1",
        "data.test_fraction=0.1",
        f"model.hidden=[{','.join(map(str, w['hidden']))}]",
        "loss=cross_entropy",
        "optimizer=adam",
        "optimizer.lr=0.001",
        "regularization=[]",
        f"trainer.max_epochs={epochs}",
        # Pictures draw 5 times per run: every epoch of a 5-epoch bench run. Their cost is
        # measured on its own (--only pictures, on the default run), not folded in here.
        "pictures.enabled=false",
        *QUIET,
    ]


def prepared(w: dict, epochs: int):
    """trainlab's own data and model spec for the workload (the same for every route)."""
    from trainlab.config.composing import compose
    from trainlab.training import build

    cfg, _ = compose(overrides(w, epochs))
    data = build.data(cfg)
    spec = build.model_spec(cfg, data.n_features, data.n_classes)
    return data, spec


@contextlib.contextmanager
def timed_fit(module_class: type):
    """Records when each training epoch of ``module_class`` starts and when training ends
    (its ``on_train_end``, the last hook after the final epoch's callbacks; the device is
    synchronised at both), yielding ``seconds()``: the wall time of epochs 2..N."""
    starts: list[float] = []
    end = [0.0]
    original_start, original_end = module_class.on_train_epoch_start, module_class.on_train_end

    def on_train_epoch_start(self, *args):
        if len(starts) == 1:  # epoch 2 starts once the device has finished epoch 1
            _sync(self.device.type)
        starts.append(time.perf_counter())
        return original_start(self, *args)

    def on_train_end(self, *args):
        _sync(self.device.type)
        end[0] = time.perf_counter()
        return original_end(self, *args)

    module_class.on_train_epoch_start, module_class.on_train_end = on_train_epoch_start, on_train_end
    try:
        yield lambda: end[0] - starts[1]
    finally:
        module_class.on_train_epoch_start, module_class.on_train_end = original_start, original_end


def route_trainlab(w: dict, epochs: int, device: str) -> float:
    from trainlab import run
    from trainlab.training.module import TrainingModule

    extra = [] if device == "cuda" else ["trainer=cpu"]
    quiet = contextlib.redirect_stdout(io.StringIO())
    with tempfile.TemporaryDirectory() as out, quiet, timed_fit(TrainingModule) as seconds:
        run([*overrides(w, epochs), *extra], output_dir=out)
    rows = round(w["n_samples"] * 0.8)
    return rows * (epochs - 1) / seconds()


def _evaluate(model, x, y) -> float:
    model.eval()
    with torch.no_grad():
        loss = F.cross_entropy(model(x), y).item()
    model.train()
    return loss


def route_hand(w: dict, epochs: int, device: str, data, spec) -> float:
    from trainlab.models import from_spec

    torch.manual_seed(0)
    model = from_spec(spec).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = data.x_train.to(device), data.y_train.to(device)
    xv, yv = data.x_val.to(device), data.y_val.to(device)
    n, b = len(x), w["batch"]
    for epoch in range(epochs):
        if epoch == 1:
            _sync(device)
            start = time.perf_counter()
        order = torch.randperm(n, device=device)
        for i in range(0, n, b):
            idx = order[i : i + b]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        _evaluate(model, xv, yv)
    _sync(device)
    return n * (epochs - 1) / (time.perf_counter() - start)


def route_graph(w: dict, epochs: int, device: str, data, spec) -> float:
    """The whole step (gather, forward, backward, Adam) in one CUDA graph; last partial batch eager."""
    from trainlab.models import from_spec

    torch.manual_seed(0)
    model = from_spec(spec).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, capturable=True)
    x, y = data.x_train.to(device), data.y_train.to(device)
    xv, yv = data.x_val.to(device), data.y_val.to(device)
    n, b = len(x), w["batch"]
    index = torch.arange(b, device=device)

    def step(idx):
        loss = F.cross_entropy(model(x.index_select(0, idx)), y.index_select(0, idx))
        loss.backward()
        optimizer.step()

    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            optimizer.zero_grad(set_to_none=True)
            step(index)
    torch.cuda.current_stream().wait_stream(stream)
    optimizer.zero_grad(set_to_none=True)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step(index)
    for epoch in range(epochs):
        if epoch == 1:
            _sync(device)
            start = time.perf_counter()
        order = torch.randperm(n, device=device)
        for i in range(0, n - b + 1, b):
            index.copy_(order[i : i + b])
            graph.replay()
        if n % b:  # the last partial batch runs eagerly; the graph keeps its own gradient memory
            optimizer.zero_grad(set_to_none=True)
            step(order[n - n % b :])
        _evaluate(model, xv, yv)
    _sync(device)
    return n * (epochs - 1) / (time.perf_counter() - start)


def route_lightning(w: dict, epochs: int, device: str, data, spec) -> float:
    import lightning as L
    from lightning.pytorch.loggers import TensorBoardLogger
    from torch.utils.data import DataLoader, TensorDataset

    from trainlab.models import from_spec

    class Stock(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.model = from_spec(spec)

        def training_step(self, batch, _):
            x, y = batch
            loss = F.cross_entropy(self.model(x), y)
            self.log("train/loss", loss, on_step=True, prog_bar=True)
            return loss

        def validation_step(self, batch, _):
            x, y = batch
            self.log("val/loss", F.cross_entropy(self.model(x), y), prog_bar=True)

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    torch.manual_seed(0)
    train = DataLoader(TensorDataset(data.x_train, data.y_train), batch_size=w["batch"], shuffle=True)
    val = DataLoader(TensorDataset(data.x_val, data.y_val), batch_size=4096)
    quiet = contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO())
    with tempfile.TemporaryDirectory() as out, quiet[0], quiet[1], timed_fit(Stock) as seconds:
        trainer = L.Trainer(
            max_epochs=epochs,
            accelerator="cuda" if device == "cuda" else "cpu",
            devices=1,
            logger=TensorBoardLogger(out),
            enable_checkpointing=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
        )
        trainer.fit(Stock(), train, val)
    return len(data.x_train) * (epochs - 1) / seconds()


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def speed(epochs: int, repeats: int, device: str, names: list[str]) -> None:
    title = f"samples/s of training, median of {repeats} alternating repeats after a warm-up, {epochs} epochs each"
    print(f"\n== {title} ({device}) ==")
    header = f"{'workload':<40} {'(a) trainlab':>13} {'(b) hand':>10} {'(c) Lightning':>14}"
    header += f" {'(d) graph':>10}" if device == "cuda" else ""
    print(header + f" {'a/b':>6} {'a/c':>6}" + (f" {'d/b':>6}" if device == "cuda" else ""))
    for name in names:
        w = WORKLOADS[name]
        data, spec = prepared(w, epochs)
        routes = {
            "a": partial(route_trainlab, w, epochs, device),
            "b": partial(route_hand, w, epochs, device, data, spec),
            "c": partial(route_lightning, w, epochs, device, data, spec),
        }
        if device == "cuda":
            routes["d"] = partial(route_graph, w, epochs, device, data, spec)
        for fn in routes.values():  # warm-up round, not counted: first-call costs (imports, allocator)
            fn()
        samples = {k: [] for k in routes}
        for _ in range(repeats):
            for key, fn in routes.items():
                samples[key].append(fn())
        med = {k: statistics.median(v) for k, v in samples.items()}
        line = f"{name:<40} {med['a']:>13,.0f} {med['b']:>10,.0f} {med['c']:>14,.0f}"
        line += f" {med['d']:>10,.0f}" if device == "cuda" else ""
        line += f" {med['a'] / med['b']:>6.2f} {med['a'] / med['c']:>6.2f}"
        line += f" {med['d'] / med['b']:>6.2f}" if device == "cuda" else ""
        ratios = [a / b for a, b in zip(samples["a"], samples["b"], strict=True)]
        print(line + f"   (a/b per repeat: {', '.join(f'{r:.2f}' for r in ratios)})", flush=True)


def hand_epochs(w: dict, epochs: int, device: str, data, spec, patience: int) -> tuple[float, float]:
    """A hand-written loop doing the work of trainlab's epoch: one shuffle, the optimizer steps,
    the training loss and accuracy summed on the device and read once, validation of the
    whole split (loss, acc, f1 and torchmetrics' auroc, as trainlab computes them), the best
    weights kept in memory, early stopping's count, and the best weights restored at the end.
    Returns the wall time of epochs 2..N and, of it, the time outside the optimizer steps."""
    from torchmetrics.functional.classification import binary_auroc

    from trainlab.models import from_spec

    torch.manual_seed(0)
    model = from_spec(spec).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = data.x_train.to(device), data.y_train.to(device)
    xv, yv = data.x_val.to(device), data.y_val.to(device)
    positive = yv.bool()
    n, b = len(x), w["batch"]
    best, best_state, waited, inside = float("inf"), None, 0, 0.0
    for epoch in range(epochs):
        if epoch == 1:
            _sync(device)
            start = time.perf_counter()
        order = torch.randperm(n, device=device)
        losses, outputs, targets = [], [], []
        steps_start = time.perf_counter()
        for i in range(0, n, b):
            idx = order[i : i + b]
            xb, yb = x.index_select(0, idx), y.index_select(0, idx)
            output = model(xb)
            loss = F.cross_entropy(output, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.detach() * len(yb))
            outputs.append(output.detach())
            targets.append(yb)
        if epoch >= 1:
            inside += time.perf_counter() - steps_start
        with torch.no_grad():
            correct = (torch.cat(outputs).argmax(-1) == torch.cat(targets)).sum()
            torch.stack([torch.stack(losses).sum() / n, correct / n]).tolist()  # read, as logged
            model.eval()
            out = model(xv)
            scores = torch.softmax(out, -1)[:, 1]
            predicted = scores > 0.5
            true_positives, wrong = (predicted & positive).sum(), (predicted ^ positive).sum()
            acc, f1 = 1 - wrong / len(yv), 2 * true_positives / (2 * true_positives + wrong)
            auroc = binary_auroc(scores, yv, validate_args=False)
            values = torch.stack([F.cross_entropy(out, yv), acc, f1, auroc]).tolist()
            model.train()
        if values[0] < best:
            best, waited = values[0], 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
            if waited > patience:
                break
    model.load_state_dict(best_state)
    _sync(device)
    seconds = time.perf_counter() - start
    return seconds, seconds - inside


def overhead(repeats: int, device: str, epochs: int = 20) -> None:
    """trainlab's fixed cost per epoch, with a model whose steps cost next to nothing:
    2-16-16-2 at batch 1024, 48k training rows, Adam, with the default callbacks (best.ckpt,
    last.ckpt, restore-best, early stopping that never fires here, TensorBoard logging).

    Per epoch: trainlab's time outside its training steps (validation of 6k rows with its
    metrics, the epoch's training sums, checkpoints, early stopping, logging, Lightning's
    hooks), the same for a hand-written loop doing the same work (``hand_epochs``,
    alternating with trainlab in this process), and their difference: trainlab's fixed cost,
    what it adds to each epoch beyond that work. On a GPU an epoch of a small model costs about this plus its
    graph replays, so this is what keeps it from the hand-written loop."""
    from trainlab import run
    from trainlab.training.module import TrainingModule

    w = dict(n_samples=60000, n_features=2, n_classes=2, hidden=[16, 16], batch=1024)
    data, spec = prepared(w, epochs)
    extra = [] if device == "cuda" else ["trainer=cpu"]
    extra += ["regularization=[early_stopping]", f"regularization.early_stopping.patience={epochs}"]
    inside = [0.0]
    original = TrainingModule.training_step

    def training_step(self, *args):
        start = time.perf_counter()
        try:
            return original(self, *args)
        finally:
            if self.current_epoch >= 1:  # epochs 2..N, as timed_fit counts
                inside[0] += time.perf_counter() - start

    per_epoch, outside, hand = [], [], []
    TrainingModule.training_step = training_step
    try:
        for i in range(repeats + 1):  # the first round warms up
            inside[0] = 0.0
            quiet = contextlib.redirect_stdout(io.StringIO())
            with tempfile.TemporaryDirectory() as out, quiet, timed_fit(TrainingModule) as seconds:
                run([*overrides(w, epochs), *extra], output_dir=out)
            _, hand_outside = hand_epochs(w, epochs, device, data, spec, patience=epochs)
            if i:
                per_epoch.append(seconds() / (epochs - 1))
                outside.append((seconds() - inside[0]) / (epochs - 1))
                hand.append(hand_outside / (epochs - 1))
    finally:
        TrainingModule.training_step = original
    title = f"per-epoch fixed cost ({device}): 2-16-16-2, batch 1024, 48k rows, {epochs} epochs, median of {repeats}"
    print(f"\n== {title} ==")
    ms = {k: 1000 * statistics.median(v) for k, v in {"a": per_epoch, "o": outside, "h": hand}.items()}
    added = [1000 * (o - h) for o, h in zip(outside, hand, strict=True)]
    print(
        f"epoch {ms['a']:6.1f} ms; outside the training steps: trainlab {ms['o']:6.1f} ms, "
        f"hand loop doing the same work {ms['h']:6.1f} ms, difference {statistics.median(added):6.1f} ms "
        f"(per repeat: {', '.join(f'{a:.1f}' for a in added)})"
    )


def busy(repeats: int) -> None:
    """The default run's fit time with one core kept busy by another process (a spinning
    Python), against the quiet machine's, alternating: what a student sees with a browser,
    a parallel sweep or CI beside the run (the thread policy, trainlab.training.threads)."""
    from trainlab import run

    def fit_seconds() -> float:
        quiet = contextlib.redirect_stdout(io.StringIO())
        with tempfile.TemporaryDirectory() as out, quiet:
            return run([*QUIET, "pictures.enabled=false"], output_dir=out).fit_seconds

    fit_seconds()  # warm-up
    times: dict[str, list[float]] = {"quiet": [], "busy": []}
    for _ in range(repeats):
        times["quiet"].append(fit_seconds())
        spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            time.sleep(0.5)  # the spinner has started
            times["busy"].append(fit_seconds())
        finally:
            spinner.kill()
            spinner.wait()
    quiet, loaded = statistics.median(times["quiet"]), statistics.median(times["busy"])
    title = f"the default run's fit with one core busy, median of {repeats}, {torch.get_num_threads()} threads at start"
    print(f"\n== {title} ==")
    print(f"quiet {quiet:.2f} s, one core busy {loaded:.2f} s: {loaded / quiet:.2f}x")


SKLEARN_SCRIPT = """
import sys
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
table = pd.read_csv(sys.argv[1])
x, y = table[["lectures", "hours"]].to_numpy(), table["passed"].to_numpy()
x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, random_state=0)
model = make_pipeline(StandardScaler(), MLPClassifier((32, 32), learning_rate_init=0.01, batch_size=32,
                      early_stopping=True, validation_fraction=0.25, n_iter_no_change=10, random_state=0))
model.fit(x_rest, y_rest)
print(f"test accuracy {model.score(x_test, y_test):.3f}")
"""


def _wall(args: list[str], cwd: str, env: dict | None = None) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env, timeout=600)
    return time.perf_counter() - start, done


def _import_seconds(stderr: str) -> float:
    """The top-level imports' total from ``python -X importtime`` output."""
    total = 0
    for line in stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2 and line.split("|")[1].strip().isdigit():
            name = line.rsplit("|", 1)[1]
            if not name.startswith("  "):  # level 1: its cumulative time holds its children's
                total += int(line.split("|")[1])
    return total / 1e6


def startup(repeats: int) -> None:
    """What a student waits for, from the shell: ``--help``, ``--cfg job``, a mistyped
    option, and the default run (its wall time split into imports, set-up, fit, test and
    pictures, from ``python -X importtime`` and summary.json), beside a scikit-learn
    MLPClassifier script on the same data (read from CSV, same split sizes and network)."""
    from trainlab.config.composing import compose
    from trainlab.training import build

    train_py = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train.py")
    py = sys.executable
    runs: dict[str, list[float]] = {}
    split: dict[str, list[float]] = {k: [] for k in ("imports", "set-up", "fit", "test", "pictures")}
    with tempfile.TemporaryDirectory() as work:
        data = build.raw_data(compose([])[0])
        table = data.features.assign(passed=data.target.to_numpy())
        table.to_csv(os.path.join(work, "will_i_pass.csv"), index=False)
        commands = {
            "train.py --help": [py, train_py, "--help"],
            "train.py --cfg job": [py, train_py, "--cfg", "job"],
            "train.py optimizer=adamm (an error)": [py, train_py, "optimizer=adamm"],
            "python train.py (the default run)": [py, "-X", "importtime", train_py],
            "scikit-learn MLPClassifier script": [py, "-c", SKLEARN_SCRIPT, "will_i_pass.csv"],
        }
        for _ in range(repeats):
            for name, args in commands.items():
                seconds, done = _wall(args, work)
                runs.setdefault(name, []).append(seconds)
                if "default run" in name:
                    assert done.returncode == 0, done.stderr[-2000:]
                    summary = json.loads(next(Path(work, "outputs").glob("*/*/summary.json")).read_text())
                    shutil.rmtree(Path(work, "outputs"))
                    parts = {
                        "imports": _import_seconds(done.stderr),
                        "fit": summary["fit_seconds"],
                        "test": summary["test_seconds"],
                        "pictures": summary["pictures_seconds"],
                    }
                    parts["set-up"] = seconds - sum(parts.values())
                    for key, value in parts.items():
                        split[key].append(value)
    print(f"\n== what a student waits for, from the shell (wall seconds, median of {repeats}) ==")
    for name, values in runs.items():
        print(f"{name:<40} {statistics.median(values):6.2f} s")
    print("default run split: " + ", ".join(f"{k} {statistics.median(v):.2f} s" for k, v in split.items()))


def digits() -> None:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from trainlab import run

    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, stratify=y, random_state=0)
    model = make_pipeline(StandardScaler(), MLPClassifier(random_state=0))
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x_train, y_train)
    sk_seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()):
        result = run(["experiment=digits", *QUIET, "trainer=cpu"], output_dir=out)
    print("\n== time to accuracy: digits, test split of train_test_split(test_size=0.25, stratify, random_state=0) ==")
    print(f"trainlab experiment=digits   test acc {result.metrics['test/acc']:.4f}   fit {result.fit_seconds:5.2f} s")
    print(f"sklearn MLPClassifier+scaler test acc {model.score(x_test, y_test):.4f}   fit {sk_seconds:5.2f} s")


def pictures(repeats: int) -> None:
    """The cost of the pictures in the default run (`python train.py`, pictures at the
    default frequency: decision boundary, neurons and histograms every max_epochs/5
    epochs): the time spent inside the picture callbacks as a share of the fit (a direct
    reading), and the fit time against the same run with pictures.enabled=false (a
    difference of two noisy timings)."""
    from trainlab import run
    from trainlab.training.callbacks import pictures as callbacks

    spent = [0.0]

    def timed(cls: type) -> None:
        original = cls.log_epoch

        def log_epoch(self, *args):
            start = time.perf_counter()
            original(self, *args)
            spent[0] += time.perf_counter() - start

        cls.log_epoch = log_epoch

    timed(callbacks.Pictures)
    timed(callbacks.Histograms)
    base = [*QUIET, "trainer=cpu"]
    fit: dict[bool, list[float]] = {True: [], False: []}
    wall: dict[bool, list[float]] = {True: [], False: []}
    share: list[float] = []
    for i in range(repeats + 1):  # the first round warms up (imports) and is not counted
        for enabled in (True, False):
            spent[0] = 0.0
            start = time.perf_counter()
            with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()):
                result = run([*base, f"pictures.enabled={str(enabled).lower()}"], output_dir=out)
            if i:
                fit[enabled].append(result.fit_seconds)
                wall[enabled].append(time.perf_counter() - start)
                if enabled:
                    share.append(spent[0] / result.fit_seconds)
    print(f"\n== pictures: default run (will_i_pass), medians of {repeats} alternating repeats ==")
    print(f"time inside the picture and histogram callbacks: {statistics.median(share):.1%} of the fit")
    for name, times in (("fit (training, per-epoch pictures)", fit), ("whole run (+ picture files)", wall)):
        on, off = statistics.median(times[True]), statistics.median(times[False])
        print(f"{name:<36} pictures on {on:6.2f} s   off {off:6.2f} s   ratio {on / off:.3f}")


CHILD_TRAINLAB = """
import sys, tempfile
from trainlab import run
with tempfile.TemporaryDirectory() as out:
    run(["trainer.enable_progress_bar=false", "trainer.enable_model_summary=false", "trainer=cpu"], output_dir=out)
print("RSS", next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")))
"""

CHILD_HAND = """
import torch, torch.nn.functional as F
from trainlab.data import prepare, will_i_pass
from trainlab.models import MLP
# The default run's data and network (conf/data/will_i_pass.yaml, conf/model/mlp.yaml), no Lightning or Hydra.
data = prepare(will_i_pass.load(n_samples=2000, seed=42), val_fraction=0.2, test_fraction=0.2, seed=42)
model = MLP(2, [32, 32], 1, dropout=0.5)
opt = torch.optim.Adam(model.parameters(), lr=0.01)
x, y = data.x_train, data.y_train.float()
for epoch in range(100):
    order = torch.randperm(len(x))
    for i in range(0, len(x), 32):
        idx = order[i:i + 32]
        loss = F.binary_cross_entropy_with_logits(model(x[idx]).squeeze(1), y[idx])
        opt.zero_grad(); loss.backward(); opt.step()
print("RSS", next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")))
"""


def memory() -> None:
    # The children report VmHWM (peak resident set of their own address space): getrusage's
    # ru_maxrss survives exec, so a child of a large parent would report the parent's peak.
    def peak(code: str) -> int:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        return int(next(line for line in out.stdout.splitlines() if line.startswith("RSS")).split()[1])

    ours, hand = peak(CHILD_TRAINLAB), peak(CHILD_HAND)
    print("\n== peak RSS, default run (will_i_pass) vs a hand loop's process on the same data (CPU) ==")
    print(f"trainlab default run {ours / 1024:7.1f} MiB   hand loop {hand / 1024:7.1f} MiB   ratio {ours / hand:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 repeat, 2 epochs (a smoke run)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    sections = ["speed", "overhead", "busy", "startup", "digits", "memory", "pictures", "sweep", "joblib"]
    parser.add_argument("--only", choices=sections, nargs="*")
    parser.add_argument(
        "--workloads", nargs="*", type=int, help="indices into the workload list (0 tiny, 1, 2 MNIST-size)"
    )
    args = parser.parse_args()
    epochs, repeats = (2, 1) if args.quick else (args.epochs, args.repeats)
    if epochs < 2:
        parser.error("--epochs must be >= 2 (the first epoch is not timed)")
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    names = list(WORKLOADS)
    names = [names[i] for i in args.workloads] if args.workloads else names
    print(
        json.dumps(
            {
                "device": torch.cuda.get_device_name() if device == "cuda" else f"cpu x{os.cpu_count()}",
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
            }
        )
    )
    only = args.only or sections
    if "speed" in only:
        speed(epochs, repeats, device, names)
    if "overhead" in only:
        overhead(repeats, device)
    if "busy" in only:
        busy(repeats)
    if "startup" in only:
        startup(repeats)
    if "digits" in only:
        digits()
    if "memory" in only:
        memory()
    if "pictures" in only:
        pictures(repeats)
    if "sweep" in only:
        from bench_sweep import sweep  # scripts/bench_sweep.py

        sweep(repeats)
    if "joblib" in only:
        from bench_parallel import parallel  # scripts/bench_parallel.py

        parallel(repeats)


if __name__ == "__main__":
    main()
