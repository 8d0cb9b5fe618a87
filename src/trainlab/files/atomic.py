"""One way every file trainlab writes is written: atomically and durably.

``atomic_open`` writes to ``<name>.tmp`` beside the file, flushes and fsyncs it, renames it
over ``<name>`` (``os.replace``, atomic on one file system), then fsyncs the directory so the
rename itself survives a power cut. A crash, a kill or an exception during a write leaves the
previous file whole and, except after a kill, no temporary; a resume removes the stale ones
(``RunDir.remove_stale_temporaries``). Inside ``trainlab.files.batch.durable_batch`` the
temporary is handed to the batch, which makes many files durable and renames them together
(a stack's members). The temporary's name is fixed, so a file must have one
writer at a time (as in trainlab). Checkpoints are written the same way
(``checkpoints.save_atomically``); ``write_bytes``, ``write_text`` and ``write_csv`` serve files
outside a run directory too (predict's ``output=``, a sweep's tables, the course's page).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from trainlab.errors import WriteFailed, write_failure
from trainlab.files.batch import current

TMP_SUFFIX = ".tmp"  # resume removes stale ``*.tmp``; conftest's break_last_ckpt knows "last.ckpt.tmp"


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", **open_args: Any) -> Iterator[IO[Any]]:
    """A file (``mode`` "w" or "wb"; text is UTF-8 unless ``encoding`` says otherwise) whose
    content replaces ``path`` only when the ``with`` block ends without an exception; on any
    exception (BaseException: Ctrl-C too) the temporary is removed and ``path`` is untouched.
    The parent directories are created. An OSError of the disk (full, read-only, failing) is
    raised as ``WriteFailed`` naming ``path``, also where the block's writer raised its own
    error over it (torch.save's zip writer)."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open: mode {mode!r} is not allowed: 'w' or 'wb'")
    if mode == "w":
        open_args.setdefault("encoding", "utf-8")
    target = Path(path)
    tmp = target.with_name(target.name + TMP_SUFFIX)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        batch = current()
        with open(tmp, mode, **open_args) as file:
            yield file
            file.flush()
            if batch is None:
                os.fsync(file.fileno())
        if batch is not None:  # made durable and renamed with the batch's other files, at its end
            batch.add(tmp, target)
            return
        os.replace(tmp, target)
    except WriteFailed:
        _remove(tmp)
        raise
    except OSError as error:
        _remove(tmp)
        if write_failure(error) is None and not isinstance(error, PermissionError):
            raise  # not the disk's refusal (the block's own error): as it is
        raise WriteFailed(target, error) from error
    except Exception as error:
        _remove(tmp)
        disk = write_failure(error)  # a writer that words the file's failed write as its own error
        if disk is None:  # (torch.save's zip writer: RuntimeError "unexpected pos", the OSError its context)
            raise
        raise WriteFailed(target, OSError(disk.errno, disk.reason)) from error
    except BaseException:
        _remove(tmp)
        raise
    _fsync_directory(target.parent)


def _remove(tmp: Path) -> None:
    with contextlib.suppress(OSError):  # a read-only disk refuses even this
        tmp.unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    # POSIX: the rename is durable once the directory is; Windows cannot open a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """``data`` as the file ``path``, atomically (see ``atomic_open``)."""
    with atomic_open(path, "wb") as file:
        file.write(data)
    return Path(path)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """``text`` (UTF-8) as the file ``path``, atomically (see ``atomic_open``)."""
    with atomic_open(path, "w") as file:
        file.write(text)
    return Path(path)


def write_csv(path: str | os.PathLike[str], frame: Any, index: bool = False) -> Path:
    """A pandas DataFrame as CSV at ``path``, atomically (see ``atomic_open``)."""
    with atomic_open(path, "w", newline="") as file:  # newline="": pandas writes its own line ends
        frame.to_csv(file, index=index)
    return Path(path)
