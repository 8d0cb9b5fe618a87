"""Tabular preprocessing fitted on the training split, stored as plain data (JSON).

Numeric columns: missing values become the training median, with a 0/1 ``<col>_missing``
column when the training split had any; then x' = (x - mean) / std with training
statistics. Text/categorical columns: one-hot ``<col>=<value>`` over the training
split's values; a value unseen at fit time becomes all zeros; missing is its own
category (``<col>=<missing>``) when the training split had missing values. Constant
columns are dropped, and so are text columns with more than ``max_categories`` values
(names, ticket numbers...). Text is compared without its surrounding spaces. A cell of a
numeric column that is text (other than a placeholder such as ``?``, read as missing),
infinite or beyond float32 is refused: one ConfigError naming the column and the row.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trainlab.data.csv_values import FLOAT32_MAX, PLACEHOLDERS, at, check_finite, is_text, refuse_value, suggest
from trainlab.errors import ConfigError

log = logging.getLogger(__name__)
MISSING = "<missing>"
FORMAT_VERSION = 1


def is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


@dataclass
class NumericColumn:
    name: str
    median: float
    mean: float
    std: float
    indicator: bool


@dataclass
class CategoricalColumn:
    name: str
    categories: list[str]
    missing: bool


@dataclass
class Preprocessor:
    """Turns a DataFrame of raw feature columns into a float32 feature matrix."""

    numeric: list[NumericColumn] = field(default_factory=list)
    categorical: list[CategoricalColumn] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)

    @classmethod
    def fit(cls, frame: pd.DataFrame, max_categories: int = 50) -> Preprocessor:
        """Learn medians, means, stds and categories from ``frame`` (the training split)."""
        pre = cls()
        for name in frame.columns:
            column = frame[name]
            values = column.dropna()
            if values.nunique() <= 1:
                pre.dropped[name] = "constant" if len(values) else "empty"
                continue
            if is_numeric(column):
                x = column.astype("float64")
                median = float(x.median())
                filled = x.fillna(median)
                std = float(filled.std(ddof=0))
                pre.numeric.append(NumericColumn(name, median, float(filled.mean()), std or 1.0, bool(x.isna().any())))
            else:
                categories = sorted(values.astype(str).unique().tolist())
                if len(categories) > max_categories:
                    pre.dropped[name] = f"{len(categories)} distinct values > data.max_categories={max_categories}"
                    continue
                pre.categorical.append(CategoricalColumn(name, categories, bool(column.isna().any())))
        if pre.dropped:
            log.info("dropped columns: %s", ", ".join(f"{k} ({v})" for k, v in pre.dropped.items()))
        return pre

    @property
    def columns(self) -> list[str]:
        """The raw columns a frame must hold to be transformed."""
        return [c.name for c in self.numeric] + [c.name for c in self.categorical]

    @property
    def feature_names(self) -> list[str]:
        names = []
        for c in self.numeric:
            names += [c.name, f"{c.name}_missing"] if c.indicator else [c.name]
        for c in self.categorical:
            names += [f"{c.name}={v}" for v in c.categories] + ([f"{c.name}={MISSING}"] if c.missing else [])
        return names

    def dropped_words(self, rows: int) -> str:
        """Why each column was dropped, for a message: ``column 'a' is constant on the 40 training rows, ...``."""
        words = []
        for name, why in self.dropped.items():
            if why in ("constant", "empty"):
                words.append(f"column {name!r} is {why} on the {rows} training rows")
            else:  # "<n> distinct values > data.max_categories=<k>"
                words.append(f"column {name!r} is text with {why} (an identifier or free text)")
        return "; ".join(words)

    def check_numbers(self, frame: pd.DataFrame, source: str, lines: np.ndarray | None = None) -> None:
        """Refuse, naming the column and row, a numeric column's cell that is no number (text where
        training had numbers; placeholders such as '?' are missing values), infinite or beyond float32."""
        for c in self.numeric:
            raw = frame[c.name]
            if not is_text(raw):
                check_finite(frame, [c.name], source, lines, droppable=False)
                continue
            text = raw.astype("object").map(lambda v: v.strip().lower() if isinstance(v, str) else v)
            numbers = pd.to_numeric(raw, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            words = np.flatnonzero((raw.notna() & ~text.isin(PLACEHOLDERS)).to_numpy() & np.isnan(numbers))
            if len(words):
                raise ConfigError(
                    f"column {c.name!r} of {source} holds text ({raw.iloc[words[0]]!r} at {at(lines, int(words[0]))}) "
                    "where the training data has numbers: fix the value, or leave the cell empty to read it as missing"
                )
            huge = np.flatnonzero(np.isinf(numbers) | (np.abs(np.nan_to_num(numbers)) > FLOAT32_MAX))
            if len(huge):
                refuse_value(c.name, numbers[huge[0]], int(huge[0]), len(huge), source, lines, droppable=False)

    def lacking(
        self, frame: pd.DataFrame, source: str, verb: str = "was trained on", id_column: str | None = None
    ) -> str | None:
        """The one message for a ``frame`` (read from ``source``) that lacks columns the model reads,
        or None: every absent column, each with the closest name the frame has, the id column when
        it is absent too, the columns the run expects, and the frame's own."""
        absent = [c for c in self.columns if c not in frame.columns]
        if not absent:
            return None
        if len(absent) == 1:
            head = f"{source} lacks column {absent[0]!r}, which the model {verb}{suggest(absent[0], frame.columns)}"
        else:
            names = ", ".join(f"{c!r}{suggest(c, frame.columns)}" for c in absent)
            head = f"{source} lacks {len(absent)} columns, which the model {verb}: {names}"
        if id_column is not None and id_column not in frame.columns:
            head += f"; and the id column {id_column!r}"
        expected = [*([id_column] if id_column is not None else []), *self.columns]
        return f"{head}; the run expects the columns {_names(expected)}; its columns: {_names(frame.columns)}"

    def unseen(self, frame: pd.DataFrame) -> dict[str, tuple[int, str]]:
        """Per text column: (how many cells of ``frame`` hold a value training never saw, the first one)."""
        found = {}
        for c in self.categorical:
            raw = frame[c.name]
            new = raw[raw.notna() & ~raw.astype(str).str.strip().isin([v.strip() for v in c.categories])]
            if len(new):
                found[c.name] = (len(new), str(new.iloc[0]))
        return found

    def transform(self, frame: pd.DataFrame, source: str = "the input") -> np.ndarray:
        """The float32 feature matrix [rows, len(feature_names)] of ``frame``; ConfigError for a missing
        column, or a numeric column's cell that is no number, infinite or beyond float32 (``check_numbers``)."""
        lacking = self.lacking(frame, source)
        if lacking is not None:
            raise ConfigError(lacking)
        self.check_numbers(frame, source)
        parts = []
        for c in self.numeric:
            raw = frame[c.name]
            if not is_numeric(raw):
                raw = pd.to_numeric(raw, errors="coerce")
            x = raw.astype("float64")
            parts.append(((x.fillna(c.median) - c.mean) / c.std).to_numpy()[:, None])
            if c.indicator:
                parts.append(x.isna().to_numpy(dtype="float64")[:, None])
        for c in self.categorical:  # compared stripped: files are read stripped, runs trained before kept spaces
            raw = frame[c.name]
            text = raw.astype(str).str.strip().where(raw.notna(), MISSING)
            values = [*(v.strip() for v in c.categories), MISSING] if c.missing else [v.strip() for v in c.categories]
            parts.append((text.to_numpy()[:, None] == np.array(values, dtype=object)[None, :]).astype("float64"))
        if not parts:
            return np.zeros((len(frame), 0), dtype=np.float32)
        return np.concatenate(parts, axis=1).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"version": FORMAT_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessor:
        return cls(
            numeric=[NumericColumn(**c) for c in data["numeric"]],
            categorical=[CategoricalColumn(**c) for c in data["categorical"]],
            dropped=dict(data.get("dropped", {})),
        )


