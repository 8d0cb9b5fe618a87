"""Many files made durable together: a stack's members' run directories, written in one pass.

``atomic_open`` makes each file durable on its own: an fsync of the file, a rename, an fsync
of its directory. A sweep's stack writes about a dozen files per member, a thousand members
at a time, and one fsync per file was most of its finishing (3,592 fsyncs for 256 jobs).
Inside ``durable_batch()``, ``atomic_open`` writes each temporary (``<name>.tmp``) and hands
it here instead; when the block ends, every temporary is made durable at once (one
``syncfs`` per file system, or an fsync of each temporary where the system has no syncfs),
then each is renamed over its file in the order it was written, then the renames are made
durable (``syncfs`` again, or an fsync of each directory).

The promise is ``atomic_open``'s: a crash or a kill at any moment leaves each file whole
(its new or its previous content) or absent, never cut. Until the renames, only temporaries
exist (a resume removes stale ones: ``RunDir.remove_stale_temporaries``); files are renamed
in the order they were written, so a summary.json written last appears last. A file written
twice in a batch keeps its last content. Readers see a batch's files once it ends, so a
batch holds writes that nothing reads back before the end (a stack's member directories);
``is_file`` answers for a file written in the open batch.
On an exception inside the block, the temporaries written so far are still committed (the
files written before the error exist, as without a batch) and the exception goes on.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import ctypes.util
import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from trainlab.errors import WriteFailed, write_failure

_CURRENT: contextvars.ContextVar[Batch | None] = contextvars.ContextVar("trainlab_durable_batch", default=None)


class Batch:
    """The temporaries written inside one ``durable_batch()``, by the file they replace."""

    def __init__(self) -> None:
        self.pending: dict[Path, Path] = {}  # file -> its temporary, in the order written

    def add(self, tmp: Path, target: Path) -> None:
        self.pending.pop(target, None)  # written again: it keeps its latest place and content
        self.pending[target] = tmp

    def commit(self) -> None:
        """Make every temporary durable, rename each over its file, make the renames durable.
        A refused rename or sync is ``WriteFailed`` naming the file (the others are renamed)."""
        pending, self.pending = self.pending, {}
        if not pending:
            return
        _sync([*pending.values()])
        failed: WriteFailed | None = None
        for target, tmp in pending.items():
            try:
                os.replace(tmp, target)
            except OSError as error:
                with contextlib.suppress(OSError):
                    tmp.unlink(missing_ok=True)
                failed = failed or WriteFailed(target, error)
        _sync(list({target.parent: None for target in pending}))
        if failed is not None:
            raise failed


def current() -> Batch | None:
    """The batch ``atomic_open`` hands its temporaries to, if one is open in this context."""
    return _CURRENT.get()


def is_file(path: Path) -> bool:
    """Whether ``path`` is a file, or will be when the open batch ends (written in it)."""
    batch = _CURRENT.get()
    return (batch is not None and Path(path) in batch.pending) or Path(path).is_file()


@contextlib.contextmanager
def durable_batch() -> Iterator[Batch]:
    """Every ``atomic_open`` inside the block made durable and renamed together at its end
    (see the module doc). Batches nest: an inner one commits with the outer."""
    if _CURRENT.get() is not None:
        yield _CURRENT.get()  # type: ignore[misc]
        return
    batch = Batch()
    token = _CURRENT.set(batch)
    try:
        yield batch
    finally:
        _CURRENT.reset(token)
        batch.commit()


def _sync(paths: list[Path]) -> None:
    """Make ``paths`` (files or directories) durable: one ``syncfs`` per file system they are
    on, or an fsync of each where there is no syncfs. A disk that refuses is ``WriteFailed``."""
    syncfs = _syncfs()
    if syncfs is None:
        for path in paths:
            _fsync(path)
        return
    devices: dict[int, Path] = {}
    for path in paths:
        with contextlib.suppress(OSError):
            devices.setdefault(os.stat(path).st_dev, path)
    for path in devices.values():
        fd = os.open(path, os.O_RDONLY)
        try:
            if syncfs(fd) != 0:
                error = OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
                if write_failure(error) is not None:
                    raise WriteFailed(path, error)
        finally:
            os.close(fd)


def _fsync(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as error:
        if write_failure(error) is not None and not path.is_dir():
            raise WriteFailed(path, error) from None
    finally:
        os.close(fd)


@functools.cache
def _syncfs() -> Callable[[int], int] | None:
    """libc's ``syncfs(fd)`` (Linux), or None."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        found = libc.syncfs
        found.argtypes, found.restype = [ctypes.c_int], ctypes.c_int
        return found
    return None
