"""TensorBoard as a person opens it: the real server (``python -m tensorboard.main``, its default
fast loader) on finished sweeps, read through the HTTP data API its pages read, then its HPARAMS
table and scalars dashboard in headless Chromium (skipped where no Chromium is installed, except
in CI, where `make test` installs Debian's chromium).

One 3-job sweep trained as lone runs (``python train.py -m``: Hydra's basic launcher) and the
same sweep stacked (``trainlab.run_sweep``, what ``hydra/launcher=stacked`` runs) lie side by side
in one log directory, as under ``outputs/``; a joblib sweep and a DDP run are compared with them
under ``-m slow``."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from browsers import chromium_or_skip
from cli_helpers import command
from overrides import QUIET

import trainlab
from trainlab.files.checkpoints import load_checkpoint

RATES = (0.003, 0.01, 0.03)
SMALL = ["data.n_samples=240", "trainer.max_epochs=3", "pictures.size=64", *QUIET]
SWEEP = [f"optimizer.lr={','.join(map(str, RATES))}", *SMALL]
SWEEPS = ("basic", "stacked")  # the lone runs' and the stack's directories
JOBS = [f"{sweep}/{n}" for sweep in SWEEPS for n in range(len(RATES))]
EPOCHS = 3
# What HPARAMS shows for these jobs: the course's choices, then the keys given on the command line
# (the progress bar's and the model summary's, and pictures.*, change no number: left out).
HPARAMS = {
    "data": "will_i_pass",
    "model": "mlp",
    "model.hidden": "[32, 32]",
    "activation": "relu",
    "loss": "bce",
    "optimizer": "adam",
    "data.batch_size": 32,
    "regularization": "dropout,early_stopping",
    "regularization.dropout.p": 0.5,
    "regularization.early_stopping.patience": 10,
    "data.n_samples": 240,
    "trainer.max_epochs": EPOCHS,
}
METRICS = ("loss", "acc", "f1", "auroc")  # will_i_pass is binary
PER_EPOCH = {"train/loss", "train/acc", "lr", *(f"val/{m}" for m in METRICS)}
SCALARS = PER_EPOCH | {f"test/{m}" for m in METRICS} | {f"final/{s}/{m}" for s in ("val", "test") for m in METRICS}
PICTURES = {f"pictures/{best}{name}" for best in ("", "best/") for name in ("decision_boundary", "neurons")}
HISTOGRAMS = {f"{kind}/layers.{k}.{p}" for kind in ("weights", "gradients") for k in (0, 2, 4) for p in "Wb"}
# Each parameter's number of values: 2 inputs, hidden [32, 32], 1 output.
SIZES = {"layers.0.W": 64, "layers.0.b": 32, "layers.2.W": 1024, "layers.2.b": 32, "layers.4.W": 32, "layers.4.b": 1}
STATUSES = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]  # what the page asks for


def until(read: Callable[[], Any], done: Callable[[Any], bool], what: str, timeout: float = 120.0) -> Any:
    """``read()`` again until ``done`` holds for it (the server loads event files in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: never came; last: {str(value)[:2000]}")
        time.sleep(0.25)


class TensorBoard:
    """``python -m tensorboard.main --logdir <logdir>`` on a free port of 127.0.0.1, as a person
    starts it, read through its HTTP data API; ``stop`` ends it and its data server."""

    def __init__(self, logdir: Path, home: Path) -> None:
        self.log = home / "tensorboard.log"
        args = ["--logdir", str(logdir), "--port", "0", "--host", "127.0.0.1"]
        with self.log.open("w") as log:  # start_new_session: the server and its data server in a group of their own
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tensorboard.main", *args], stdout=log, stderr=log, start_new_session=True
            )
        found = until(self._address, bool, f"TensorBoard's address in {self.log}", 60)
        self.url = found.group(1)

    def _address(self) -> re.Match | None:
        assert self.process.poll() is None, self.log.read_text()
        return re.search(r"TensorBoard \S+ at (http://127\.0\.0\.1:\d+/)", self.log.read_text())

    def raw(self, route: str, body: Any = None, **query: Any) -> bytes:
        url = self.url + route.lstrip("/") + (f"?{urllib.parse.urlencode(query)}" if query else "")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()

    def get(self, route: str, **query: Any) -> Any:
        return json.loads(self.raw(route, **query))

    def post(self, route: str, body: Any) -> Any:
        return json.loads(self.raw(route, body))

    def sessions(self) -> dict[str, dict[str, Any]]:
        """The HPARAMS table's rows (session groups) by name, as the page asks for them."""
        body = {"experimentName": "", "allowedStatuses": STATUSES, "startIndex": 0, "sliceSize": 1000}
        return {g["name"]: g for g in self.post("/data/plugin/hparams/session_groups", body)["sessionGroups"]}

    def loaded(self, runs: list[str]) -> None:
        """Until each of ``runs`` is an HPARAMS session with its final metrics (written last)."""

        def complete(groups: dict[str, dict[str, Any]]) -> bool:
            finals = {f"final/{s}/{m}" for s in ("val", "test") for m in METRICS}
            return set(runs) <= set(groups) and all(
                finals <= {v["name"]["tag"] for v in groups[r]["metricValues"]} for r in runs
            )

        until(self.sessions, complete, f"the sessions of {runs}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def sweep(logs: Path, name: str, launcher: list[str], cwd: Path) -> subprocess.Popen:
    """``python train.py -m <launcher> <SWEEP>`` into ``logs/<name>``, as a user runs it."""
    args = command("-m", *launcher, *SWEEP, f"hydra.sweep.dir={logs / name}")
    return subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(process: subprocess.Popen) -> None:
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-4000:]


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> Path:
    """The sweep trained as lone runs (``python train.py -m``) and, meanwhile, stacked
    (``trainlab.run_sweep``: ``hydra/launcher=stacked``), side by side."""
    home = tmp_path_factory.mktemp("tensorboard")
    basic = sweep(home / "logs", "basic", [], home)
    trainlab.run_sweep(SWEEP, output_dir=home / "logs" / "stacked", verbose=False)
    finished(basic)
    return home / "logs"


