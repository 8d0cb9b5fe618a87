"""The files users really have (issue 23): a corpus of unusual and malformed CSV files, each
driven through ``run()`` as ``python train.py data=csv ...`` would. Each either trains (and its
note says what reading it assumed: the encoding, the delimiter, the cells read as missing) or
stops before training with one ConfigError naming the file and the line or column, and what to
do; nothing is written for a refused file."""

from __future__ import annotations

import gzip
import io
import json
import logging
import zipfile
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest
import torch
from overrides import SILENT

from trainlab import run
from trainlab.config.composing import compose
from trainlab.errors import ConfigError
from trainlab.training import build

FAST = ["trainer.max_epochs=1", "pictures.enabled=false", *SILENT]
CITIES = ["Zürich", "Köln", "Malmö", "São Paulo"]


def students(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """id, lectures, hours, city (accented text) and result (pass/fail): row i is on line i + 2."""
    rng = np.random.default_rng(seed)
    lectures = rng.integers(0, 31, n)
    hours = rng.uniform(0, 40, n).round(1)
    passed = lectures / 30 + hours / 40 + rng.normal(0, 0.2, n) > 1
    return pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "lectures": lectures,
            "hours": hours,
            "city": rng.choice(CITIES, n),
            "result": np.where(passed, "pass", "fail"),
        }
    )


def text(frame: pd.DataFrame, sep: str = ",", decimal: str = ".", end: str = "\n", index: bool = False) -> str:
    return frame.to_csv(index=index, sep=sep, decimal=decimal, lineterminator=end)


def utf8(frame: pd.DataFrame, **kwargs) -> bytes:
    return text(frame, **kwargs).encode()


def with_cells(frame: pd.DataFrame, column: str, cells: dict[int, object]) -> pd.DataFrame:
    """``frame`` with ``column``'s rows set to ``cells`` (row -> value, the row on line row + 2)."""
    out = frame.copy()
    out[column] = out[column].astype(object)
    for row, value in cells.items():
        out.loc[row, column] = value
    return out


def lines(frame: pd.DataFrame, changes: dict[int, str]) -> bytes:
    """``frame``'s UTF-8 text with whole lines replaced (1-based line -> text)."""
    rows = text(frame).splitlines()
    for number, line in changes.items():
        rows[number - 1] = line
    return ("\n".join(rows) + "\n").encode()


