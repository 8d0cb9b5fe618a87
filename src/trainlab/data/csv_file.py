"""``csv``: the user's own table, read with pandas, checked before anything trains."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from trainlab.data.dataset import RawData
from trainlab.errors import ConfigError

log = logging.getLogger(__name__)


def read_table(path: str | Path, key: str = "data.train") -> pd.DataFrame:
    """The CSV file at ``path`` as a DataFrame; ConfigError if it is missing, empty or unreadable."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"{key}={str(path)!r}: file not found")
    try:
        frame = pd.read_csv(file)
    except pd.errors.EmptyDataError:
        raise ConfigError(f"{key}={str(path)!r}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise ConfigError(f"{key}={str(path)!r}: not a readable CSV file ({error})") from None
    if frame.empty:
        raise ConfigError(f"{key}={str(path)!r}: the file has a header but no rows")
    return frame


def _check_column(frame: pd.DataFrame, column: str, key: str, path: str) -> None:
    if column not in frame.columns:
        raise ConfigError(
            f"{key}={column!r} is not a column of {path}; its columns: {', '.join(map(str, frame.columns))}"
        )


def check_ids(frame: pd.DataFrame, id_column: str | None, path: str, key: str = "data.id") -> None:
    """The id column must exist; duplicates are allowed but warned about."""
    if id_column is None:
        return
    _check_column(frame, id_column, key, path)
    duplicated = frame[id_column].duplicated()
    if duplicated.any():
        example = frame.loc[duplicated, id_column].iloc[0]
        example = example.item() if hasattr(example, "item") else example  # numpy scalar -> Python
        log.warning("id column %r of %s has %d duplicate values (e.g. %r)", id_column, path, duplicated.sum(), example)


def load(
    train: str | None = None,
    target: str | None = None,
    test: str | None = None,
    id: str | None = None,  # the config key users write: data.id=PassengerId
    task: str = "auto",
    drop: Sequence[str] = (),
) -> RawData:
    """The training table: every column but ``target``, ``id`` and ``drop`` is a feature.

    ``test`` is the file to predict after training (a Kaggle test.csv, without the
    target); it is checked by the trainer, not read here.
    """
    if not train:
        raise ConfigError("data.train is required for data=csv: data=csv data.train=path/train.csv data.target=COLUMN")
    if not target:
        raise ConfigError(f"data.target is required for data=csv: the column of {train} to predict")
    frame = read_table(train)
    _check_column(frame, target, "data.target", train)
    check_ids(frame, id, train)
    for column in drop:
        _check_column(frame, column, "data.drop", train)
    empty = [c for c in frame.columns if c not in (target, id, *drop) and frame[c].isna().all()]
    if empty:
        raise ConfigError(
            f"column {empty[0]!r} of {train} is entirely empty; remove it from the file or add it to "
            f"data.drop, e.g. data.drop=[{empty[0]}]"
        )
    labelled = frame[target].notna()
    if not labelled.all():
        log.warning("%d rows of %s have no %r value and are left out", (~labelled).sum(), train, target)
        frame = frame[labelled].reset_index(drop=True)
    features = frame.drop(columns=[c for c in (target, id, *drop) if c is not None])
    return RawData("csv", features, frame[target], task=task, source=train)
