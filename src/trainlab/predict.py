"""Predictions from a finished run: a Kaggle-style submission CSV.

A run's best checkpoint holds everything needed (read with ``weights_only=True``:
tensors and plain data, never pickled code): the weights, the model spec, the fitted
preprocessing and the target's labels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from trainlab.data.csv_file import check_ids, read_table
from trainlab.data.preprocess import Preprocessor, TargetEncoder
from trainlab.errors import ConfigError
from trainlab.files.atomic import write_csv
from trainlab.files.checkpoints import load_checkpoint
from trainlab.files.rundir import RunDir
from trainlab.models import from_spec, logits_to_proba


@dataclass
class Predictor:
    """A trained model with the transform that feeds it and the labels it predicts."""

    model: nn.Module
    preprocessor: Preprocessor
    target: TargetEncoder
    id_column: str | None = None

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> Predictor:
        checkpoint = load_checkpoint(path)
        extra = checkpoint.get("trainlab")  # JSON text (module.on_save_checkpoint)
        extra = json.loads(extra) if isinstance(extra, str) else None
        if not isinstance(extra, dict) or "model" not in extra:
            raise ConfigError(f"checkpoint {path} was not written by trainlab (it has no model spec)")
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
        """The predictor of a run directory's best checkpoint."""
        run = RunDir(run_dir)
        if not run.path.is_dir():
            raise ConfigError(f"run={str(run_dir)!r}: no such run directory")
        path = (run.read_json(run.SUMMARY) or {}).get("best_checkpoint")
        if not path or not Path(path).is_file():
            path = run.best_checkpoint
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


def predict_file(run: str | Path, input: str | Path, output: str | Path, proba: bool = False) -> pd.DataFrame:
    """Read ``input`` (CSV), predict with the run's best weights, write ``output`` (CSV)."""
    predictor = Predictor.from_run(run)
    frame = read_table(input, key="input")
    result = predictor.predict(frame, proba=proba, source=str(input))
    write_csv(output, result)
    return result