@pytest.fixture(scope="module")
def board(logs):
    server = TensorBoard(logs, logs.parent)
    try:
        server.loaded(JOBS)
        yield server
    finally:
        server.stop()


def summary(logs: Path, run: str) -> dict[str, Any]:
    return json.loads((logs / run / "summary.json").read_text())


def history(logs: Path, run: str) -> list[dict[str, float]]:
    return json.loads(load_checkpoint(logs / run / "checkpoints" / "last.ckpt")["history"])


def tags(board: TensorBoard, plugin: str) -> dict[str, set[str]]:
    return {run: set(found) for run, found in board.get(f"/data/plugin/{plugin}/tags").items()}


# ----- the data API -----


def test_the_server_lists_one_run_per_job_beside_each_sweeps_picture(board):
    assert sorted(board.get("/data/runs")) == sorted([*JOBS, *SWEEPS])
    plugins = board.get("/data/plugins_listing")
    assert all(plugins[p]["enabled"] for p in ("scalars", "images", "histograms", "distributions", "hparams"))
    images = tags(board, "images")
    assert images["basic"] == images["stacked"] == {"sweep"}  # sweep.png, the sweep's own run


def test_each_jobs_scalars_are_its_epochs_counted_from_one_then_its_test_and_final_values(board, logs):
    scalars = tags(board, "scalars")
    for run in JOBS:
        assert scalars[run] == SCALARS, run
        epochs, metrics = history(logs, run), summary(logs, run)["metrics"]
        assert len(epochs) == EPOCHS
        for tag in PER_EPOCH:
            series = board.get("/data/plugin/scalars/scalars", run=run, tag=tag)
            assert [step for _, step, _ in series] == [1, 2, 3], (run, tag)
            assert [value for _, _, value in series] == pytest.approx([e[tag] for e in epochs], rel=1e-6), (run, tag)
        for tag in (f"{s}/{m}" for s in ("val", "test") for m in METRICS):
            final = board.get("/data/plugin/scalars/scalars", run=run, tag=f"final/{tag}")
            assert [(step, value) for _, step, value in final] == [(0, pytest.approx(metrics[tag], rel=1e-6))]
            if tag.startswith("test/"):
                test = board.get("/data/plugin/scalars/scalars", run=run, tag=tag)
                assert [(step, value) for _, step, value in test] == [(EPOCHS, pytest.approx(metrics[tag], rel=1e-6))]


