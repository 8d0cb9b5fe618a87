"""Checkpoint files: written atomically, read as tensors and plain data only.

Writing: to ``<name>.tmp`` in the same directory, flushed and fsynced, then renamed over
``<name>`` (``os.replace`` is atomic on one file system), so a crash or a kill during a
write leaves the previous checkpoint whole; at worst a stale ``.tmp`` remains, which a
resume removes. Writing in the background (``BackgroundCheckpointIO``): the tensors are copied on the calling
thread (on their device: training goes on while the copy is written), the file is written
by one worker thread, in order. Reading: ``torch.load(weights_only=True)``, whose unpickler builds only
tensors, numbers, strings and containers of them: a file crafted to run code when
unpickled is refused before any of it runs ("cannot be loaded safely"). Before it, the file is
checked whole (``check_whole``): torch.save writes a zip archive whose every member carries a
CRC, so a file that is empty, cut short or corrupted is refused as damaged
(``DamagedFile``, "truncated or not a checkpoint file") rather than half read.
"""

from __future__ import annotations

import copy
import io
import pickle
import re
import threading
import warnings
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins import CheckpointIO
from lightning.pytorch.plugins.io import TorchCheckpointIO

from trainlab.errors import ConfigError
from trainlab.files.atomic import atomic_open
from trainlab.files.rundir import COPY_AGAIN, DamagedFile

NOT_A_CHECKPOINT = "truncated or not a checkpoint file"
_ZIP_MAGIC = b"PK\x03\x04"  # a zip archive's first local header: torch.save's format since torch 1.6
# The weights-only unpickler's words for bytes that are no pickle at all (damage), as opposed to
# a pickle that asks for something it refuses to build (a global, a class: a crafted file).
_GARBAGE = ("Unsupported operand", "String is too long", "Expected bytes")


def load_checkpoint(path: str | Path, remedy: str = COPY_AGAIN) -> dict[str, Any]:
    """The checkpoint at ``path`` on the CPU, tensors and plain data only. ConfigError naming
    the file when it is missing or not a dict; ``DamagedFile`` (saying ``remedy``) when it is
    not whole (``check_whole``) or not a checkpoint file at all; "cannot be loaded safely" when
    its pickle asks for anything but tensors and plain data (nothing in it is run)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"checkpoint {path}: file not found")
    check_whole(path, remedy)
    try:
        with warnings.catch_warnings():  # a bare pickle's protocol: torch.load's concern, not the user's
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        reason = _unpickler_reason(error)
        if not isinstance(error, pickle.UnpicklingError) or reason.startswith(_GARBAGE):
            raise DamagedFile(path, f"{NOT_A_CHECKPOINT}: {_what_torch_says(path, error)}", remedy) from None
        raise ConfigError(
            f"checkpoint {path} cannot be loaded safely: it is not tensors and plain data only "
            f"(refused by torch.load(weights_only=True), nothing in it was run): {reason}"
        ) from None
    if not isinstance(checkpoint, dict):
        raise ConfigError(f"checkpoint {path} is not a Lightning checkpoint (a dict), but {type(checkpoint).__name__}")
    return checkpoint


def check_whole(path: str | Path, remedy: str = COPY_AGAIN) -> None:
    """``DamagedFile`` (saying ``remedy``) unless ``path`` is whole: not empty and, when it is a
    zip archive (what torch.save writes), with its end (the central directory) and every
    member matching its CRC. Reads the file once; unpickles nothing. A file that is not a zip
    archive passes: ``torch.load`` decides (an older torch's format, or not a checkpoint)."""
    path = Path(path)
    try:
        with open(path, "rb") as file:
            head = file.read(len(_ZIP_MAGIC))
    except OSError as error:
        raise ConfigError(f"checkpoint {path} cannot be read: {error.strerror or error}") from None
    if not head:
        raise DamagedFile(path, f"{NOT_A_CHECKPOINT}: 0 bytes", remedy)
    if head != _ZIP_MAGIC:
        return
    size = path.stat().st_size
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except zipfile.BadZipFile as error:
        cut = "File is not a zip file" in str(error)  # no end of archive where the file ends
        problem = f"{size} bytes, without the end of its zip archive" if cut else f"its zip archive is broken: {error}"
        raise DamagedFile(path, f"{NOT_A_CHECKPOINT}: {problem}", remedy) from None
    except Exception as error:  # a member cut short, a bad compressed stream, a read error
        problem = f"its zip archive is broken: {_first_line(error)}"
        raise DamagedFile(path, f"{NOT_A_CHECKPOINT}: {problem}", remedy) from None
    if bad is not None:
        raise DamagedFile(path, f"{NOT_A_CHECKPOINT}: {bad} in its zip archive fails its CRC check", remedy)


def _first_line(error: BaseException) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).strip()  # torch's messages carry terminal colours
    return text.splitlines()[0].strip() if text else type(error).__name__


def _unpickler_reason(error: BaseException) -> str:
    """What torch's weights-only unpickler said (its first sentence), else the error's first line."""
    text = str(error)
    marker = "WeightsUnpickler error:"
    if marker in text:
        after = [line.strip() for line in text.split(marker, 1)[1].splitlines() if line.strip()]
        if after:
            return after[0].split(". ")[0].rstrip(".")
    return _first_line(error)


