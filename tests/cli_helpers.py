"""Running train.py and predict.py as a user does: a subprocess in a directory of its own."""

import os
import subprocess
import sys
import time
from pathlib import Path

from trainlab.files.checkpoints import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def command(*args: str, script: str = "train.py") -> list[str]:
    return [sys.executable, str(ROOT / script), *args]


def train(*args: str, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.run(command(*args), cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout)


def start(*args: str, cwd: Path) -> subprocess.Popen:
    """train.py in the background (to be killed or interrupted by the test)."""
    return subprocess.Popen(command(*args), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_epoch(path, epoch, process, timeout=120.0):
    """Until ``path`` (last.ckpt) holds a finished epoch >= ``epoch`` (0-based)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        if path.is_file() and load_checkpoint(path)["epoch"] >= epoch:
            return
        time.sleep(0.02)
    raise AssertionError(f"{path} never reached epoch {epoch}")