def test_a_lone_runs_pictures_are_drawn_each_epoch_and_at_the_best_and_its_histograms_each_epoch(board, logs):
    images, histograms = tags(board, "images"), tags(board, "histograms")
    for run in JOBS[:3]:
        assert images[run] == PICTURES | {"test/confusion_matrix"}, run
        best = summary(logs, run)["best_epoch"]
        for name in ("decision_boundary", "neurons"):
            every = board.get("/data/plugin/images/images", run=run, tag=f"pictures/{name}", sample=0)
            assert [i["step"] for i in every] == [1, 2, 3]  # every epoch of 3 (5 per run at most), the last included
            (at_best,) = board.get("/data/plugin/images/images", run=run, tag=f"pictures/best/{name}", sample=0)
            assert at_best["step"] == best
            png = board.raw(f"/data/plugin/images/individualImage?{at_best['query']}")
            width, height = struct.unpack(">II", png[16:24])
            assert png[:8] == b"\x89PNG\r\n\x1a\n" and width > 64 and height > 64  # the plane, its axes and labels
        assert histograms[run] == HISTOGRAMS, run
        for tag in HISTOGRAMS:
            series = board.get("/data/plugin/histograms/histograms", run=run, tag=tag)
            assert [step for _, step, _ in series] == [1, 2, 3], (run, tag)
            for _, _, buckets in series:  # every value of the tensor in a bucket
                assert sum(count for _, _, count in buckets) == SIZES[tag.split("/")[1]], (run, tag)


def test_hparams_lists_the_courses_choices_and_the_keys_given_the_swept_one_first(board):
    experiment = board.post("/data/plugin/hparams/experiment", {"experimentName": ""})
    infos = experiment["hparamInfos"]
    assert [i["name"] for i in infos] == ["optimizer.lr", *sorted(HPARAMS)]  # what differs first, then by name
    assert [i["name"] for i in infos if i["differs"]] == ["optimizer.lr"]
    assert infos[0]["domainInterval"] == {"minValue": min(RATES), "maxValue": max(RATES)}
    metrics = [m["name"]["tag"] for m in experiment["metricInfos"]]
    assert metrics == sorted(SCALARS)  # every scalar's last value: final/* first


def test_hparams_holds_one_session_per_job_with_its_hyperparameters_and_final_metrics(board, logs):
    groups = board.sessions()
    assert sorted(groups) == sorted(JOBS)
    for run in JOBS:
        group, rate = groups[run], RATES[int(run[-1])]
        assert [(s["name"], s["status"]) for s in group["sessions"]] == [(run, "STATUS_SUCCESS")]
        assert group["hparams"] == {**HPARAMS, "optimizer.lr": pytest.approx(rate)}, run
        values = {v["name"]["tag"]: (v["trainingStep"], v["value"]) for v in group["metricValues"]}
        metrics = summary(logs, run)["metrics"]
        for tag, value in metrics.items():
            assert values[f"final/{tag}"] == (0, pytest.approx(value, rel=1e-6)), (run, tag)
    for n in range(len(RATES)):  # a lone run and a stack's member: the same HPARAMS for the same config
        assert groups[f"basic/{n}"]["hparams"] == groups[f"stacked/{n}"]["hparams"]


def test_a_stacked_sweeps_jobs_show_as_lone_runs_do(board, logs):
    scalars, images, histograms = tags(board, "scalars"), tags(board, "images"), tags(board, "histograms")
    for n in range(len(RATES)):
        lone, member = f"basic/{n}", f"stacked/{n}"
        assert scalars[member] == scalars[lone] == SCALARS
        assert images[member] == images[lone] == PICTURES | {"test/confusion_matrix"}
        # A stack keeps each member's final and best weights, not every epoch's, nor gradients: a
        # member's pictures and weights histograms are at its last and its best epoch.
        assert histograms[member] == {tag for tag in HISTOGRAMS if tag.startswith("weights/")}
        best = summary(logs, member)["best_epoch"]
        for name in ("decision_boundary", "neurons"):
            (last,) = board.get("/data/plugin/images/images", run=member, tag=f"pictures/{name}", sample=0)
            (at_best,) = board.get("/data/plugin/images/images", run=member, tag=f"pictures/best/{name}", sample=0)
            assert (last["step"], at_best["step"]) == (EPOCHS, best)
        for tag in histograms[member]:
            series = board.get("/data/plugin/histograms/histograms", run=member, tag=tag)
            assert [step for _, step, _ in series] == sorted({best, EPOCHS}), (member, tag)
            for _, _, buckets in series:
                assert sum(count for _, _, count in buckets) == SIZES[tag.split("/")[1]], (member, tag)


# ----- what the browser shows -----


