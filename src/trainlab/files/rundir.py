"""A run directory: the name of every file a run writes, and its reads and writes.

Every file is written atomically (``trainlab.files.atomic``). Use::

    out = RunDir(run_dir)
    out.refuse_existing()                          # a new run: never another run's directory
    out.save_config(cfg)                           # config.yaml, resolved
    out.write_json(out.PREPROCESSING, prep)        # preprocessing.json
    out.write_csv(out.LR_FIND_CSV, frame)          # any CSV, without the index by default
    out.write_json(out.SUMMARY, summary)           # summary.json
    out.last_checkpoint, out.fold(2).path          # checkpoints/last.ckpt, fold_2/
    out.read_summary(), out.read_config(), out.read_overrides()   # None when absent

Pictures are drawn by ``trainlab.pictures`` and written there with the same atomic write.

Reading: a file that cannot be read back as trainlab wrote it (empty, truncated, not UTF-8,
not valid JSON or YAML, not the shape it is written in) raises ``DamagedFile``: one line naming
the file, what is wrong and what to do (a caller that knows more says more: ``remedy``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainlab.errors import ConfigError
from trainlab.files.atomic import TMP_SUFFIX, write_csv, write_text
from trainlab.files.config_text import config_yaml

if TYPE_CHECKING:
    from omegaconf import DictConfig

# What to do about a damaged file when the caller has nothing better to say.
COPY_AGAIN = (
    "trainlab wrote it whole (atomically), so it was damaged since (a partial copy, a disk error): "
    "copy it again from where the run was made, or train the run again"
)


class DamagedFile(ConfigError):
    """A file a run wrote that cannot be read back as written: ``path``, what is wrong with it
    (``problem``) and what to do (``remedy``), in one line:
    ``<path> is damaged (<problem>); <remedy>``."""

    def __init__(self, path: str | os.PathLike[str], problem: str, remedy: str = COPY_AGAIN) -> None:
        self.path, self.problem, self.remedy = Path(path), problem, remedy
        super().__init__(f"{self.path} is damaged ({problem}); {remedy}")

    def with_remedy(self, remedy: str) -> DamagedFile:
        """The same damage, with what this caller knows to do about it."""
        return DamagedFile(self.path, self.problem, remedy)


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

    def write_json(self, name: str, obj: Any) -> Path:
        """``obj`` as indented JSON (values JSON cannot hold, such as paths, as their str)."""
        return write_text(self.path / name, json.dumps(obj, indent=2, default=str) + "\n")

    def read_json(self, name: str, remedy: str = COPY_AGAIN) -> Any:
        """The JSON file ``name``, or None when there is none; ``DamagedFile`` (saying
        ``remedy``) when it is empty or not valid JSON."""
        file = self.path / name
        if not file.is_file():
            return None
        text = _read_text(file, remedy)
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            where = f"line {error.lineno}, column {error.colno}"
            raise DamagedFile(file, f"not valid JSON at {where}: {error.msg}", remedy) from None

    def read_summary(self, remedy: str = COPY_AGAIN) -> dict[str, Any] | None:
        """summary.json (a JSON object), or None when there is none; ``DamagedFile`` as ``read_json``."""
        summary = self.read_json(self.SUMMARY, remedy)
        if summary is not None and not isinstance(summary, dict):
            problem = f"a JSON {type(summary).__name__}, not the object trainlab writes"
            raise DamagedFile(self.path / self.SUMMARY, problem, remedy)
        return summary

    def write_csv(self, name: str, frame: Any, index: bool = False) -> Path:
        return write_csv(self.path / name, frame, index)

    def save_config(self, cfg: Any, overrides: list[str] | None = None, values: Any = None) -> Path:
        """config.yaml: the OmegaConf config with every interpolation resolved; with
        ``overrides``, overrides.yaml: the list it was composed from (as Hydra's
        .hydra/overrides.yaml, which a resume would overwrite). Each file's text is
        ``OmegaConf.to_yaml``'s (see ``config_yaml``). ``values``: ``cfg`` as plain values, where
        the caller has them (``trainlab.config.plain``)."""
        from omegaconf import OmegaConf

        if overrides is not None:
            listed = list(overrides)
            # OmegaConf.create keeps a string as it is (it parses, and may refuse, only an interpolation)
            if all(isinstance(o, str) and "${" not in o for o in listed):
                text = config_yaml(listed, lambda: OmegaConf.to_yaml(OmegaConf.create(listed)))
            else:
                text = OmegaConf.to_yaml(OmegaConf.create(listed))
            write_text(self.path / self.OVERRIDES, text)
        if values is None and OmegaConf.is_config(cfg):  # no enums in a trainlab config: enum_to_str changes nothing
            values = OmegaConf.to_container(cfg, resolve=True)
        return write_text(self.path / self.CONFIG, config_yaml(values, lambda: OmegaConf.to_yaml(cfg, resolve=True)))

    def read_overrides(self, remedy: str = COPY_AGAIN) -> list[str] | None:
        """overrides.yaml's list, or None when the run has none (a run from before it existed);
        ``DamagedFile`` (saying ``remedy``) when it is not a whole YAML list of strings."""
        from omegaconf import ListConfig

        path = self.path / self.OVERRIDES
        if not path.is_file():
            return None
        listed = _read_yaml(path, remedy)
        if not isinstance(listed, ListConfig) or not all(isinstance(o, str) for o in listed):
            raise DamagedFile(path, "not the list of overrides trainlab writes", remedy)
        return [str(o) for o in listed]

    def read_config(self, remedy: str = COPY_AGAIN) -> DictConfig | None:
        """config.yaml, or None when there is none; ``DamagedFile`` (saying ``remedy``) when it
        is not a whole YAML mapping."""
        from omegaconf import DictConfig

        path = self.path / self.CONFIG
        if not path.is_file():
            return None
        config = _read_yaml(path, remedy)
        if not isinstance(config, DictConfig) or not config:
            raise DamagedFile(path, "not the mapping of config sections trainlab writes", remedy)
        return config

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


def _read_text(file: Path, remedy: str) -> str:
    """``file``'s UTF-8 text; ``DamagedFile`` when it is empty or not UTF-8, ConfigError when
    the system cannot read it."""
    try:
        data = file.read_bytes()
    except OSError as error:
        raise ConfigError(f"{file} cannot be read: {error.strerror or error}") from None
    if not data:
        raise DamagedFile(file, "empty: 0 bytes", remedy)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        problem = f"not UTF-8 text: byte 0x{data[error.start]:02x} at offset {error.start}"
        raise DamagedFile(file, problem, remedy) from None


def _read_yaml(file: Path, remedy: str) -> Any:
    """``file`` parsed by OmegaConf; ``DamagedFile`` when it is not whole YAML. trainlab ends
    each YAML file with a line break: a file without one was cut short."""
    import io

    import yaml
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    text = _read_text(file, remedy)
    if not text.endswith("\n"):
        raise DamagedFile(file, "truncated: its last line is cut, without the line break trainlab ends it with", remedy)
    try:
        return OmegaConf.load(io.StringIO(text))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise DamagedFile(file, f"not valid YAML: {error.problem or error.context}{where}", remedy) from None
    except (yaml.YAMLError, OmegaConfBaseException, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DamagedFile(file, f"not valid YAML: {first}", remedy) from None
