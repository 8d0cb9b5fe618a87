"""Predictions from a finished run: a Kaggle-style submission CSV.

A run's best checkpoint holds everything needed (read with ``weights_only=True``:
tensors and plain data, never pickled code): the weights, the model spec, the fitted
preprocessing and the target's labels. ``Predictor.from_run`` reads the run's summary.json
(which names that checkpoint) and the checkpoint; nothing else of the run directory. A file
that is missing, damaged or not what trainlab writes is one ConfigError naming it.

``predict_file`` never replaces a file silently: it records what it wrote beside the output
(``.submission.csv.trainlab.json``: the bytes' SHA-256, the run, the input) and replaces an
existing output only when that record says predict wrote it, unchanged since, or when asked
to (``overwrite``); any other file is refused, naming it, before any work.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from trainlab.data.csv_file import check_ids, read_table
from trainlab.data.preprocess import Preprocessor, TargetEncoder
from trainlab.errors import ConfigError
from trainlab.files.atomic import write_bytes, write_text
from trainlab.files.checkpoints import load_checkpoint
from trainlab.files.rundir import DamagedFile, RunDir
from trainlab.models import from_spec, logits_to_proba

# What to do about a run's damaged summary.json when predicting.
SUMMARY_REMEDY = (
    "predict reads which checkpoint holds the best weights from it: copy it again from where the run was made "
    "(or remove it: predict then reads checkpoints/best.ckpt)"
)


@dataclass
class Predictor:
    """A trained model with the transform that feeds it and the labels it predicts."""

    model: nn.Module
    preprocessor: Preprocessor
    target: TargetEncoder
    id_column: str | None = None

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> Predictor:
        """The predictor a trainlab checkpoint holds. ConfigError naming the file when it is
        missing, damaged, unsafe (``load_checkpoint``), or lacks what trainlab writes into it:
        the model spec, preprocessing and labels (its "trainlab" entry, JSON text) and weights
        that fit the spec."""
        checkpoint = load_checkpoint(path)
        extra = _trainlab_entry(checkpoint, Path(path))
        try:
            return cls._built(checkpoint, extra)
        except ConfigError:
            raise
        except KeyError as error:
            raise ConfigError(f"checkpoint {path} is incomplete: it lacks {error.args[0]!r}") from None
        except (TypeError, ValueError, AttributeError, RuntimeError) as error:
            why = _one_line(error)
            raise ConfigError(f"checkpoint {path} does not hold a model trainlab can rebuild: {why}") from None

    @classmethod
    def _built(cls, checkpoint: dict[str, Any], extra: dict[str, Any]) -> Predictor:
        """The predictor of a loaded checkpoint and its parsed "trainlab" entry (KeyError,
        TypeError, ValueError or RuntimeError where they do not hold what trainlab writes)."""
        model = from_spec(extra["model"])
        weights = {k.removeprefix("model."): v for k, v in checkpoint["state_dict"].items() if k.startswith("model.")}
        model.load_state_dict(weights)
        model.eval()
        prep = extra["preprocessing"]
        return cls(
            model, Preprocessor.from_dict(prep["features"]), TargetEncoder.from_dict(prep["target"]), extra.get("id")
        )

    @classmethod
    def from_run(cls, run_dir: str | Path) -> Predictor:
        """The predictor of a run directory's best checkpoint (the one its summary.json names,
        else checkpoints/best.ckpt)."""
        run = RunDir(run_dir)
        if not run.path.is_dir():
            raise ConfigError(f"run={str(run_dir)!r}: no such run directory")
        path = _best_checkpoint(run, run.read_summary(SUMMARY_REMEDY) or {})
        if not Path(path).is_file():
            raise ConfigError(f"run={str(run_dir)!r} has no best checkpoint (checkpoints/best.ckpt): did it finish?")
        return cls.from_checkpoint(path)

    @torch.no_grad()
    def predict(self, frame: pd.DataFrame, proba: bool = False, source: str = "the input") -> pd.DataFrame:
        """One row per row of ``frame``, in order: the id column, the predicted target
        (in the training file's labels) and, with ``proba``, one probability column per class."""
        lacking = self.preprocessor.lacking(frame, source, id_column=self.id_column)
        if lacking is not None:  # every absent column in one message, the id column too
            raise ConfigError(lacking)
        x = torch.from_numpy(self.preprocessor.transform(frame, source))
        output = self.model(x)
        out = pd.DataFrame()
        if self.id_column is not None:
            check_ids(frame, self.id_column, source, key="the id column")
            out[self.id_column] = frame[self.id_column].to_numpy()
        else:
            out["id"] = np.arange(len(frame))
        if self.target.task == "regression":
            if proba:
                raise ConfigError("proba=true needs a classification run; this run is a regression")
            out[self.target.name] = (output[:, 0] * self.target.std + self.target.mean).numpy()
            return out
        p = logits_to_proba(output)
        if p.shape[1] == 1:
            p = torch.cat([1 - p, p], dim=1)
        out[self.target.name] = self.target.decode(p.argmax(1).numpy())
        if proba:
            for i, label in enumerate(self.target.classes):
                out[f"proba_{label}"] = p[:, i].numpy()
        return out


def _best_checkpoint(run: RunDir, summary: dict[str, Any]) -> Path:
    """The best checkpoint of ``run``: the one its summary names, found in ``run`` itself when
    the directory was moved or copied (the summary names it where the run was made), else
    checkpoints/best.ckpt."""
    named, made_in = summary.get("best_checkpoint"), summary.get("run_dir")
    if isinstance(named, str) and isinstance(made_in, str):
        try:
            here = run.path / Path(named).relative_to(made_in)
        except ValueError:  # not below the run's directory
            here = None
        if here is not None and here.is_file():
            return here
    if isinstance(named, str) and Path(named).is_file() and not isinstance(made_in, str):
        return Path(named)
    return run.best_checkpoint


def _one_line(error: BaseException, limit: int = 200) -> str:
    """``error``'s message on one line, at most ``limit`` characters."""
    text = " ".join(line.strip() for line in str(error).splitlines() if line.strip()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _trainlab_entry(checkpoint: dict[str, Any], path: Path) -> dict[str, Any]:
    """The checkpoint's "trainlab" entry (JSON text: ``training.module.on_save_checkpoint``) as
    a dict with a model spec; ConfigError naming the file otherwise."""
    text = checkpoint.get("trainlab")
    if not isinstance(text, str):
        raise ConfigError(f"checkpoint {path} was not written by trainlab (it has no model spec)")
    try:
        extra = json.loads(text)
    except json.JSONDecodeError as error:
        raise DamagedFile(
            path, f"its trainlab entry, the model spec and preprocessing, is not valid JSON: {error.msg}"
        ) from None
    if not isinstance(extra, dict) or "model" not in extra:
        raise ConfigError(f"checkpoint {path} was not written by trainlab (it has no model spec)")
    return extra


def predict_file(
    run: str | Path, input: str | Path, output: str | Path, proba: bool = False, overwrite: bool = False
) -> pd.DataFrame:
    """Read ``input`` (CSV), predict with the run's best weights, write ``output`` (CSV).

    An existing ``output`` is replaced only when predict wrote it and it is unchanged since
    (``check_output``), or with ``overwrite``; else ConfigError, before any work."""
    check_output(output, input, overwrite)
    predictor = Predictor.from_run(run)
    frame = read_table(input, key="input")
    result = predictor.predict(frame, proba=proba, source=str(input))
    data = result.to_csv(index=False).encode("utf-8")
    write_bytes(output, data)
    record = {"written_by": "trainlab predict", "sha256": hashlib.sha256(data).hexdigest()}
    write_text(written_mark(output), json.dumps({**record, "run": str(run), "input": str(input)}, indent=1) + "\n")
    return result


def written_mark(output: str | Path) -> Path:
    """The hidden file beside ``output`` in which predict records what it wrote there (the
    SHA-256 of the bytes, the run, the input): ``.submission.csv.trainlab.json``."""
    path = Path(output)
    return path.with_name(f".{path.name}.trainlab.json")


def written_by_predict(output: str | Path) -> bool:
    """Whether ``output`` holds, byte for byte, what predict last wrote there (its mark says so)."""
    try:
        mark = json.loads(written_mark(output).read_text(encoding="utf-8"))
        data = Path(output).read_bytes()
    except (OSError, ValueError):
        return False
    return isinstance(mark, dict) and mark.get("sha256") == hashlib.sha256(data).hexdigest()


def check_output(output: str | Path, input: str | Path, overwrite: bool = False) -> bool:
    """Whether writing ``output`` replaces a file; ConfigError naming it, and what to do, where
    it must not: the input file itself, a directory, a folder that does not exist, or a file
    that predict did not write, or that was changed since (``written_by_predict``), unless
    ``overwrite``. A user's file is never replaced silently."""
    path = Path(output)
    named = f"output={str(output)!r}"
    if path.is_dir():
        raise ConfigError(f"{named} is a directory: name a file, e.g. output={path / 'submission.csv'}")
    if not path.parent.is_dir():
        raise ConfigError(f"{named}: there is no directory {path.parent}; create it, or choose another output=")
    if not path.exists():
        return False
    if Path(input).exists() and path.samefile(input):
        raise ConfigError(f"{named} is the input file: choose another output=")
    if overwrite or written_by_predict(path):
        return True
    why = "was changed since predict wrote it" if written_mark(path).exists() else "exists and predict did not write it"
    raise ConfigError(f"{named} {why}: choose another output=<file>, or add overwrite=true to replace it")