def zipped(*members: str | bytes) -> bytes:
    """A zip archive of (name, content) pairs given flat: name, content, name, content ..."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in zip(members[::2], members[1::2], strict=True):
            archive.writestr(name, content)
    return buffer.getvalue()


def xlsx() -> bytes:
    return zipped("[Content_Types].xml", "<Types/>", "xl/workbook.xml", "<workbook/>")


BASE = students()
TEST = students(20, seed=1).drop(columns=["result"])


@dataclass
class Case:
    """A training file (``train``), maybe a file to predict (``test``), the overrides, and what must happen:
    ``refused`` (fragments of the one ConfigError) or else a run that trains, whose log holds ``notes``."""

    name: str
    train: bytes
    refused: list[str] | None = None
    notes: list[str] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)
    test: bytes | None = None
    target: str = "result"

    def __str__(self) -> str:
        return self.name


QUOTED = BASE.assign(note=[f'said "hi, {i % 4}"\nthen left' if i % 5 == 0 else "fine" for i in range(60)])

TRAINS = [
    Case("plain.csv", utf8(BASE)),
    Case("bom.csv", text(BASE).encode("utf-8-sig"), notes=["read as UTF-8 with a byte-order mark"]),
    Case(
        "windows.csv",
        text(BASE.assign(city=BASE.city.str.replace("Köln", "Köln €"))).encode("cp1252"),
        notes=["read as cp1252 (Windows-1252)", "re-save the file as UTF-8"],
    ),
    Case("excel_unicode.txt", text(BASE, sep="\t").encode("utf-16"), notes=["read as UTF-16", "tab-separated"]),
    Case(
        "utf16_no_bom.csv",
        text(BASE.assign(city="Bern")).encode("utf-16-le"),
        notes=["read as UTF-16 without a byte-order mark"],
    ),
    Case(
        "european.csv",
        utf8(BASE, sep=";", decimal=","),
        notes=["semicolon-separated", "',' read as the decimal mark in column 'hours'"],
    ),
    Case("tabs.tsv", utf8(BASE, sep="\t"), notes=["tab-separated"]),
    Case("pipes.csv", utf8(BASE, sep="|"), notes=["pipe-separated"]),
    Case("excel_sep_line.csv", b"sep=;\n" + utf8(BASE, sep=";"), notes=["semicolon-separated"]),
    Case("crlf.csv", utf8(BASE, end="\r\n")),
    Case("classic_mac.csv", utf8(BASE, end="\r")),
    Case("quoted_newlines.csv", utf8(QUOTED)),
    Case("blank_lines.csv", lines(BASE, {10: "", 20: "   "}) + b"\n\n \n"),
    Case(
        "trailing_commas.csv",
        utf8(BASE).replace(b"\n", b",\n"),
        notes=["column 6, without a name or a value, ignored"],
    ),
    Case(
        "rows_trailing_commas.csv",
        utf8(BASE).replace(b"\n", b",\n").replace(b"result,\n", b"result\n", 1),
        notes=["empty fields past the header's at the ends of lines ignored"],
    ),
    Case(
        "placeholders.csv",
        utf8(with_cells(BASE, "hours", {2: "?", 3: "N/A", 4: "", 5: "-", 6: " missing "})),
        notes=["'-', '?', 'missing' read as missing in column 'hours' (3 cells)"],
    ),
    Case("spaced.csv", utf8(BASE).replace(b",", b" , ").replace(b"result", b" result ")),
    Case("saved_index.csv", utf8(BASE, index=True), notes=["the first column, without a name, numbers the rows"]),
    Case("empty_rows.csv", lines(BASE, {5: ",,,,", 9: ",,,,"}), notes=["2 rows with no value ignored"]),
    Case(
        "duplicate_ids.csv",
        utf8(with_cells(BASE, "id", {7: 7})),
        notes=["id column 'id' of", "has 1 duplicate values (e.g. 7)"],
        overrides=["data.id=id"],
    ),
    Case("gzipped.csv.gz", gzip.compress(utf8(BASE))),
    Case("kaggle.csv.zip", zipped("train.csv", utf8(BASE))),
    Case("huge_but_finite.csv", utf8(with_cells(BASE, "hours", {3: 1e30}))),
    Case(
        "unlabelled_rows.csv",
        utf8(with_cells(BASE, "result", {3: None, 8: " "})),
        notes=["2 rows of", "have no 'result' value and are left out"],
    ),
    Case(
        "test_reordered.csv",
        utf8(BASE),
        test=utf8(TEST[["city", "hours", "id", "lectures"]].assign(extra=1)),
    ),
    Case("test_placeholders.csv", utf8(BASE), test=utf8(with_cells(TEST, "hours", {0: "?", 1: "n/a"}))),
    Case(
        "test_unseen_city.csv",
        utf8(BASE),
        test=utf8(TEST.assign(city=7)),
        notes=["column 'city' of", "20 of 20 values were not in the training data (e.g. '7')"],
    ),
]

LONG = students(120)
THREE = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [3, 1, 2], "y": ["x", "y", "z"]})
REFUSED = [
    Case("empty.csv", b"", refused=["data.train=", "empty.csv': the file is empty"]),
    Case("blank.csv", b"\n\n  \r\n", refused=["blank.csv': the file is empty"]),
    Case("bom_only.csv", b"\xef\xbb\xbf", refused=["bom_only.csv': the file is empty"]),
    Case("header_only.csv", b"id,lectures,hours,city,result\n\n", refused=["the file has a header but no rows"]),
    Case(
        "nul.csv",
        lines(BASE, {4: "3,12,3.5,K\x00ln,pass"}),
        refused=["nul.csv': line 4 holds a NUL byte", "export the data as CSV again"],
    ),
    Case(
        "mixed_encoding.csv",
        utf8(with_cells(BASE, "city", {7: "Genève"})).replace("Genève".encode(), "Genève".encode("cp1252")),
        refused=["mixed_encoding.csv': line 9 holds the byte 0xe8", "mixes two encodings; re-save it as UTF-8"],
    ),
    Case("workbook.xlsx", xlsx(), refused=["workbook.xlsx' is an Excel", "save the sheet as CSV UTF-8"]),
    Case(
        "truncated.csv.gz",
        gzip.compress(utf8(BASE))[:300],
        refused=["truncated.csv.gz': a damaged .gz file", "download or copy it again"],
    ),
    Case(
        "inf.csv",
        utf8(with_cells(BASE, "hours", {4: "inf", 9: "-Infinity"})),
        refused=["column 'hours' of", "inf.csv holds an infinite value", "at line 6 (2 such cells)", "data.drop"],
    ),
    Case(
        "overflow.csv",
        utf8(with_cells(BASE, "hours", {2: 5e38})),
        refused=["column 'hours' of", "holds 5e+38 at line 4: training in float32 takes numbers up to ±3.4e38"],
    ),
    Case(
        "inf_target.csv",
        utf8(with_cells(BASE.assign(score=BASE.hours * 2), "score", {11: "1e400"})),
        refused=["column 'score' of", "holds an infinite value", "at line 13"],
        target="score",
        overrides=["data.drop=[result]"],
    ),
    Case(
        "inf_after_quotes.csv",
        utf8(with_cells(QUOTED, "hours", {12: "inf"})),
        refused=["column 'hours' of", "at line 17"],  # rows 0, 5 and 10 take two lines each
    ),
    Case(
        "long_row.csv",
        lines(BASE, {7: "6,12,3,5,Köln,pass"}),
        refused=["long_row.csv': line 7 has 6 fields but the header (line 1) has 5", "enclosed in quotes"],
    ),
    Case(
        "short_row.csv",
        lines(BASE, {8: "7,12,Köln,pass"}),
        refused=["short_row.csv': line 8 has 4 fields but the header (line 1) has 5", "cut short"],
    ),
    Case(
        "open_quote.csv",
        lines(BASE, {6: '5,12,3.5,"Köln,pass'}),
        refused=["open_quote.csv': line 6 is not valid CSV", "a quoted value must end with a quote"],
    ),
    Case(
        "title_line.csv",
        b"Grades, spring term\n" + utf8(BASE),
        refused=["line 2 has 5 fields but the header (line 1) has 2", "if line 1 is a title above the header"],
    ),
    Case(
        "duplicate_columns.csv",
        utf8(BASE.assign(again=BASE.hours)).replace(b"again", b"hours"),
        refused=["columns 3 and 6 of the header (line 1) are both named 'hours'; rename one"],
    ),
    Case(
        "unnamed_column.csv",
        utf8(BASE).replace(b",hours,", b",,", 1),
        refused=["column 3 has no name in the header (line 1) but holds values", "at line 2"],
    ),
    Case(
        "all_dropped.csv",
        utf8(pd.DataFrame({"school": "ETH", "name": [f"student {i}" for i in range(120)], "result": LONG.result})),
        refused=[
            "no feature of",
            "all_dropped.csv is left to train on: column 'school' is constant on the 72 training rows",
            "column 'name' is text with 72 distinct values > data.max_categories=50 (an identifier or free text)",
        ],
    ),
    Case("only_target.csv", utf8(BASE[["result"]]), refused=["only_target.csv has no column to learn from"]),
    Case(
        "three_rows.csv",
        utf8(THREE),
        target="y",
        refused=["three_rows.csv has 3 labelled rows in 3 classes ('x': 1, 'y': 1, 'z': 1)", "1 training row(s)"],
    ),
    Case(
        "two_rows.csv",
        utf8(THREE.iloc[:2]),
        target="y",
        refused=["two_rows.csv has 2 labelled rows", "leaves no validation rows", "rows in the file"],
    ),
    Case(
        "empty_target.csv",
        utf8(BASE.assign(result="")),
        refused=["column 'result' of", "empty_target.csv (data.target) has no value in any row"],
    ),
    Case("one_class.csv", utf8(BASE.assign(result="pass")), refused=["has a single class ('pass')"]),
    Case(
        "typo_in_numbers.csv",
        utf8(with_cells(BASE, "hours", {7: "twelve", 8: "?"})),
        refused=["column 'hours' of", "holds numbers, and 'twelve' at line 9", "leave the cell empty"],
    ),
    Case(
        "misspelled_target.csv",
        utf8(BASE),
        target="Result",
        refused=["data.target='Result' is not a column of", "(did you mean 'result'?)"],
    ),
    Case(
        "test_missing_column.csv",
        utf8(BASE),
        test=utf8(TEST.rename(columns={"hours": "Hours"})),
        refused=["data.test=", "lacks column 'hours', which the model trains on (did you mean 'Hours'?)"],
    ),
    Case(
        "test_text_in_numbers.csv",
        utf8(BASE),
        test=utf8(with_cells(TEST, "hours", {2: "soon"})),
        refused=["column 'hours' of", "test.csv holds text ('soon' at line 4) where the training data has numbers"],
    ),
    Case(
        "test_inf.csv",
        utf8(BASE),
        test=utf8(with_cells(TEST, "lectures", {5: "inf"})),
        refused=["column 'lectures' of", "test.csv holds an infinite value", "at line 7"],
    ),
]


def test_the_corpus_is_the_size_the_readme_says():
    """README's Reliability section counts the corpus: keep the two in step."""
    assert len(TRAINS) == 27 and len(REFUSED) == 29


