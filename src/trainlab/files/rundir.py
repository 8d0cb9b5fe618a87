"""A run directory: the name of every file a run writes, and its reads and writes.

Every file is written atomically (``trainlab.files.atomic``). Use::

    out = RunDir(run_dir)
    out.refuse_existing()                          # a new run: never another run's directory
    out.save_config(cfg)                           # config.yaml, resolved
    out.write_json(out.PREPROCESSING, prep)        # preprocessing.json
    out.write_csv(out.LR_FIND_CSV, frame)          # any CSV, without the index by default
    out.write_json(out.SUMMARY, summary)           # summary.json
    out.last_checkpoint, out.fold(2).path          # checkpoints/last.ckpt, fold_2/

Pictures are drawn by ``trainlab.pictures`` and written there with the same atomic write.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from trainlab.errors import ConfigError
from trainlab.files.atomic import TMP_SUFFIX, write_csv, write_text
from trainlab.files.config_text import config_yaml


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
