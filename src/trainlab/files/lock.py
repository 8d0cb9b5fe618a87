"""One writer per run directory at a time: a lock that a killed process cannot leave stuck.

The writer holds an exclusive ``flock`` on ``<run dir>/.lock`` (which holds its pid) from its
checks to its end. The kernel drops the lock when the process ends, however it ends
(SIGKILL, a crash), so a stale ``.lock`` file never blocks a resume: only a live holder
does, and a second process is refused naming the first one's pid. The writer removes the file
at its end. Without ``fcntl`` (Windows) nothing is locked.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from trainlab.errors import ConfigError, WriteFailed

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

LOCK = ".lock"


class Taken(ConfigError):
    """The run directory is being written by another live process (its pid in the message)."""


def _refusal(run_dir: Path, pid: str) -> ConfigError:
    who = f"pid {pid}" if pid else "another process"
    return Taken(
        f"{run_dir} is being written by another trainlab process ({who}); a run directory has one "
        f"writer at a time: wait for that process to end (or stop it), then resume={run_dir}"
    )


def writer_of(run_dir: str | os.PathLike[str]) -> str | None:
    """The pid (as text, possibly empty) of the live process holding ``run_dir``'s lock, or
    None when no process holds it. Takes nothing: for checks before any write."""
    path = Path(run_dir) / LOCK
    if fcntl is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return path.read_text(encoding="utf-8", errors="replace").strip()
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


@contextlib.contextmanager
def sole_writer(run_dir: str | os.PathLike[str]) -> Iterator[None]:
    """Hold ``run_dir``'s lock for the ``with`` block (creating the directory, and removing
    it again if the block left it empty): ConfigError naming the holder's pid when another
    live process holds it; ``WriteFailed`` when the directory cannot be written (read-only,
    full)."""
    directory = Path(run_dir)
    if fcntl is None:
        yield
        return
    made = not directory.exists()
    fd = _locked(directory)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(directory / LOCK)
        os.close(fd)
        if made:  # a run refused before it wrote anything leaves no directory behind
            with contextlib.suppress(OSError):
                directory.rmdir()


def _locked(directory: Path) -> int:
    path = directory / LOCK
    while True:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise WriteFailed(path, error) from error
        if not _lock_within(fd, seconds=1.0):  # a moment: another process's probe (writer_of) lets go
            pid = path.read_text(encoding="utf-8", errors="replace").strip()
            os.close(fd)
            raise _refusal(directory, pid)
        # The holder before us may have removed the file between our open and our lock: then
        # ours is a lock on a file no one else sees, and we take the one at the path again.
        if _same_file(fd, path):
            break
        os.close(fd)
    with contextlib.suppress(OSError):  # a full disk: the lock holds without the pid in it
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
    return fd


def _lock_within(fd: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False