@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_or_skip()


# Every text of the page, shadow roots included (TensorBoard's dashboards are Polymer and Angular
# components), in document order; under the element named by `inside` only, when given.
DEEP_TEXT = r"""
((inside) => {
  let root = document.body;
  const find = (node) => {
    if (node.nodeName === inside) return node;
    for (const child of [...(node.shadowRoot ? [node.shadowRoot] : []), ...node.children]) {
      const found = find(child);
      if (found) return found;
    }
    return null;
  };
  if (inside) root = find(document.body);
  if (!root) return null;
  const out = [];
  const walk = (node) => {
    if (node.nodeType === Node.TEXT_NODE) { const text = node.textContent.trim(); if (text) out.push(text); return; }
    if (['STYLE', 'SCRIPT', 'NOSCRIPT', 'TEMPLATE'].includes(node.nodeName)) return;
    if (node.shadowRoot) walk(node.shadowRoot);
    for (const child of node.childNodes) walk(child);
  };
  walk(root);
  return out;
})
"""

# The chart of the scalar card of a tag, scrolled into view: its box in the window.
CHART = r"""
((tag) => {
  const find = (node, match) => {
    if (match(node)) return node;
    for (const child of [...(node.shadowRoot ? [node.shadowRoot] : []), ...node.children]) {
      const found = find(child, match);
      if (found) return found;
    }
    return null;
  };
  const card = find(document.body, (node) => node.nodeName === 'TF-SCALAR-CARD' && node.tag === tag);
  const chart = card && find(card, (node) => node.nodeName === 'VZ-LINE-CHART2');
  if (!chart) return null;
  chart.scrollIntoView({block: 'center'});
  const box = chart.getBoundingClientRect();
  return box.width > 0 && box.height > 0 ? [box.x, box.y, box.width, box.height] : null;
})
"""