def _names(columns: Any, limit: int = 20) -> str:
    """``'a', 'b', ...``: at most ``limit`` column names, then how many in all."""
    names = [str(c) for c in columns]
    shown = ", ".join(map(repr, names[:limit]))
    return shown if len(names) <= limit else f"{shown}, ... ({len(names)} in all)"


@dataclass
class TargetEncoder:
    """The target column: class labels <-> indices 0..C-1, or real values for regression.

    ``classes`` keeps the original labels (numbers or strings) in sorted order, so that
    predictions come back as the labels the file used. A regression target is standardized,
    y' = (y - mean) / std with the training split's statistics (``scaled``), and predictions
    are mapped back to y's units.
    """

    name: str
    task: str
    classes: list[Any] | None = None
    mean: float = 0.0
    std: float = 1.0

    @classmethod
    def fit(cls, target: pd.Series, task: str) -> TargetEncoder:
        if task == "regression":
            return cls(str(target.name), task)
        values = target.dropna().unique().tolist()
        classes = sorted(_plain(v) for v in values)
        return cls(str(target.name), task, classes)

    def scaled(self, train_target: pd.Series) -> TargetEncoder:
        """This encoder with mean and std of ``train_target`` (regression only)."""
        if self.task != "regression":
            return self
        y = train_target.to_numpy(dtype=np.float64)
        return TargetEncoder(self.name, self.task, None, float(y.mean()), float(y.std()) or 1.0)

    def encode(self, target: pd.Series) -> np.ndarray:
        if self.task == "regression":
            return ((target.to_numpy(dtype=np.float64) - self.mean) / self.std).astype(np.float32)
        index = {label: i for i, label in enumerate(self.classes)}
        codes, labels = pd.factorize(target)  # each distinct label looked up once, not each row
        if (codes < 0).any():
            raise ValueError(f"target {self.name!r} has missing values: unlabelled rows are dropped before this")
        return np.array([index[_plain(v)] for v in labels], dtype=np.int64)[codes]

    def decode(self, indices: np.ndarray) -> list[Any]:
        assert self.classes is not None
        return [self.classes[i] for i in indices]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TargetEncoder:
        return cls(**data)


