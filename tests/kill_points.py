"""``python tests/kill_points.py <point> <marker> <train.py arguments...>``: train.py, paused at
``point`` after creating the file ``marker`` until the test removes it, so that a test's
SIGKILL (or a disk it fills meanwhile) lands exactly there. Points:

- ``fsync:<name>[:<n>]``: inside the n-th (default 1st) atomic write of the file ``<name>``,
  its temporary written, before it is made durable and renamed;
- ``replace:<name>[:<n>]``: just after that write's rename, before the directory is synced;
- ``test``: as the test loop starts, after training.

The pause is in this runner only (test code): trainlab runs unchanged.
"""

import os
import sys
import time
from pathlib import Path


def _pause(marker: str) -> None:
    Path(marker).write_text(str(os.getpid()))
    deadline = time.monotonic() + 600
    while Path(marker).exists() and time.monotonic() < deadline:
        time.sleep(0.01)


def _counting(name: str, nth: int):
    seen = {"n": 0}

    def hit() -> bool:
        seen["n"] += 1
        return seen["n"] == nth

    return hit


def install(point: str, marker: str) -> None:
    kind, _, rest = point.partition(":")
    name, _, nth = rest.partition(":")
    hit = _counting(name, int(nth or 1))
    if kind == "fsync":
        original_fsync = os.fsync

        def fsync(fd):
            try:
                path = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                path = ""
            if path.endswith(f"/{name}.tmp") and hit():
                _pause(marker)
            return original_fsync(fd)

        os.fsync = fsync
    elif kind == "replace":
        original_replace = os.replace

        def replace(src, dst, **kwargs):
            original_replace(src, dst, **kwargs)
            if str(dst).endswith(f"/{name}") and hit():
                _pause(marker)

        os.replace = replace
    elif kind == "test":
        from trainlab.training.module import TrainingModule

        original = TrainingModule.on_test_start

        def on_test_start(self):
            _pause(marker)
            original(self)

        TrainingModule.on_test_start = on_test_start
    else:
        raise SystemExit(f"unknown kill point {point!r}")


if __name__ == "__main__":
    point, marker, *args = sys.argv[1:]
    install(point, marker)
    sys.argv = ["train.py", *args]
    from trainlab.cli import train

    train()