def _what_torch_says(path: Path, error: BaseException) -> str:
    """Why torch.load failed on a file ``check_whole`` passed: torch's words for a zip archive;
    for any other file, that it is not one (torch.load then read it as a bare pickle)."""
    with open(path, "rb") as file:
        zipped = file.read(len(_ZIP_MAGIC)) == _ZIP_MAGIC
    return _unpickler_reason(error) if zipped else "not the zip archive torch.save writes"


def rng_state() -> dict[str, Any]:
    """The random state dropout draws from (the CPU's, and each CUDA device's), for a
    checkpoint's ``rng``, so a resumed run draws the same masks."""
    rng: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    return rng


def restore_rng(rng: dict[str, Any]) -> None:
    """Put back ``rng_state()``'s state (the CUDA part where the same devices are here)."""
    torch.set_rng_state(rng["torch"])
    if "cuda" in rng and torch.cuda.is_available() and len(rng["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(rng["cuda"])


def serialized(checkpoint: dict[str, Any]) -> bytes:
    """``checkpoint`` as the bytes ``torch.save`` writes (to write one checkpoint to two files)."""
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    return buffer.getvalue()


def save_atomically(checkpoint: dict[str, Any], path: str | Path) -> None:
    """torch.save to ``<path>.tmp``, fsync, then rename over ``path`` (``trainlab.files.atomic``)."""
    with atomic_open(path, "wb") as file:
        torch.save(checkpoint, file)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint I/O with atomic writes and weights-only reads (see the module doc)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        save_atomically(checkpoint, path)

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        return load_checkpoint(path)


class BackgroundCheckpointIO(CheckpointIO):
    """Atomic writes from one background thread, so an epoch does not wait for the disk.

    Like Lightning's AsyncCheckpointIO, but the point-in-time copy of the checkpoint walks
    only dicts, lists and tuples (Lightning's walk also checks every item for dataclasses
    and other collections: 3.3 ms per save of the default run's checkpoint, 728 items, on
    the 2-core CPU, where this takes 0.5 ms).

    A save never waits for the disk. With ``coalesce`` (for files written at most every
    few seconds anyway), when a file is saved again before its previous save was written
    (epochs faster than the disk), the newer copy replaces the queued one, so at most one
    copy per file waits, besides the one being written; without it, every save is written,
    in order. Saves of the files named in ``held`` (best.ckpt: it changes at most epochs
    early in training) are kept in memory, the newest only, until ``flush`` (called just
    before last.ckpt is written, so last.ckpt never names a best epoch whose file is not on
    disk) or ``teardown``: pickling a file on the background thread holds Python's global
    lock for milliseconds, which the training thread would wait for at every improving
    epoch. A failed write is raised at the next save, or when training ends (``teardown``,
    which Lightning calls after an exception too), where every write is waited for.
    """

    def __init__(self, coalesce: bool = True, held: tuple[str, ...] = ()) -> None:
        self.io = AtomicCheckpointIO()
        self.coalesce = coalesce
        self.held = held
        self._held: dict[str, dict[str, Any]] = {}  # path -> the newest copy not yet queued
        self._executor: ThreadPoolExecutor | None = None
        self._pending: list[Future[None]] = []
        self._queued: dict[str, dict[str, Any]] = {}  # path -> the newest copy not yet being written
        self._lock = threading.Lock()

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        self._raise_failed(wait=False)
        copy, key = snapshot(checkpoint), str(path)
        if Path(key).name in self.held:
            self._held[key] = copy
            return
        self._submit(copy, key)

    def flush(self) -> None:
        """Queue the held copies for writing."""
        held, self._held = self._held, {}
        for key, checkpoint in held.items():
            self._submit(checkpoint, key)

    def _submit(self, copy: dict[str, Any], key: str) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint")
        if not self.coalesce:
            self._pending.append(self._executor.submit(save_atomically, copy, key))
            return
        with self._lock:
            waiting = key in self._queued  # a write of this file is queued: it will take this copy
            self._queued[key] = copy
        if not waiting:
            self._pending.append(self._executor.submit(self._write, key))

    def _write(self, key: str) -> None:
        with self._lock:
            checkpoint = self._queued.pop(key)
        save_atomically(checkpoint, key)

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        self.flush()
        self._raise_failed(wait=True)
        return load_checkpoint(path)

    def remove_checkpoint(self, path: Any) -> None:
        self._held.pop(str(path), None)
        self._raise_failed(wait=True)
        self.io.remove_checkpoint(path)

    def teardown(self) -> None:
        try:
            self.flush()
            self._raise_failed(wait=True)
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None

    def _raise_failed(self, wait: bool) -> None:
        """Forgets finished writes (waiting for all first, with ``wait``); raises the first failure."""
        pending, self._pending = self._pending, []
        for i, future in enumerate(pending):
            if not (wait or future.done()):
                self._pending = pending[i:]
                return
            error = future.exception()
            if error is not None:
                self._pending = [f for f in pending[i + 1 :] if not f.done()]
                raise error


def snapshot(obj: Any) -> Any:
    """``obj`` with every tensor inside dicts, lists and tuples replaced by a detached copy
    (on the same device), and those containers copied; other values are shared."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, dict):
        out = copy.copy(obj)  # keeps the type and attributes (a state_dict's _metadata)
        for key, value in obj.items():
            out[key] = snapshot(value)
        return out
    if isinstance(obj, list):
        return [snapshot(value) for value in obj]
    if isinstance(obj, tuple):
        values = [snapshot(value) for value in obj]
        return type(obj)(*values) if hasattr(obj, "_fields") else type(obj)(values)
    return obj
