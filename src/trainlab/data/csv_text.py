"""A CSV file's bytes as UTF-8 text: decompressed, its encoding detected, what no CSV text holds refused.

The encoding: a byte-order mark decides (UTF-8, UTF-16, UTF-32); else UTF-8 if every byte
decodes as UTF-8; else Windows-1252 (cp1252, what Excel on Western Windows writes), and
Latin-1 for the few bytes cp1252 leaves undefined. A file that is mostly UTF-8 with a byte
that is not, and a file holding a NUL byte, are refused naming the line: both are damaged
or not text, and guessing would train on garbled values. UTF-16 without a byte-order mark
is recognised by its zero bytes (ASCII text).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import re
import zipfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from trainlab.errors import ConfigError

UTF8 = "UTF-8"
_BOMS = (  # longest first: UTF-32 LE's mark starts with UTF-16 LE's
    (b"\xff\xfe\x00\x00", "utf-32-le", "UTF-32"),
    (b"\x00\x00\xfe\xff", "utf-32-be", "UTF-32"),
    (b"\xef\xbb\xbf", "utf-8", "UTF-8 with a byte-order mark"),
    (b"\xff\xfe", "utf-16-le", "UTF-16"),
    (b"\xfe\xff", "utf-16-be", "UTF-16"),
)
# A UTF-8 sequence of two or three bytes: text in cp1252 almost never holds one ("Ã©" is é in UTF-8).
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}")
_DECOMPRESS = {".gz": gzip.decompress, ".bz2": bz2.decompress, ".xz": lzma.decompress}


@dataclass(frozen=True)
class Text:
    """A file's content as UTF-8 bytes (no byte-order mark), and the encoding it was read in."""

    data: bytes
    encoding: str  # as a note words it: "UTF-8", "cp1252 (Windows-1252)", "UTF-16", ...
    guessed: bool = False  # a fallback, not UTF-8 or a byte-order mark's: the text may read wrong


def file_bytes(file: Path, where: str) -> bytes:
    """The file's bytes, decompressed by its suffix (.gz, .bz2, .xz, .zip of one file) as pandas does;
    ConfigError for a spreadsheet workbook or an archive that is not one CSV file."""
    try:
        raw = file.read_bytes()
    except OSError as error:
        raise ConfigError(f"{where}: the file cannot be read ({error.strerror or error})") from None
    suffix = file.suffix.lower()
    if suffix in (".zst", ".tar", ".7z", ".rar"):
        raise ConfigError(f"{where}: a {suffix} archive; extract the CSV file from it and name that")
    try:
        if suffix in _DECOMPRESS:
            return _DECOMPRESS[suffix](raw)
        if raw.startswith(b"PK\x03\x04"):
            return _zip_member(raw, where)
    except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile) as error:
        raise ConfigError(
            f"{where}: a damaged {suffix or 'compressed'} file ({error}); download or copy it again"
        ) from None
    if raw.startswith(b"\xd0\xcf\x11\xe0"):
        raise ConfigError(f"{where} is an Excel 97-2003 workbook (.xls), not a CSV file: save it as CSV UTF-8 in Excel")
    return raw


def _zip_member(raw: bytes, where: str) -> bytes:
    with zipfile.ZipFile(BytesIO(raw)) as archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
        if "[Content_Types].xml" in names or "mimetype" in names:  # .xlsx, .ods
            raise ConfigError(
                f"{where} is an Excel or OpenDocument workbook, not a CSV file: save the sheet as CSV UTF-8"
            )
        if len(names) != 1:
            raise ConfigError(f"{where} is a zip archive of {len(names)} files; unzip it and name the CSV file")
        return archive.read(names[0])


def decode(raw: bytes, where: str) -> Text:
    """``raw`` as UTF-8 text (see the module doc); ConfigError naming the line of a NUL byte or of
    a stray non-UTF-8 byte in a UTF-8 file."""
    for mark, codec, name in _BOMS:
        if raw.startswith(mark):
            return _checked(_strict(raw[len(mark) :], codec, name, where), name, where)
    codec = _utf16_without_bom(raw)
    if codec:
        return _checked(_strict(raw, codec, "UTF-16", where), "UTF-16 without a byte-order mark", where, guessed=True)
    try:
        return _checked(raw.decode("utf-8"), UTF8, where, utf8=raw)
    except UnicodeDecodeError as error:
        if _UTF8_SEQUENCE.search(raw):
            line = raw.count(b"\n", 0, error.start) + 1
            raise ConfigError(
                f"{where}: line {line} holds the byte 0x{raw[error.start]:02x}, which is not UTF-8, though the rest "
                "of the file "
                "is UTF-8: the file mixes two encodings; re-save it as UTF-8 (or fix that line)"
            ) from None
    try:
        return _checked(raw.decode("cp1252"), "cp1252 (Windows-1252)", where, guessed=True)
    except UnicodeDecodeError:  # 0x81, 0x8d, 0x8f, 0x90, 0x9d: undefined in cp1252
        return _checked(raw.decode("latin-1"), "Latin-1 (ISO-8859-1)", where, guessed=True)


def _strict(raw: bytes, codec: str, name: str, where: str) -> str:
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{where}: starts as {name} but byte {error.start} does not decode ({error.reason}); re-save it as UTF-8"
        ) from None


def _utf16_without_bom(raw: bytes) -> str | None:
    """utf-16-le or -be when every other byte is zero (ASCII text in UTF-16), else None."""
    sample = raw[:4096]
    if len(sample) < 4 or len(sample) % 2 or b"\x00" not in sample:
        return None
    even, odd = sample[0::2].count(0) / (len(sample) / 2), sample[1::2].count(0) / (len(sample) / 2)
    if odd > 0.9 and even < 0.1:
        return "utf-16-le"
    if even > 0.9 and odd < 0.1:
        return "utf-16-be"
    return None


def _checked(text: str, encoding: str, where: str, utf8: bytes | None = None, guessed: bool = False) -> Text:
    """``text`` as UTF-8 bytes (``utf8`` when the file already is), refused if it holds a NUL."""
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise ConfigError(
            f"{where}: line {line} holds a NUL byte (\\x00), which no CSV text holds: the file is damaged or "
            "not a CSV file (a spreadsheet, a database file); export the data as CSV again"
        )
    data = utf8 if utf8 is not None else text.encode("utf-8")
    if b"\n" not in data and b"\r" in data:  # classic Mac line ends: pandas reads them, the row scan too
        data = data.replace(b"\r", b"\n")
    return Text(data, encoding, guessed)
