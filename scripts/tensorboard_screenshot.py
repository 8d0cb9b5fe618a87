"""docs/tensorboard-hparams.png: TensorBoard's HPARAMS table of a small sweep, as a student sees it.

    python scripts/tensorboard_screenshot.py [--out docs/tensorboard-hparams.png] [--keep DIR]

Trains README's stacked sweep in small (3 learning rates x 2 seeds, the default run otherwise),
starts TensorBoard on its directory as README says (``tensorboard --logdir <sweep dir>``), waits
until the server holds every job's session, and has headless Chromium (Debian's ``chromium``)
screenshot the HPARAMS tab. About 30 s on a 2-core CPU. ``--keep DIR`` trains into DIR and
leaves it, to open in TensorBoard yourself.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ["hydra/launcher=stacked", "seed=0,1", "optimizer.lr=0.001,0.01,0.1"]
JOBS = 6
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
WINDOW = (2300, 480)  # the table: its ten columns (each about 150 px wide) and six rows


def wait(ready, what: str, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = ready()
        if found:
            return found
        time.sleep(0.25)
    raise SystemExit(f"error: {what} did not come within {timeout:.0f} s")


def sessions(url: str) -> int:
    """How many runs the HPARAMS table holds, asked as the page asks."""
    body = {"experimentName": "", "allowedStatuses": ["STATUS_SUCCESS"], "startIndex": 0, "sliceSize": 1000}
    request = urllib.request.Request(
        url + "data/plugin/hparams/session_groups",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return len(json.loads(response.read())["sessionGroups"])


def screenshot(logdir: Path, out: Path, chromium: str) -> None:
    log = logdir.parent / "tensorboard.log"
    with log.open("w") as file:
        server = subprocess.Popen(
            [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--port", "0", "--host", "127.0.0.1"],
            stdout=file,
            stderr=file,
            start_new_session=True,  # the server and its data server, stopped together
        )
    try:
        address = wait(lambda: re.search(r"at (http://127\.0\.0\.1:\d+/)", log.read_text()), "TensorBoard's address")
        url = address.group(1)
        wait(lambda: sessions(url) == JOBS, f"{JOBS} sessions in HPARAMS")
        flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=20000"]
        width, height = WINDOW
        with tempfile.TemporaryDirectory() as profile:
            shot = [chromium, *flags, f"--user-data-dir={profile}", f"--window-size={width},{height}"]
            done = subprocess.run([*shot, f"--screenshot={out}", url + "#hparams"], capture_output=True, timeout=120)
        if done.returncode != 0 or not out.is_file():
            raise SystemExit(f"error: chromium failed: {done.stderr.decode()[-2000:]}")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "tensorboard-hparams.png")
    parser.add_argument("--keep", type=Path, help="train into this directory and leave it")
    args = parser.parse_args()
    chromium = next((p for name in BROWSERS if (p := shutil.which(name))), None)
    if chromium is None:
        raise SystemExit("error: needs Chromium (Debian: apt-get install chromium)")
    import trainlab

    with tempfile.TemporaryDirectory() as scratch:
        home = args.keep or Path(scratch)
        sweep_dir = home / "sweep"
        overrides = [*SWEEP[1:], "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]
        trainlab.run_sweep(overrides, output_dir=sweep_dir, verbose=False)  # hydra/launcher=stacked's work
        args.out.parent.mkdir(parents=True, exist_ok=True)
        screenshot(sweep_dir, args.out.resolve(), chromium)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