def overrides_for(case: Case, tmp_path) -> list[str]:
    train = tmp_path / case.name
    train.write_bytes(case.train)
    given = ["data=csv", f"data.train={train}", f"data.target={case.target}", *case.overrides, *FAST]
    if case.test is not None:
        (tmp_path / "test.csv").write_bytes(case.test)
        given.append(f"data.test={tmp_path / 'test.csv'}")
    return given


@pytest.mark.parametrize("case", REFUSED, ids=str)
def test_a_file_that_cannot_train_is_refused_before_training(case, tmp_path):
    with pytest.raises(ConfigError) as refusal:
        run(overrides_for(case, tmp_path), output_dir=tmp_path / "run")
    message = str(refusal.value)
    for fragment in case.refused:
        assert fragment in message, message
    assert "Traceback" not in message and "\n" not in message
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("case", TRAINS, ids=str)
def test_a_file_users_have_is_read_right_and_says_what_it_assumed(case, tmp_path, caplog):
    """What ``run()`` trains on, built as it builds it: every feature finite, the numbers read as numbers."""
    with caplog.at_level(logging.INFO, logger="trainlab"):
        cfg, _ = compose(overrides_for(case, tmp_path))
        data = build.datasets(cfg)[0]
        to_predict = build.submission_input(cfg, data)
    for note in case.notes:
        assert note in caplog.text, caplog.text
    assert data.class_names == ["fail", "pass"] and len(data.x_train) + len(data.x_val) + len(data.x_test) >= 57
    assert {"lectures", "hours"} <= {c.name for c in data.preprocessor.numeric}
    assert all(torch.isfinite(x).all() for x in (data.x_train, data.x_val, data.x_test))
    if case.test is not None:
        assert len(to_predict) == len(TEST)
        assert np.isfinite(data.preprocessor.transform(to_predict)).all()


