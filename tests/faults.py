"""Real faults for tests: a small file system (tmpfs) that fills up or turns read-only, and the
check that a run directory holds only whole files."""

import contextlib
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import torch
import yaml
from cli_helpers import train
from overrides import QUIET

from trainlab.files.checkpoints import load_checkpoint
from trainlab.files.rundir import RunDir

KILL_POINTS = Path(__file__).resolve().parent / "kill_points.py"  # train.py paused inside a chosen write
# last.ckpt every epoch, pictures and TensorBoard on: a write at every turn.
RUN = ["data.n_samples=600", "trainer.max_epochs=6", "speed.last_checkpoint_seconds=0", *QUIET]


def reference_run(tmp_path_factory, args=RUN) -> Path:
    """The run of ``args`` that no fault stopped: the numbers a stopped one must reach."""
    cwd = tmp_path_factory.mktemp("reference")
    done = train(*args, f"hydra.run.dir={cwd / 'run'}", cwd=cwd)
    assert done.returncode == 0, done.stderr
    return cwd / "run"


def _mount(*args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["mount", *args], capture_output=True, text=True)
    except FileNotFoundError:  # no mount command here
        return subprocess.CompletedProcess(["mount", *args], 127, "", "no mount command")


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "2m"):
    """A tmpfs of ``size`` mounted at ``path`` for the block. Where mounting is not permitted
    (not root, a container without the capability) the test skips with the reason, except
    under CI=true (CI runs as root on a machine where it works): there it fails."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))
    if mounted.returncode != 0:
        reason = f"cannot mount a tmpfs here ({mounted.stderr.strip() or 'mount failed'})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must run the disk-full tests (as root)")
        pytest.skip(reason)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def resize(path: Path, size: str) -> None:
    """Grow or shrink the tmpfs at ``path`` (space freed, as a user deleting files would)."""
    assert _mount("-o", f"remount,size={size}", str(path)).returncode == 0


def read_only(path: Path) -> None:
    assert _mount("-o", "remount,ro", str(path)).returncode == 0


def fill(path: Path) -> Path:
    """Write zeros into ``path/filler`` until the disk refuses: the disk is full."""
    filler = path / "filler"
    chunk = bytes(64 * 1024)
    with contextlib.suppress(OSError), open(filler, "wb", buffering=0) as file:
        while True:
            file.write(chunk)
    with contextlib.suppress(OSError), open(filler, "ab", buffering=0) as file:  # the last pages
        while True:
            file.write(b"\0" * 512)
    return filler


def assert_whole(run_dir: Path) -> list[Path]:
    """Every file in ``run_dir`` is complete: no temporary, every JSON and YAML parses, every
    checkpoint loads, every PNG decodes, every CSV reads, every TensorBoard event file reads.
    Returns the files checked."""
    import pandas as pd
    from PIL import Image

    files = [p for p in run_dir.rglob("*") if p.is_file() and p.name not in ("filler", ".lock")]
    assert not [p for p in files if p.name.endswith(".tmp")], files
    for file in files:
        if file.suffix == ".json":
            json.loads(file.read_text())
        elif file.suffix == ".yaml":
            yaml.safe_load(file.read_text())
        elif file.suffix == ".ckpt":
            load_checkpoint(file)
        elif file.suffix == ".png":
            with Image.open(file) as image:
                image.load()
        elif file.suffix == ".csv":
            pd.read_csv(file)
        elif file.name.startswith("events.out.tfevents"):
            _read_events(file)
    return files


def _read_events(file: Path) -> None:
    """Every record of a TensorBoard event file whole: its length and data match their CRCs
    (TFRecord framing). Only the last record may be cut short (a full disk stops an append
    there; TensorBoard's reader skips it); any other damage fails."""
    import struct

    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    data, position = file.read_bytes(), 0
    while len(data) - position >= 12:
        header = data[position : position + 8]
        (length,), (header_crc,) = struct.unpack("<Q", header), struct.unpack("<I", data[position + 8 : position + 12])
        assert masked_crc32c(header) == header_crc, f"{file}: a damaged record header at byte {position}"
        end = position + 12 + length + 4
        if end > len(data):
            break  # the last record, cut short
        payload, (payload_crc,) = data[position + 12 : end - 4], struct.unpack("<I", data[end - 4 : end])
        assert masked_crc32c(payload) == payload_crc, f"{file}: a damaged record at byte {position}"
        position = end


def paused(process: subprocess.Popen, marker: Path, point: str, timeout: float = 240) -> None:
    """Until ``process`` (tests/kill_points.py) pauses at ``point``: its ``marker`` exists."""
    deadline = time.monotonic() + timeout
    while not marker.exists():
        assert process.poll() is None, f"the run ended before {point}: {process.communicate()[1]}"
        assert time.monotonic() < deadline, f"{point} never reached"
        time.sleep(0.01)


def assert_finishes_as_reference(run_dir: Path, reference: Path, cwd: Path, args=RUN) -> None:
    resumed = train(*args, f"resume={run_dir}", cwd=cwd)
    if resumed.returncode == 2:  # killed after its summary.json said finished
        assert "that run has finished" in resumed.stderr, resumed.stderr
    else:
        assert resumed.returncode == 0, resumed.stderr
    assert_whole(run_dir)  # and no temporary left
    expected = json.loads((reference / "summary.json").read_text())
    got = json.loads((run_dir / "summary.json").read_text())
    assert got["status"] == expected["status"] and got["epochs"] == expected["epochs"]
    assert got["metrics"] == pytest.approx(expected["metrics"], rel=1e-6)
    want = load_checkpoint(RunDir(reference).last_checkpoint)["state_dict"]
    have = load_checkpoint(RunDir(run_dir).last_checkpoint)["state_dict"]
    for name, value in want.items():
        torch.testing.assert_close(have[name], value, rtol=1e-6, atol=1e-7)
    pictures = sorted(p.name for p in reference.glob("*.png"))
    assert sorted(p.name for p in run_dir.glob("*.png")) == pictures
