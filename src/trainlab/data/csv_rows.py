"""A CSV text's shape before pandas reads it: its delimiter, its header, and each row's line.

The delimiter is sniffed from the first 64 KiB: of ``,`` ``;`` tab ``|``, the one that splits
the header into the most names while the rows below it have as many fields (a first line
``sep=;``, as Excel writes it, decides instead). Then every line is counted: a row with fewer
fields than the header (cut short), or more that are not empty (a value holding the delimiter
without quotes), is refused naming its line, where pandas would fill or drop fields without a
word. Empty fields past the header's (a delimiter at the end of each line) are ignored.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np

from trainlab.errors import ConfigError

DELIMITERS = ",;\t|"
NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_SAMPLE = 1 << 16


@dataclass(frozen=True)
class Layout:
    """What the row scan found: the delimiter, the header's names (stripped), the line the header
    is on, the line each data row starts on (1-based; blank lines are no rows), and whether rows
    carry empty fields past the header's."""

    delimiter: str
    names: list[str]
    header_line: int
    lines: np.ndarray
    trailing: bool
    skip: int = 0  # lines before the header pandas skips (a ``sep=`` line)


def sniff(data: bytes) -> tuple[str, int]:
    """(the delimiter, 1 if the first line is Excel's ``sep=X`` hint else 0); see the module doc."""
    first = data[: data.find(b"\n") if b"\n" in data else len(data)].rstrip(b"\r").decode("utf-8", "replace")
    if first.lower().startswith("sep=") and len(first) == 5:
        return first[4], 1
    sample = data[:_SAMPLE]
    if len(data) > _SAMPLE and b"\n" in sample:
        sample = sample[: sample.rfind(b"\n")]
    text = sample.decode("utf-8", "replace")
    scores = {d: _score(text, d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: scores[d])  # max keeps the first of equals: comma wins ties
    return (best if scores[best][0] else ","), 0


def _score(text: str, delimiter: str) -> tuple[bool, float, int]:
    """(the header splits, the share of rows with the header's field count, the header's field count)."""
    try:
        rows = [row for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter) if row]
    except csv.Error:
        return False, 0.0, 0
    if not rows:
        return False, 0.0, 0
    width = len(rows[0])
    body = rows[1:-1] if len(rows) > 2 else rows[1:]  # the sample's last row may be cut
    same = sum(len(row) == width or not any(row[width:]) for row in body) / len(body) if body else 1.0
    return width > 1, same, width


@dataclass(frozen=True)
class _Records:
    """The non-blank records after the skipped lines, the header first: their field counts, the line each
    starts on, whether each holds a value in a field past the header's, and the header's fields."""

    counts: np.ndarray
    lines: np.ndarray
    overfull: np.ndarray
    header: list[str]


def scan(data: bytes, delimiter: str, skip: int, where: str) -> Layout:
    """Each row's field count and line; ConfigError naming the first line whose fields do not fit the header,
    or a header that names a column twice."""
    records = _quoted(data, delimiter, skip, where) if b'"' in data else _plain(data, delimiter, skip)
    if len(records.counts) == 0:
        raise ConfigError(f"{where}: the file is empty")
    names = [name.strip() for name in records.header]
    header_line = int(records.lines[0])
    _check_widths(records, delimiter, where)
    _check_names(names, where, header_line)
    trailing = bool((records.counts[1:] > records.counts[0]).any())
    return Layout(delimiter, names, header_line, records.lines[1:], trailing, skip)


def _quoted(data: bytes, delimiter: str, skip: int, where: str) -> _Records:
    """The records as the csv module splits them (quotes hold delimiters and line ends); blank lines left out."""
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=delimiter, strict=True)
    counts, lines, overfull, header, line = [], [], [], None, 0
    try:
        for row in reader:
            start, line = line + 1, reader.line_num
            if start <= skip or not (len(row) > 1 or any(field.strip(" \t") for field in row)):
                continue
            header = row if header is None else header
            counts.append(len(row))
            lines.append(start)
            overfull.append(any(field.strip(" \t\r") for field in row[len(header) :]))
    except csv.Error as error:
        raise ConfigError(
            f"{where}: line {line + 1} is not valid CSV ({error}): a quoted value must end with a quote, and a "
            'quote inside it is written twice (""); fix the line'
        ) from None
    return _Records(np.array(counts, np.int64), np.array(lines, np.int64), np.array(overfull, bool), header or [])


def _plain(data: bytes, delimiter: str, skip: int) -> _Records:
    """The records of a file without quotes: its non-blank lines, their delimiters counted by numpy."""
    text = np.frombuffer(data, np.uint8)
    ends = np.flatnonzero(text == 10)
    if data[-1:] != b"\n":
        ends = np.append(ends, len(data))
    starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64)
    at = np.flatnonzero(text == ord(delimiter))
    counts = np.searchsorted(at, ends) - np.searchsorted(at, starts) + 1
    keep = counts > 1  # a line with a delimiter is a row (of empty fields, maybe); one without may be blank
    for i in np.flatnonzero(~keep):
        keep[i] = bool(data[starts[i] : ends[i]].strip(b" \t\r"))
    keep[:skip] = False
    counts, starts, ends, lines = counts[keep], starts[keep], ends[keep], np.flatnonzero(keep) + 1
    if len(counts) == 0:
        return _Records(counts, lines, np.zeros(0, bool), [])

    def fields(i: int) -> list[str]:
        return data[starts[i] : ends[i]].decode("utf-8").rstrip("\r").split(delimiter)

    width = counts[0]
    overfull = np.zeros(len(counts), bool)
    for i in np.flatnonzero(counts > width):
        overfull[i] = any(field.strip(" \t") for field in fields(i)[width:])
    return _Records(counts, lines, overfull, fields(0))


def _check_widths(records: _Records, delimiter: str, where: str) -> None:
    """Refuse the first row with fewer fields than the header, or more that are not empty."""
    counts, width, header_line = records.counts[1:], int(records.counts[0]), int(records.lines[0])
    bad = np.flatnonzero((counts < width) | records.overfull[1:])
    if not len(bad):
        return
    line, n, name = int(records.lines[1 + bad[0]]), int(counts[bad[0]]), NAMES[delimiter]
    if n < width:
        raise ConfigError(
            f"{where}: line {line} has {n} fields but the header (line {header_line}) has {width}: the line is cut "
            f"short or lost a {name}; fix it (an empty value still needs its {name}: 1{delimiter}{delimiter}3)"
        )
    title = (counts > width).mean() > 0.5  # most rows longer: the first line may be no header at all
    hint = f" (if line {header_line} is a title above the header, delete it)" if title else ""
    raise ConfigError(
        f"{where}: line {line} has {n} fields but the header (line {header_line}) has {width}: a value that holds "
        f'a {name} must be enclosed in quotes ("a{delimiter} b"); fix the line{hint}'
    )


def _check_names(names: list[str], where: str, line: int) -> None:
    """Refuse a name the header holds twice (pandas would rename the second 'name.1' without a word)."""
    seen: dict[str, int] = {}
    for position, name in enumerate(names, 1):
        if name and name in seen:
            raise ConfigError(
                f"{where}: columns {seen[name]} and {position} of the header (line {line}) are both named "
                f"{name!r}; rename one of them"
            )
        seen.setdefault(name, position)
