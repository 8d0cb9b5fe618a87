"""Predictions from a finished run: a Kaggle-style submission CSV.

A run's best checkpoint holds everything needed (read with ``weights_only=True``:
tensors and plain data, never pickled code): the weights, the model spec, the fitted
preprocessing and the target's labels. ``Predictor.from_run`` reads the run's summary.json
(which names that checkpoint) and the checkpoint; nothing else of the run directory. A file
that is missing, damaged or not what trainlab writes is one ConfigError naming it.
"""

from __future__ import annotations

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
from trainlab.files.atomic import write_csv
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


def predict_file(run: str | Path, input: str | Path, output: str | Path, proba: bool = False) -> pd.DataFrame:
    """Read ``input`` (CSV), predict with the run's best weights, write ``output`` (CSV)."""
    predictor = Predictor.from_run(run)
    frame = read_table(input, key="input")
    result = predictor.predict(frame, proba=proba, source=str(input))
    write_csv(output, result)
    return result