def _plain(value: Any) -> Any:
    """numpy scalars -> Python ones (JSON-able, comparable); integral floats -> int."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


MAX_CLASSES = 20


def infer_task(target: pd.Series, task: str = "auto", source: str = "the data") -> str:
    """binary / multiclass / regression from the target's values, unless ``task`` is set.

    Text or boolean labels, and whole numbers with at most 20 distinct values, are
    classes (2 -> binary); other numbers are regression.
    """
    name = target.name
    values = target.dropna()
    distinct = values.nunique()
    numeric = is_numeric(target)
    if task == "regression":
        if not numeric:
            example = values.iloc[0] if len(values) else None
            raise ConfigError(
                f"data.task=regression needs a numeric target; "
                f"column {name!r} of {source} holds text such as {example!r}"
            )
        return task
    if task == "auto":
        whole = numeric and bool(np.all(np.mod(values.to_numpy(dtype="float64"), 1) == 0))
        if numeric and not (whole and distinct <= MAX_CLASSES):
            return "regression"
        task = "binary" if distinct == 2 else "multiclass"
    if task not in ("binary", "multiclass"):
        raise ConfigError(f"data.task={task!r} is not allowed: auto, binary, multiclass or regression")
    if distinct < 2:
        only = values.iloc[0] if len(values) else None
        raise ConfigError(
            f"column {name!r} of {source} has a single class ({only!r}); a classification target needs two or more"
        )
    if task == "binary" and distinct != 2:
        raise ConfigError(f"data.task=binary but column {name!r} of {source} has {distinct} classes; use multiclass")
    return task