class Browser:
    """Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
    messages as JSON ended by a NUL, on file descriptors 3 and 4): one page, its text read
    through its shadow roots, a mouse moved over it."""

    def __init__(self, chromium: str, profile: Path, width: int = 1600, height: int = 1200) -> None:
        commands, self._commands = os.pipe()  # we write, Chromium reads on fd 3
        self._replies, replies = os.pipe()  # Chromium writes on fd 4, we read
        commands, replies = (_above(fd, 10) for fd in (commands, replies))  # none of them 3 or 4
        flags = [
            "--headless=new",
            "--no-sandbox",  # root in a container
            "--disable-gpu",
            "--hide-scrollbars",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            "about:blank",
        ]
        self.process = subprocess.Popen(
            [sys.executable, "-c", _ON_3_AND_4, str(commands), str(replies), chromium, *flags],
            pass_fds=(commands, replies),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        os.close(commands)
        os.close(replies)
        self._buffer, self._id, self.session = b"", 0, None

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if self.session is not None and not method.startswith("Target."):
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + 60
        while True:
            while b"\0" not in self._buffer:
                ready, _, _ = select.select([self._replies], [], [], max(0.0, deadline - time.monotonic()))
                chunk = os.read(self._replies, 1 << 20) if ready else b""
                assert chunk, f"Chromium did not answer {method}"
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._id:
                assert "error" not in reply, (method, reply["error"])
                return reply["result"]

    def open(self, url: str) -> None:
        target = self.call("Target.createTarget", url=url)["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def evaluate(self, function: str, *args: Any) -> Any:
        expression = f"({function})({', '.join(json.dumps(a) for a in args)})"
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def text(self, inside: str | None = None) -> list[str] | None:
        return self.evaluate(DEEP_TEXT, inside)

    def hover(self, x: float, y: float) -> None:
        self.call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)  # its renderer and GPU processes with it
        self.process.wait(timeout=30)
        os.close(self._commands)
        os.close(self._replies)


# Chromium started with our pipe's ends as its descriptors 3 and 4 (what --remote-debugging-pipe reads and writes).
_ON_3_AND_4 = (
    "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); os.execv(sys.argv[3], sys.argv[3:])"
)


def _above(fd: int, lowest: int) -> int:
    """``fd`` moved to a descriptor number >= ``lowest``."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, lowest)
    os.close(fd)
    return moved


@pytest.fixture
def browser(chromium, tmp_path):
    opened = Browser(chromium, tmp_path / "profile")
    try:
        yield opened
    finally:
        opened.close()


def test_the_hparams_table_shows_every_job_with_its_rate_and_final_metrics(board, browser, logs, tmp_path):
    browser.open(board.url + "#hparams")

    def rows() -> list[str] | None:
        return browser.text("TF-HPARAMS-TABLE-VIEW")

    cells = until(rows, lambda found: found is not None and all(run in found for run in JOBS), "the HPARAMS table")
    browser.screenshot(tmp_path / "hparams.png")  # to look at
    assert cells[:2] == ["Trial ID", "Show Metrics"]  # then the columns shown: what differs first, 5 of each
    first = cells.index(JOBS[0])
    columns = cells[2:first]
    hparams = ["optimizer.lr", "activation", "data", "data.batch_size", "data.n_samples"]
    assert columns == [*hparams, *(f"final/test/{m}" for m in sorted(METRICS)), "final/val/acc"]
    table = [cells[i : i + 1 + len(columns)] for i in range(first, len(cells), 1 + len(columns))]
    assert sorted(row[0] for row in table) == sorted(JOBS)
    for run, *shown in table:
        row = dict(zip(columns, shown, strict=True))
        metrics = summary(logs, run)["metrics"]
        assert float(row["optimizer.lr"]) == pytest.approx(RATES[int(run[-1])]), run
        assert (row["activation"], row["data"], float(row["data.n_samples"])) == ("relu", "will_i_pass", 240)
        for column in columns[5:]:  # 5 significant digits
            assert float(row[column]) == pytest.approx(metrics[column.removeprefix("final/")], rel=1e-4), (run, column)


def test_the_scalars_dashboard_shows_every_jobs_final_val_loss_under_the_mouse(board, browser, logs):
    browser.open(board.url + "#scalars")
    x, y, width, height = until(lambda: browser.evaluate(CHART, "final/val/loss"), bool, "the final/val/loss chart")
    runs = browser.text()
    assert all(run in runs for run in JOBS)  # the run selector names every job

    moves = iter(range(10**6))

    def tooltip() -> dict[str, float]:
        nudge = next(moves) % 2  # a move to where the mouse already is may not count as one
        browser.hover(x + width * 0.5 + nudge, y + height * 0.45)  # step 0, the only one: the chart's middle
        texts = browser.text() or []
        if "Relative" not in texts:
            return {}
        rows = texts[texts.index("Relative") + 1 :]  # Name, Smoothed, Value, Step, Time, Relative per run
        return {rows[i]: float(rows[i + 2]) for i in range(0, len(rows) - 5, 6) if rows[i] in JOBS}

    shown = until(tooltip, lambda found: set(found) == set(JOBS), "the tooltip of final/val/loss")
    for run in JOBS:
        assert shown[run] == pytest.approx(summary(logs, run)["metrics"]["val/loss"], abs=1e-4), run


# ----- other launchers, and DDP -----


@pytest.mark.slow
def test_a_joblib_sweep_and_a_ddp_run_show_as_lone_runs_do(board, tmp_path):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher", reason="needs trainlab[scale]")
    logs = tmp_path / "logs"
    ddp = ["trainer.devices=2", "trainer.strategy=ddp", "trainer.accelerator=cpu", *SMALL, f"hydra.run.dir={logs}/ddp"]
    started = [
        sweep(logs, "joblib", ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], tmp_path),
        subprocess.Popen(command(*ddp), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
    ]
    for process in started:
        finished(process)
    other = TensorBoard(logs, tmp_path)
    try:
        jobs = [f"joblib/{n}" for n in range(len(RATES))]
        other.loaded([*jobs, "ddp"])
        assert sorted(other.get("/data/runs")) == sorted([*jobs, "joblib", "ddp"])
        lone = {plugin: tags(board, plugin)["basic/0"] for plugin in ("scalars", "images", "histograms")}
        for plugin, expected in lone.items():
            found = tags(other, plugin)
            assert {run: found[run] for run in [*jobs, "ddp"]} == dict.fromkeys([*jobs, "ddp"], expected), plugin
        groups, basic = other.sessions(), board.sessions()
        for n in range(len(RATES)):
            assert groups[f"joblib/{n}"]["hparams"] == basic[f"basic/{n}"]["hparams"]
        devices = {"trainer.devices": 2, "trainer.strategy": "ddp", "trainer.accelerator": "cpu"}
        assert groups["ddp"]["hparams"] == {**HPARAMS, "optimizer.lr": 0.01, **devices}
    finally:
        other.stop()