# Trained end to end; each but quoted_newlines.csv holds the plain file's table, so trains to its metrics.
END_TO_END = ["windows.csv", "excel_unicode.txt", "european.csv", "quoted_newlines.csv", "test_placeholders.csv"]


@pytest.fixture(scope="module")
def plain_metrics(tmp_path_factory) -> dict[str, float]:
    folder = tmp_path_factory.mktemp("plain")
    return run(overrides_for(TRAINS[0], folder), output_dir=folder / "run").metrics


@pytest.mark.parametrize("case", [c for c in TRAINS if c.name in END_TO_END], ids=str)
def test_a_file_users_have_trains_as_the_plain_file_does(case, tmp_path, plain_metrics):
    result = run(overrides_for(case, tmp_path), output_dir=tmp_path / "run")
    assert np.isfinite(result.metrics["test/loss"]) and 0 <= result.metrics["test/acc"] <= 1
    if case.name != "quoted_newlines.csv":
        assert result.metrics == pytest.approx(plain_metrics, rel=1e-6)  # the same data, read from another form
    prep = json.loads((tmp_path / "run" / "preprocessing.json").read_text())
    assert prep["target"]["classes"] == ["fail", "pass"]
    if case.test is not None:
        assert len(pd.read_csv(result.submission)) == len(TEST)


def test_accented_text_is_read_as_written(tmp_path):
    """The UTF-8, cp1252, UTF-16 and semicolon files give the same cities and hours: no mojibake."""
    from trainlab.data.csv_file import read_csv

    for case in (TRAINS[0], TRAINS[2], TRAINS[3], TRAINS[5]):
        path = tmp_path / case.name
        path.write_bytes(case.train)
        frame = read_csv(path).frame
        assert sorted(set(frame.city.str.replace(" €", ""))) == sorted(CITIES), case.name
        pd.testing.assert_series_equal(frame.hours, BASE.hours, check_names=False)
