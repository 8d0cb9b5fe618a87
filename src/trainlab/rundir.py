"""A run directory: the names of every file a run writes, and the one way they are written.

Every file is written atomically (``atomic_open``): to ``<name>.tmp`` beside it, flushed and
fsynced, renamed over ``<name>`` (``os.replace``, atomic on one file system), then the
directory is fsynced so the rename itself survives a power cut. A crash, a kill or an
exception during a write leaves the previous file whole and, except after a kill, no
temporary; a resume removes the stale ones (``RunDir.remove_stale_temporaries``). The
temporary's name is fixed, so a file must have one writer at a time (as in trainlab).
Checkpoints are written the same way (``checkpoints.save_atomically``).

Use::

    out = RunDir(run_dir)
    out.refuse_existing()                          # a new run: never another run's directory
    out.save_config(cfg)                           # config.yaml, resolved
    out.write_json(out.PREPROCESSING, prep)        # preprocessing.json
    out.write_csv(out.LR_FIND_CSV, frame)          # any CSV, without the index by default
    out.save_figure(out.LR_FIND_PLOT, fig)         # a matplotlib figure as PNG
    out.save_png("neurons.png", image)             # a uint8 [3, H, W] tensor as PNG
    out.write_json(out.SUMMARY, summary)           # summary.json
    out.last_checkpoint, out.fold(2).path          # checkpoints/last.ckpt, fold_2/

Files outside a run directory (predict's ``output=``, a sweep's tables) use the functions
``write_text``, ``write_bytes``, ``write_csv`` and ``atomic_open`` directly.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from trainlab.errors import ConfigError

TMP_SUFFIX = ".tmp"  # resume removes stale ``*.tmp``; conftest's break_last_ckpt knows "last.ckpt.tmp"


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", **open_args: Any) -> Iterator[IO[Any]]:
    """A file (``mode`` "w" or "wb"; text is UTF-8 unless ``encoding`` says otherwise) whose
    content replaces ``path`` only when the ``with`` block ends without an exception; on any
    exception (BaseException: Ctrl-C too) the temporary is removed and ``path`` is untouched.
    The parent directories are created."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open: mode {mode!r} is not allowed: 'w' or 'wb'")
    if mode == "w":
        open_args.setdefault("encoding", "utf-8")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + TMP_SUFFIX)
    try:
        with open(tmp, mode, **open_args) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(target.parent)


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


class RunDir:
    """One run's directory (``path``): the names of its files and atomic writes of them.

    Names are relative to ``path``. A cross-validation run keeps each fold's model in its
    own sub-run, ``fold(k)``, laid out the same way.
    """

    CONFIG = "config.yaml"  # the resolved config
    OVERRIDES = "overrides.yaml"  # the overrides it was composed from: what resume= composes again
    SUMMARY = "summary.json"  # status, best epoch, metrics
    PREPROCESSING = "preprocessing.json"  # the fitted transform, as plain data
    SUBMISSION = "submission.csv"  # predictions for data.test
    CHECKPOINTS = "checkpoints"  # best.ckpt and last.ckpt
    BEST_CKPT = "best.ckpt"
    LAST_CKPT = "last.ckpt"
    LR_FIND_CSV = "lr_find.csv"
    LR_FIND_PLOT = "lr_find.png"
    CONFUSION_MATRIX_CSV = "confusion_matrix.csv"
    # The pictures, each as <name>.png (and TensorBoard's image of the same name).
    PICTURES = ("decision_boundary", "neurons", "fitted_curve", "confusion_matrix", "predicted_vs_true")
    MARKS_A_RUN = (SUMMARY, CHECKPOINTS, CONFIG)  # any of them: the directory holds a run

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    @property
    def checkpoints(self) -> Path:
        return self.path / self.CHECKPOINTS

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoints / self.BEST_CKPT

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / self.LAST_CKPT

    def fold(self, k: int) -> RunDir:
        """Fold ``k``'s sub-run of a cross-validation run: ``fold_<k>/``."""
        return RunDir(self.path / f"fold_{k}")

    def write_text(self, name: str, text: str) -> Path:
        return write_text(self.path / name, text)

    def write_bytes(self, name: str, data: bytes) -> Path:
        return write_bytes(self.path / name, data)

    def write_json(self, name: str, obj: Any) -> Path:
        """``obj`` as indented JSON (values JSON cannot hold, such as paths, as their str)."""
        return write_text(self.path / name, json.dumps(obj, indent=2, default=str) + "\n")

    def read_json(self, name: str) -> Any:
        """The JSON file ``name``, or None when there is none."""
        file = self.path / name
        return json.loads(file.read_text(encoding="utf-8")) if file.is_file() else None

    def write_csv(self, name: str, frame: Any, index: bool = False) -> Path:
        return write_csv(self.path / name, frame, index)

    def save_config(self, cfg: Any, overrides: list[str] | None = None) -> Path:
        """config.yaml: the OmegaConf config with every interpolation resolved; with
        ``overrides``, overrides.yaml: the list it was composed from (as Hydra's
        .hydra/overrides.yaml, which a resume would overwrite)."""
        from omegaconf import OmegaConf

        if overrides is not None:
            write_text(self.path / self.OVERRIDES, OmegaConf.to_yaml(OmegaConf.create(list(overrides))))
        return write_text(self.path / self.CONFIG, OmegaConf.to_yaml(cfg, resolve=True))

    def read_overrides(self) -> list[str] | None:
        """overrides.yaml's list, or None when the run has none (a run from before it existed)."""
        from omegaconf import OmegaConf

        path = self.path / self.OVERRIDES
        return [str(o) for o in OmegaConf.load(path)] if path.is_file() else None

    def save_png(self, name: str, image: Any) -> Path:
        """A uint8 [3, H, W] image tensor as the PNG ``name``."""
        from trainlab.pictures.draw import save_png

        return save_png(image, self.path / name)

    def save_figure(self, name: str, fig: Any) -> Path:
        """A matplotlib figure as the PNG ``name`` (the figure stays open)."""
        from trainlab.pictures.figures import save

        return save(fig, self.path / name)

    def holds_a_run(self) -> str | None:
        """The first of ``MARKS_A_RUN`` present, or None: the directory is free for a new run."""
        return next((name for name in self.MARKS_A_RUN if (self.path / name).exists()), None)

    def refuse_existing(self) -> None:
        """A new run never writes into a directory that holds another run's results."""
        taken = self.holds_a_run()
        if taken:
            raise ConfigError(
                f"output directory {self.path} already holds a run ({taken}); trainlab never writes into another "
                f"run's directory: choose a new one, or continue that run with resume={self.path}"
            )

    def remove_stale_temporaries(self) -> None:
        """The ``*.tmp`` left by writes that were killed (before a resume writes again)."""
        for directory in (self.path, self.checkpoints):
            for tmp in directory.glob(f"*{TMP_SUFFIX}"):
                tmp.unlink(missing_ok=True)
