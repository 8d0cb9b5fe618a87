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
import re
from collections.abc import Callable, Iterator
from functools import cache
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


def config_yaml(plain: Any, to_yaml: Callable[[], str]) -> str:
    """``to_yaml()``: ``OmegaConf.to_yaml`` of a config whose ``OmegaConf.to_container(...,
    enum_to_str=True)`` is ``plain`` (None: not known). The same text, byte for byte, from
    libyaml's C emitter where it writes ``plain`` as PyYAML's Python emitter (OmegaConf's) does
    (``_emitted_alike``); else ``to_yaml()`` itself.

    The C dumper takes OmegaConf's dumper's representers (its ``str`` representer quotes a
    string YAML would read as a bool or a number: ``'1e-3'``, ``'yes'``) and its options.
    ``omegaconf._utils.get_omega_conf_dumper`` is OmegaConf's own, not public API;
    tests/test_rundir.py holds the texts equal on trainlab's configs and awkward values.

    A block mapping's (or sequence's) entries are written one after another, each from the
    start of a line, so the text of a dict is the texts of its one-entry dicts in order. Each
    top-level entry's text is kept (``_ENTRY_TEXTS``) by its key and its value's ``repr`` (which
    tells these values apart as YAML does: ``1``, ``1.0``, ``True``, ``'1'``): a sweep's configs
    share most sections, and the Python representer, not the emitter, is most of a dump's time.
    """
    dumper = _libyaml_dumper()
    if dumper is None or not isinstance(plain, dict | list) or not plain:
        return to_yaml()
    pairs = list(plain.items()) if isinstance(plain, dict) else [(None, value) for value in plain]
    texts = []
    for key, value in pairs:
        kept = (type(plain), key, repr(value))
        text = _ENTRY_TEXTS.get(kept)
        if text is None:
            entry = {key: value} if isinstance(plain, dict) else [value]
            if not _emitted_alike(entry):
                return to_yaml()
            text = _dump(entry, dumper)
            if len(_ENTRY_TEXTS) >= _ENTRY_TEXTS_KEPT:
                _ENTRY_TEXTS.clear()
            _ENTRY_TEXTS[kept] = text
        texts.append(text)
    return "".join(texts)


_ENTRY_TEXTS: dict[tuple[type, Any, str], str] = {}  # (dict or list, key, repr(value)) -> its YAML lines
_ENTRY_TEXTS_KEPT = 4096  # a 1000-job sweep's configs have a few hundred distinct entries


def _dump(plain: dict[Any, Any] | list[Any], dumper: type) -> str:
    import yaml

    text: str = yaml.dump(plain, Dumper=dumper, default_flow_style=False, allow_unicode=True, sort_keys=False)
    return text


@cache
def _libyaml_dumper() -> type | None:
    """A dumper on libyaml's emitter with OmegaConf's dumper's representers; None without libyaml."""
    import yaml
    from omegaconf._utils import get_omega_conf_dumper

    if not yaml.__with_libyaml__:
        return None
    omegaconf_dumper = get_omega_conf_dumper()

    class LibyamlConfigDumper(yaml.CDumper):
        pass

    for kind, representer in omegaconf_dumper.yaml_representers.items():
        LibyamlConfigDumper.add_representer(kind, representer)
    for kind, representer in omegaconf_dumper.yaml_multi_representers.items():
        LibyamlConfigDumper.add_multi_representer(kind, representer)
    return LibyamlConfigDumper


_ALIKE_TEXT = re.compile(r"[ -~]*")  # printable ASCII: no line break, tab, non-ASCII or control character
_ALIKE_KEY_LENGTH = 60  # a key of 123 to 128 characters (with a space) is a simple key to libyaml only


def _emitted_alike(plain: Any) -> bool:
    """Whether libyaml's emitter writes ``plain`` as PyYAML's Python emitter does: dicts with
    string keys of 1 to 60 printable ASCII characters, lists, None, bools, ints, floats and
    strings of printable ASCII. The two were compared on random values (tests/test_rundir.py
    keeps a sample): they differ on an empty key, a key of 123 to 128 characters, and a
    string with a line break, a tab, a control or a non-ASCII character (libyaml escapes
    characters beyond the BMP, and folds double-quoted strings elsewhere)."""
    if isinstance(plain, dict):
        return all(
            isinstance(k, str) and 0 < len(k) <= _ALIKE_KEY_LENGTH and _ALIKE_TEXT.fullmatch(k) and _emitted_alike(v)
            for k, v in plain.items()
        )
    if isinstance(plain, list):
        return all(_emitted_alike(v) for v in plain)
    if isinstance(plain, str):
        return _ALIKE_TEXT.fullmatch(plain) is not None
    return plain is None or type(plain) in (bool, int, float)


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
        .hydra/overrides.yaml, which a resume would overwrite). Each file's text is
        ``OmegaConf.to_yaml``'s (see ``config_yaml``)."""
        from omegaconf import OmegaConf

        if overrides is not None:
            listed = list(overrides)
            # OmegaConf.create keeps a string as it is (it parses, and may refuse, only an interpolation)
            if all(isinstance(o, str) and "${" not in o for o in listed):
                text = config_yaml(listed, lambda: OmegaConf.to_yaml(OmegaConf.create(listed)))
            else:
                text = OmegaConf.to_yaml(OmegaConf.create(listed))
            write_text(self.path / self.OVERRIDES, text)
        plain = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True) if OmegaConf.is_config(cfg) else None
        return write_text(self.path / self.CONFIG, config_yaml(plain, lambda: OmegaConf.to_yaml(cfg, resolve=True)))

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
