"""``csv``: the user's own table, read as the file really is, checked before anything trains.

Reading (``read_csv``): the file's bytes are decompressed and decoded (``csv_text``: UTF-8, a
byte-order mark's encoding, else cp1252), its delimiter sniffed and every line's fields
counted (``csv_rows``), then pandas parses it and its cells are tidied (``csv_values``). What
was assumed (an encoding other than UTF-8, a delimiter other than the comma, placeholders read
as missing, columns or rows ignored) is logged as one note naming the file; what cannot be
read right is one ConfigError naming the file, the line or column, and what to do.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import numpy as np
import pandas as pd

from trainlab.data.csv_rows import NAMES, Layout, scan, sniff
from trainlab.data.csv_text import UTF8, Text, decode, file_bytes
from trainlab.data.csv_values import at, check_finite, check_typos, suggest, tidy
from trainlab.data.dataset import RawData
from trainlab.data.preprocess import Preprocessor
from trainlab.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass
class CsvTable:
    """A CSV file as read: its rows, the line each row starts on (``lines[i]``; None if pandas and the
    row scan disagreed), whether ``,`` may be the decimal mark, and the notes on what was assumed."""

    frame: pd.DataFrame
    file: str
    lines: np.ndarray | None
    decimal_comma: bool = False
    notes: list[str] = field(default_factory=list)

    def at(self, row: int) -> str:
        """``line 7``: where row ``row`` (0-based) of ``frame`` is in the file."""
        return at(self.lines, row)


def read_csv(path: str | Path, key: str = "data.train") -> CsvTable:
    """The CSV file at ``path`` (the config key ``key`` names it); ConfigError if it is missing, empty,
    or cannot be read as it is (see the module doc). Its notes are logged (a warning when the
    encoding was guessed)."""
    file = Path(path)
    where = f"{key}={str(path)!r}"
    if not file.is_file():
        raise ConfigError(f"{where}: file not found")
    text = decode(file_bytes(file, where), where)
    if not text.data or text.data.isspace():
        raise ConfigError(f"{where}: the file is empty")
    delimiter, skip = sniff(text.data)
    layout = scan(text.data, delimiter, skip, where)
    table = _clean(_parse(text.data, layout, where), layout, str(path), where)
    if table.frame.empty:
        raise ConfigError(f"{where}: the file has a header but no rows")
    _log_notes(table, text, layout, where)
    return table


def read_table(path: str | Path, key: str = "data.train") -> pd.DataFrame:
    """The rows of the CSV file at ``path`` as a DataFrame (``read_csv``)."""
    return read_csv(path, key).frame


def _parse(data: bytes, layout: Layout, where: str) -> pd.DataFrame:
    """pandas' reading of the scanned text, the header's names stripped."""
    with warnings.catch_warnings():  # empty fields past the header's, which the scan allowed, are dropped
        warnings.simplefilter("ignore", pd.errors.ParserWarning)
        try:
            frame = pd.read_csv(
                BytesIO(data), sep=layout.delimiter, index_col=False, skiprows=layout.skip, encoding="utf-8"
            )
        except pd.errors.EmptyDataError:
            raise ConfigError(f"{where}: the file is empty") from None
        except pd.errors.ParserError as error:
            raise ConfigError(f"{where}: not a readable CSV file ({error})") from None
    if len(frame.columns) == len(layout.names):
        frame.columns = layout.names
    return frame


def _clean(frame: pd.DataFrame, layout: Layout, file: str, where: str) -> CsvTable:
    """Unnamed and empty columns, rows of empty cells, and cells (``tidy``) seen to; see ``read_csv``."""
    lines = layout.lines if len(layout.lines) == len(frame) else None
    table = CsvTable(frame, file, lines, decimal_comma=layout.delimiter != ",")
    _unnamed_columns(table, where, layout.header_line)
    empty = table.frame.isna().all(axis=1).to_numpy()
    if empty.any():
        table.notes.append(f"{int(empty.sum())} rows with no value ignored")
        table.frame = table.frame[~empty].reset_index(drop=True)
        table.lines = None if table.lines is None else table.lines[~empty]
    table.frame, notes = tidy(table.frame, table.decimal_comma)
    table.notes += notes
    return table


def _unnamed_columns(table: CsvTable, where: str, header_line: int) -> None:
    """Drop a column the header leaves unnamed when it is empty (a delimiter ending each line) or the first
    column counting the rows (a saved pandas index, also when named 'Unnamed: 0'); refuse one that holds values."""
    frame, keep = table.frame, []
    for position, name in enumerate(frame.columns):
        column = frame.iloc[:, position]
        if position == 0 and name in ("", "Unnamed: 0") and _counts_rows(column):
            table.notes.append("the first column, without a name, numbers the rows (a saved index): ignored")
        elif name != "":
            keep.append(position)
        elif column.isna().all():
            table.notes.append(f"column {position + 1}, without a name or a value, ignored")
        else:
            row = int(np.flatnonzero(column.notna().to_numpy())[0])
            value = column.iloc[row]
            value = value.item() if hasattr(value, "item") else value  # numpy scalar -> Python
            raise ConfigError(
                f"{where}: column {position + 1} has no name in the header (line {header_line}) but holds values "
                f"({value!r} at {table.at(row)}): name it in the header, or delete the column"
            )
    if len(keep) < len(frame.columns):
        table.frame = frame.iloc[:, keep]


def _counts_rows(column: pd.Series) -> bool:
    if not pd.api.types.is_integer_dtype(column):
        return False
    values = column.to_numpy()
    return bool((values == np.arange(len(values))).all() or (values == np.arange(1, len(values) + 1)).all())


def _log_notes(table: CsvTable, text: Text, layout: Layout, where: str) -> None:
    """One log line saying what reading ``where`` assumed; a warning when its encoding was a guess."""
    said = []
    if text.encoding != UTF8:
        said.append(f"read as {text.encoding}")
    if layout.delimiter != "," or layout.skip:
        said.append(f"{NAMES[layout.delimiter]}-separated")
    if layout.trailing:
        said.append("empty fields past the header's at the ends of lines ignored")
    said += table.notes
    if said:
        level = logging.WARNING if text.guessed else logging.INFO
        hint = "; if the text looks wrong, re-save the file as UTF-8" if text.guessed else ""
        log.log(level, "%s: %s%s", where, "; ".join(said), hint)


def _check_column(frame: pd.DataFrame, column: str, key: str, path: str) -> None:
    if column not in frame.columns:
        raise ConfigError(
            f"{key}={column!r} is not a column of {path}{suggest(column, frame.columns)}; "
            f"its columns: {', '.join(map(str, frame.columns))}"
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


def read_to_predict(
    path: str, preprocessor: Preprocessor, id_column: str | None, key: str = "data.test"
) -> pd.DataFrame:
    """The file to predict (``data.test``), checked before training: every column the model reads (with
    numbers where it trains on numbers, none infinite) and the id column; values of a text column that
    training never saw are warned about (they are encoded as all zeros)."""
    table = read_csv(path, key=key)
    frame = table.frame
    lacking = preprocessor.lacking(frame, f"{key}={path!r}", "trains on", id_column)
    if lacking is not None:
        raise ConfigError(lacking)
    check_ids(frame, id_column, path)
    preprocessor.check_numbers(frame, path, table.lines)
    for name, (count, example) in preprocessor.unseen(frame).items():
        log.warning(
            "column %r of %s: %d of %d values were not in the training data (e.g. %r); they are encoded as no "
            "known category (all zeros)",
            name,
            path,
            count,
            len(frame),
            example,
        )
    return frame


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
    target); it is checked by the trainer (``read_to_predict``), not read here. ConfigError, before
    training, for a file that cannot be read as it is (``read_csv``), a column that is not there, no
    feature column, an entirely empty column, a column of numbers with a cell that is none, and an
    infinite value or one beyond float32 in a feature or the target.
    """
    if not train:
        raise ConfigError("data.train is required for data=csv: data=csv data.train=path/train.csv data.target=COLUMN")
    if not target:
        raise ConfigError(f"data.target is required for data=csv: the column of {train} to predict")
    table = read_csv(train)
    frame = table.frame
    _check_column(frame, target, "data.target", train)
    check_ids(frame, id, train)
    for column in drop:
        _check_column(frame, column, "data.drop", train)
    features = [c for c in frame.columns if c not in (target, id, *drop)]
    _check_features(frame, features, target, train)
    check_typos(frame, [*features, target], train, table.lines, table.decimal_comma)
    check_finite(frame, [*features, target], train, table.lines)
    labelled = frame[target].notna()
    if not labelled.any():
        raise ConfigError(f"column {target!r} of {train} (data.target) has no value in any row: nothing to learn")
    if not labelled.all():
        log.warning("%d rows of %s have no %r value and are left out", (~labelled).sum(), train, target)
        frame = frame[labelled].reset_index(drop=True)
    return RawData("csv", frame[features], frame[target], task=task, source=train)


def _check_features(frame: pd.DataFrame, features: list[str], target: str, train: str) -> None:
    if not features:
        raise ConfigError(
            f"{train} has no column to learn from: its columns ({', '.join(map(str, frame.columns))}) are all "
            "data.target, data.id or data.drop; add feature columns to the file"
        )
    empty = [c for c in features if frame[c].isna().all()]
    if empty:
        raise ConfigError(
            f"column {empty[0]!r} of {train} is entirely empty; remove it from the file or add it to "
            f"data.drop, e.g. data.drop=[{empty[0]}]"
        )
