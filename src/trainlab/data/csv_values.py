"""A table's cells as values: text tidied, numbers read, and the numbers no float32 network can take refused.

Text cells are stripped of surrounding spaces. A text column whose cells are all numbers but
for placeholders (``?``, ``-``, ``N/A``, ``missing``, Excel's ``#N/A``, ``#DIV/0!`` ...) is a numeric column with
those cells missing; in a file not separated by commas, ``1,5`` reads as 1.5 when no cell of
the column uses a point. A column of numbers with a few cells that are neither (a typo) is
refused naming the line, and so are infinite values and numbers beyond float32's range
(±3.4e38): trainlab trains in float32, where they become inf and the loss NaN.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from trainlab.errors import ConfigError

PLACEHOLDERS = frozenset(
    {"?", "-", "--", ".", "na", "n/a", "nan", "null", "none", "missing", "#n/a", "#value!", "#div/0!", "#num!"}
)
FLOAT32_MAX = float(np.finfo(np.float32).max)
MOSTLY = 0.9  # a text column with at least this share of numbers is a numeric column with typos


def is_text(column: pd.Series) -> bool:
    """Whether ``column`` holds text (pandas' str or object dtype)."""
    return pd.api.types.is_string_dtype(column) or pd.api.types.is_object_dtype(column)


def at(lines: np.ndarray | None, row: int) -> str:
    """Where row ``row`` (0-based, of the table as read) is in its file: ``line 7``, or ``row 6`` without lines."""
    return f"line {int(lines[row])}" if lines is not None else f"row {row + 1}"


def suggest(name: str, names: Iterable[object]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``names`` to ``name``, or ``''``."""
    text = [str(n) for n in names]
    same = [n for n in text if n.strip().lower() == name.strip().lower()]
    close = same or difflib.get_close_matches(name, text, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _numbers(values: pd.Series, decimal_comma: bool) -> pd.Series:
    """``values`` (text, none missing) as numbers, NaN where a cell is no number."""
    parsed = pd.to_numeric(values, errors="coerce")
    if decimal_comma and parsed.isna().any() and not values.str.contains(".", regex=False).any():
        parsed = pd.to_numeric(values.str.replace(",", ".", regex=False), errors="coerce")
    return parsed.astype("float64")


def tidy(frame: pd.DataFrame, decimal_comma: bool) -> tuple[pd.DataFrame, list[str]]:
    """``frame`` with text stripped and numeric text columns as numbers (see the module doc), and notes
    saying which placeholders became missing values and where ``,`` was read as the decimal mark.
    Each distinct cell is looked at once."""
    notes = []
    for name in frame.columns:
        column = frame[name]
        if not is_text(column):
            continue
        codes, uniques = pd.factorize(column)
        text = pd.Series([_strip(v) for v in uniques], dtype="object")
        placeholder = text.str.lower().isin(PLACEHOLDERS).to_numpy()
        values = text[text.notna().to_numpy() & ~placeholder]
        parsed = _numbers(values, decimal_comma)
        if not parsed.isna().any() and (placeholder.any() or len(values)):
            numbers = np.full(len(text) + 1, np.nan)  # the last for code -1, a missing cell
            numbers[values.index] = parsed.to_numpy()
            frame[name] = pd.Series(numbers[codes], index=frame.index)
            spots = placeholder[codes] & (codes >= 0)
            notes += _number_notes(name, pd.Series(text.to_numpy()[codes[spots]]), values, decimal_comma)
        elif not text.equals(pd.Series(uniques, dtype="object")):
            stripped = np.append(text.to_numpy(), np.nan)
            frame[name] = pd.Series(stripped[codes], index=frame.index).astype(column.dtype)
    return frame, notes


def _strip(value: object) -> object:
    """A text cell without surrounding spaces; an empty one is missing."""
    if not isinstance(value, str):
        return value
    value = value.strip()
    return value or np.nan


def _number_notes(name: str, placeholders: pd.Series, values: pd.Series, decimal_comma: bool) -> list[str]:
    notes = []
    if len(placeholders):
        kinds = ", ".join(repr(p) for p in sorted(set(placeholders)))
        cells = f"{len(placeholders)} cell" + ("s" if len(placeholders) > 1 else "")
        notes.append(f"{kinds} read as missing in column {name!r} ({cells})")
    if decimal_comma and values.str.contains(",", regex=False).any():
        notes.append(f"',' read as the decimal mark in column {name!r}")
    return notes


def check_typos(
    frame: pd.DataFrame, columns: Sequence[str], file: str, lines: np.ndarray | None, decimal_comma: bool = False
) -> None:
    """Refuse a text column of ``columns`` that is mostly numbers (a typo among them), naming the first cell."""
    for name in columns:
        column = frame[name]
        if not is_text(column):
            continue
        values = column[column.notna() & ~column.str.lower().isin(PLACEHOLDERS)]
        parsed = _numbers(values, decimal_comma)
        if len(values) and parsed.notna().mean() >= MOSTLY:
            _refuse_text(name, values[parsed.isna()], file, lines, "holds numbers, and")


def _refuse_text(name: str, bad: pd.Series, file: str, lines: np.ndarray | None, what: str) -> None:
    row = frame_row(bad)
    more = f" ({len(bad)} cells hold no number)" if len(bad) > 1 else ""
    raise ConfigError(
        f"column {name!r} of {file} {what} {bad.iloc[0]!r} at {at(lines, row)}{more}: fix the value, or leave the "
        f"cell empty to read it as missing (placeholders such as '?' and 'N/A' are read as missing too)"
    )


def frame_row(cells: pd.Series) -> int:
    """The 0-based row of ``cells``' first cell (the table's index counts its rows)."""
    return int(cells.index[0])


def check_finite(
    frame: pd.DataFrame, columns: Sequence[str], file: str, lines: np.ndarray | None, droppable: bool = True
) -> None:
    """Refuse an infinite value, or one beyond float32's range, in a numeric column of ``columns``."""
    for name in columns:
        column = frame[name]
        if is_text(column) or pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
            continue
        x = column.to_numpy(dtype="float64", na_value=np.nan)
        bad = np.flatnonzero(np.isinf(x) | (np.abs(np.nan_to_num(x)) > FLOAT32_MAX))
        if len(bad):
            refuse_value(name, x[bad[0]], int(bad[0]), len(bad), file, lines, droppable)


def refuse_value(
    name: str, value: float, row: int, count: int, file: str, lines: np.ndarray | None, droppable: bool = True
) -> None:
    """ConfigError for ``value`` (infinite, or beyond float32's range) of column ``name`` at ``row``; with
    ``droppable`` (a training file) it offers data.drop."""
    what = "an infinite value (inf, or a number beyond 1.8e308)" if np.isinf(value) else f"{value:g}"
    more = f" ({count} such cells)" if count > 1 else ""
    todo = "replace it with a finite value, or leave the cell empty to read it as missing"
    if droppable:
        todo = (
            "replace it with a finite value, leave the cell empty to read it as missing, or add the column to data.drop"
        )
    raise ConfigError(
        f"column {name!r} of {file} holds {what} at {at(lines, row)}{more}: training in float32 takes numbers "
        f"up to ±3.4e38; {todo}"
    )
