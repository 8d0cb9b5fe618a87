"""The sweep summary: after each job of a multirun (``python train.py -m ...``), one table of
every job so far, in the sweep dir as summary.csv and summary.md; printed when the sweep ends,
with sweep.png (the monitored metric against each swept value, also in TensorBoard).

Each job's row comes from its own directory: ``.hydra/overrides.yaml`` (what the job
changed) and ``summary.json`` (status, best epoch, metrics). A job that left no summary
failed. Rows are sorted by the monitored metric (best first, as ``mode`` says); jobs
without it (failed, diverged early) come last, in job order. The terminal's table
(``sweep_lines``) is laid out to the terminal's width (80 columns in a pipe) without cutting or
splitting a word: the overrides every job shares once above it, a column per differing key
where that fits, else each job's differing overrides on a line under its row.

A job that fails (on what only its data shows, or on anything it did not foresee: a full disk,
memory, a bug) is one line on stderr, ``error: job <n>: <why>``, and a row with status failed
and the error (``fail_job``); the other jobs go on. A grid sweep in which a job failed ends,
after its tables, with one line naming them and exit code ``EXIT_JOBS_FAILED``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shlex
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from trainlab.config.launch import SWEEP_DIR_ENV
from trainlab.errors import WriteFailed
from trainlab.files.atomic import write_csv, write_text
from trainlab.files.rundir import RunDir
from trainlab.search.results import best_lines, read_trial

FIXED = ["job", "overrides", "status", "best_epoch", "epochs"]
TABLES_LOCK = ".tables.lock"  # in the sweep dir: one process rewrites the tables at a time
EXIT_JOBS_FAILED = 1  # a grid sweep ran to its end, and some of its jobs failed (summary.csv says why)
LABEL = 15  # the label column of the lines around the terminal's table: "summary        <path>"
GAP = "  "  # between two columns of the terminal's table
EXIT_WRITE = 4  # the sweep's tables could not be written (as a run's file: cli.main.EXIT_WRITE)
# yaml.safe_load's loader on libyaml's parser where PyYAML has it: the same constructors build
# the values, in a tenth of the time (most of the time job_rows takes for a 1000-job sweep).
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def job_rows(sweep_dir: Path, unfinished: str = "failed") -> list[dict[str, Any]]:
    """One dict per job directory of ``sweep_dir``: those holding Hydra's
    ``.hydra/overrides.yaml``, or else a run's own overrides.yaml (``run_sweep``'s jobs). A job
    without summary.json has the status ``unfinished``: failed once the sweep is over, running
    while it goes on (a parallel launcher's other jobs)."""
    rows = []
    for job_dir in sorted(p for p in sweep_dir.iterdir() if p.is_dir()):
        job = RunDir(job_dir)
        overrides_file = next(
            (f for f in (job / ".hydra" / "overrides.yaml", job / job.OVERRIDES) if f.is_file()), None
        )
        if overrides_file is None:
            continue
        overrides = yaml.load(overrides_file.read_text(), Loader=_SAFE_LOADER) or []
        summary = job.read_json(job.SUMMARY) or {"status": unfinished}
        row: dict[str, Any] = {
            "job": job.path.name,
            "overrides": " ".join(overrides),
            "status": summary.get("status", "failed"),
            "best_epoch": summary.get("best_epoch"),
            "epochs": summary.get("epochs"),
            "monitor": summary.get("monitor"),
            "mode": summary.get("mode", "min"),
        }
        row |= summary.get("metrics", {})
        trial = read_trial(job.path)  # a search's job (hydra/sweeper=optuna): its trial's state
        if trial is not None:
            row |= {"trial": trial["trial"], "state": trial["state"]}
        if summary.get("error"):
            row["error"] = summary["error"]
        if summary.get("pictures_later"):  # not among its stack's best: drawn on request (not a column)
            row["pictures_later"] = True
        rows.append(row)
    return sort_rows(rows)


def _job_number(row: dict[str, Any]) -> tuple[int, str]:
    name = str(row["job"])
    return (int(name), name) if name.isdigit() else (1 << 30, name)


def sort_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Best monitored value first (smallest for mode min, largest for max); rows without a
    finite value last, by job number."""

    def key(row: dict[str, Any]) -> tuple[int, float, tuple[int, str]]:
        value = row.get(row.get("monitor") or "")
        if not isinstance(value, int | float) or not math.isfinite(value):
            return (1, 0.0, _job_number(row))
        return (0, value if row["mode"] == "min" else -value, _job_number(row))

    return sorted(rows, key=key)


def _monitors(rows: list[dict[str, Any]]) -> list[str]:
    """The monitored metrics the jobs name, in job order, once each."""
    return [m for m in dict.fromkeys(r.get("monitor") for r in rows) if m]


def columns(rows: list[dict[str, Any]]) -> list[str]:
    """The fixed columns, the monitored metric, then every val/ and test/ metric, then error."""
    monitors = _monitors(rows)
    metrics = sorted({k for r in rows for k in r if k.startswith(("val/", "test/"))} - set(monitors))
    error = ["error"] if any("error" in r for r in rows) else []
    search = ["trial", "state"] if any("state" in r for r in rows) else []
    return [*FIXED, *search, *monitors, *metrics, *error]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def write_tables(sweep_dir: Path, rows: list[dict[str, Any]]) -> tuple[Path, Path]:
    """summary.csv (full precision) and summary.md (4 decimals) in ``sweep_dir``."""
    import pandas as pd

    cols = columns(rows)
    frame = pd.DataFrame([{c: r.get(c) for c in cols} for r in rows], columns=cols)
    csv_path = write_csv(sweep_dir / "summary.csv", frame)
    escape = str.maketrans({"|": "\\|", "\n": " "})
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_cell(r.get(c)).translate(escape) for c in cols) + " |" for r in rows]
    md_path = write_text(sweep_dir / "summary.md", f"# Sweep {sweep_dir}\n\n" + "\n".join(lines) + "\n")
    return csv_path, md_path


@dataclass
class _Column:
    """One column of the sweep's table: its header, one cell per job, and which side it keeps to."""

    header: str
    cells: list[str]
    right: bool = False

    @cached_property
    def width(self) -> int:
        return max(cell_len(text) for text in [self.header, *self.cells])

    def pad(self, text: str) -> str:
        space = " " * (self.width - cell_len(text))
        return space + text if self.right else text + space


def print_table(
    sweep_dir: Path, rows: list[dict[str, Any]], console: Console | None = None, picture: Path | None = None
) -> None:
    """The sweep's jobs as a table on ``console`` (``sweep_lines`` at its width), then where
    its files are. A quiet console (``run_sweep(verbose=False)``) shows nothing, so nothing is
    laid out for it."""
    console = console or Console(soft_wrap=True)
    if console.quiet:
        return
    lines = sweep_lines(sweep_dir, rows, console.width, picture)
    console.print(Text("\n").join(lines), soft_wrap=True)  # laid out to the width already: Rich folds nothing


def sweep_lines(
    sweep_dir: Path, rows: list[dict[str, Any]], width: int = 80, picture: Path | None = None
) -> list[Text]:
    """What the end of a sweep shows, as lines of at most ``width`` cells: the overrides every
    job shares, once; one row per job (best first) with the overrides that differ between jobs,
    its status, best epoch, the monitored metric and test loss and accuracy or r2 (every metric
    is in summary.csv); then its files and, after a search, the best trial's command.

    Nothing is cut or split inside a word: where the table is too wide for the differing
    overrides as columns (a key a column, its values below), they go on a line of their own
    under their job's row; where even that row is too wide, each job is a few lines of
    ``name value`` pairs. A command runs on over lines ending in `` \\``. A word longer than
    the width (a long path) stands alone on its line."""
    common, varying = _split_overrides(rows)
    lines = [Text(f"sweep: {len(rows)} jobs, best first", style="bold")]
    if common:
        lines += _labelled("every job", common, width)
    lines += _job_lines(rows, varying, width)
    lines += _labelled("summary", [f"{sweep_dir / 'summary.csv'},", str(sweep_dir / "summary.md")], width)
    if picture is not None:
        lines += _labelled("picture", [str(picture)], width)
    later = [r for r in rows if r.get("pictures_later")]
    if later:
        drawn = [str(r["job"]) for r in rows if not r.get("pictures_later") and r["status"] == "finished"]
        listed = ", ".join(drawn[:8]) + (", ..." if len(drawn) > 8 else "")
        words = f"jobs {listed} (each stack's best, pictures.sweep_best); any other's:".split()
        draw = ["trainlab-pictures", str(sweep_dir / later[0]["job"])]
        one_line = [*words, *map(shlex.quote, draw)]
        if cell_len(" ".join(one_line)) <= width - LABEL:
            lines += _labelled("pictures", one_line, width)
        else:  # the command on lines of its own
            lines += _labelled("pictures", words, width) + _labelled("", draw, width, command=True)
    tensorboard = ["tensorboard", "--logdir", str(sweep_dir)]
    lines += _labelled("tensorboard", tensorboard, width, command=True, note="(HPARAMS compares the jobs)")
    for label, text, command in best_lines(sweep_dir):  # a search: its best trial and the command that reruns it
        lines += _labelled(label, shlex.split(text) if command else text.split(), width, command=command)
    return lines


def _split_overrides(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """The overrides every job shares (none for one job), in the first job's order, and each
    job's others."""
    lists = [str(r.get("overrides") or "").split() for r in rows]
    shared = set.intersection(*map(set, lists)) if len(lists) > 1 else set()
    common = list(dict.fromkeys(o for o in lists[0] if o in shared)) if lists else []
    return common, [[o for o in overrides if o not in shared] for overrides in lists]


def _result_columns(rows: list[dict[str, Any]]) -> list[_Column]:
    """job, status (a search: and its trial's state), best epoch, the monitored metric, test
    loss and accuracy or r2."""
    monitors = _monitors(rows)
    present = {k for r in rows for k in r}
    tests = [k for k in ("test/loss", "test/acc", "test/r2") if k in present and k not in monitors]
    status = [f"pruned (epoch {r.get('epochs')})" if r["status"] == "pruned" else str(r["status"]) for r in rows]
    columns = [_Column("job", [str(r["job"]) for r in rows], right=True), _Column("status", status)]
    if "state" in present:  # a search: complete, pruned, failed
        columns.append(_Column("state", [_cell(r.get("state")) for r in rows]))
    columns.append(_Column("best", [_cell(r.get("best_epoch")) for r in rows], right=True))
    return columns + [_Column(m, [_cell(r.get(m)) for r in rows], right=True) for m in [*monitors, *tests]]


def _key_columns(varying: list[list[str]]) -> list[_Column] | None:
    """A column per differing key, its header the key and its cells each job's value; None
    where an override is not ``key=value`` or a job sets a key twice."""
    values: list[dict[str, str]] = []
    for overrides in varying:
        pairs = [o.partition("=") for o in overrides]
        job = {key: value for key, _, value in pairs}
        if any(not equals for _, equals, _ in pairs) or len(job) < len(pairs):
            return None
        values.append(job)
    keys = dict.fromkeys(key for job in values for key in job)
    return [_Column(key, [job.get(key, "") for job in values]) for key in keys]


def _table_width(columns: list[_Column]) -> int:
    return sum(c.width for c in columns) + len(GAP) * (len(columns) - 1)


def _grid(columns: list[_Column]) -> list[Text]:
    """The header, a rule under it, and one line per job."""
    header = Text(GAP.join(c.pad(c.header) for c in columns).rstrip(), style="bold")
    rule = Text(GAP.join("─" * c.width for c in columns))
    jobs = len(columns[0].cells)
    return [header, rule, *(Text(GAP.join(c.pad(c.cells[i]) for c in columns).rstrip()) for i in range(jobs))]


def _job_lines(rows: list[dict[str, Any]], varying: list[list[str]], width: int) -> list[Text]:
    """The table: with a column per differing key where it fits ``width``; else each job's
    differing overrides on a line of their own under its row; else each job as a few lines."""
    results = _result_columns(rows)
    keys = _key_columns(varying)
    if keys is not None and _table_width([*results, *keys]) <= width:
        return _grid([results[0], *keys, *results[1:]])
    if _table_width(results) <= width:
        indent = results[0].width + len(GAP)  # under the status
        header, rule, *body = _grid(results)
        lines = [header, rule]
        for line, overrides in zip(body, varying, strict=True):
            lines += [line, *(Text(" " * indent + part) for part in _wrap(overrides, width - indent))]
        return lines
    lines = []
    for i in range(len(rows)):
        job, status, *numbers = results
        pairs = [f"job {job.cells[i]}", status.cells[i], *(f"{c.header} {c.cells[i]}" for c in numbers if c.cells[i])]
        lines += [Text(part) for part in _wrap(pairs, width, width - 4, sep=GAP, indent=4)]
        lines += [Text(" " * 4 + part) for part in _wrap(varying[i], width - 4)]
    return lines


def _wrap(
    words: list[str], first: int, rest: int | None = None, sep: str = " ", end: str = "", indent: int = 0
) -> list[str]:
    """``words`` joined by ``sep`` into lines of at most ``first`` cells (the first line) and
    ``rest`` (the others, which start with ``indent`` spaces); each line but the last ends with
    ``end`` (a command's `` \\``). A word longer than its line stands alone on it, whole."""
    rest = first if rest is None else rest
    if not words:
        return []
    if cell_len(sep.join(words)) <= first:
        return [sep.join(words)]
    lines: list[str] = []
    line = ""
    for word in words:
        limit = (first if not lines else rest) - cell_len(end)
        if line and cell_len(line + sep + word) > limit:
            lines.append(line + end)
            line = word
        else:
            line = f"{line}{sep}{word}" if line else word
    lines.append(line)
    return [lines[0], *(" " * indent + line for line in lines[1:])]


def _labelled(label: str, words: list[str], width: int, command: bool = False, note: str | None = None) -> list[Text]:
    """``label`` in the label column and ``words`` after it, wrapped to ``width`` under one
    another. A ``command``'s words (its argv) are quoted for the shell, and its lines run on
    with `` \\``, each under the first indented by two; a ``note`` follows it on its line where
    that fits, else on a line of its own (never after a command that runs on: it would be pasted)."""
    if command:
        words = [shlex.quote(word) for word in words]
    room = max(width - LABEL, 1)
    lines = _wrap(words, room, room - 2, end=" \\", indent=2) if command else _wrap(words, room)
    if note and len(lines) == 1 and cell_len(f"{lines[-1]}   {note}") <= room:
        lines[-1] = f"{lines[-1]}   {note}"
    elif note:
        lines += _wrap(note.split(), room)
    return [Text(f"{label:<{LABEL}}{lines[0]}"), *(Text(" " * LABEL + line) for line in lines[1:])]


_written_together: set[Path] = set()  # sweeps whose launcher rewrites the tables after many jobs (``jobs_together``)


@contextlib.contextmanager
def jobs_together(sweep_dir: Path) -> Iterator[None]:
    """While this is open, ``SweepSummary`` leaves the tables of the sweep in ``sweep_dir`` alone
    after each job: a launcher that writes many jobs in one pass (the stacked launcher: a
    stack's members) rewrites them once after them (``rewrite_tables``). Each rewrite reads
    every job's directory, so one per job costs a sweep of N jobs N² reads."""
    key = sweep_dir.resolve()
    _written_together.add(key)
    try:
        yield
    finally:
        _written_together.discard(key)


def rewrite_tables(sweep_dir: Path) -> None:
    """The sweep's summary.csv and summary.md from its jobs' directories as they stand (one that
    has not ended reads as running). A full disk is one line: the sweep goes on, each job's
    results are in its own directory."""
    try:
        with _one_writer(sweep_dir):  # joblib's, submitit's workers: side by side
            write_tables(sweep_dir, job_rows(sweep_dir, unfinished="running"))
    except WriteFailed as error:
        _say(f"{error}; the sweep goes on (each job's results are in its own directory)")


class SweepSummary(Callback):
    """Hydra callback (conf/train.yaml, ``hydra.callbacks``): names the sweep dir for the
    launcher's worker processes, rewrites the sweep's tables after every job (so they exist
    even when a later job crashes the sweep; after many, for a launcher that writes them
    together: ``jobs_together``) and prints the table at the end; a grid sweep in which a job
    failed then exits with ``EXIT_JOBS_FAILED``."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        # Workers (joblib's, submitit's) inherit the variable and resolve hydra.sweep.dir to it.
        os.environ[SWEEP_DIR_ENV] = str(config.hydra.sweep.dir)

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        hydra_cfg = HydraConfig.get()
        if hydra_cfg.mode != RunMode.MULTIRUN:
            return
        job = RunDir(hydra_cfg.runtime.output_dir)
        if job_return.status == JobStatus.FAILED and not (job / job.SUMMARY).exists():
            try:
                _ = job_return.return_value  # a failed job's return value is its exception, raised
            except Exception as error:
                record_failure(job.path, f"{type(error).__name__}: {error}")
        sweep_dir = Path(hydra_cfg.sweep.dir)
        if sweep_dir.resolve() not in _written_together:
            rewrite_tables(sweep_dir)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from trainlab.sweeps.resume import RESUME_ENV

        sweep_dir = Path(config.hydra.sweep.dir)
        os.environ.pop(SWEEP_DIR_ENV, None)
        os.environ.pop(RESUME_ENV, None)
        rows = job_rows(sweep_dir)
        try:
            if rows:
                finish(sweep_dir, rows)
        except WriteFailed as error:  # every job is kept: a continued sweep writes the tables again
            _say(f"{error}; free the space, then python train.py -m resume={sweep_dir} writes the sweep's tables")
            sys.exit(EXIT_WRITE)
        failed = sorted((r["job"] for r in rows if r["status"] == "failed"), key=lambda job: _job_number({"job": job}))
        if failed and not any("state" in r for r in rows):  # a search's failed trials are its own outcome
            which = f"job {failed[0]}" if len(failed) == 1 else f"jobs {', '.join(failed)}"
            _say(f"{len(failed)} of {len(rows)} jobs failed ({which}); the errors are in {sweep_dir / 'summary.csv'}")
            sys.exit(EXIT_JOBS_FAILED)


@contextlib.contextmanager
def _one_writer(sweep_dir: Path) -> Iterator[None]:
    """The ``with`` block run by one process of the sweep at a time (an exclusive ``flock`` on
    ``TABLES_LOCK``): a parallel launcher's workers each rewrite the tables after their jobs,
    and an atomic write has one writer at a time. Without ``fcntl`` (Windows), unlocked."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(sweep_dir / TABLES_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def finish(sweep_dir: Path, rows: list[dict[str, Any]], console: Console | None = None) -> None:
    """The end of a sweep: its tables, its picture (``trainlab.pictures.sweep_figure``), and the table printed."""
    from trainlab.pictures.sweep_figure import save_sweep_picture

    write_tables(sweep_dir, rows)
    picture = save_sweep_picture(sweep_dir, rows)
    print_table(sweep_dir, rows, console, picture)


def record_failure(job_dir: Path, error: str) -> None:
    """A summary.json for a job that ended without one: status failed, and the error."""
    from trainlab.lifecycle.summary import write_summary

    write_summary(job_dir, {"status": "failed", "error": error, "run_dir": str(job_dir)})


def fail_job(job_dir: Path, job: int | str, error: BaseException) -> None:
    """A sweep's job that failed with ``error``: one line on stderr, ``error: job <job>: <why>``,
    and its summary.json with status failed and the error (``record_failure``, where the disk
    takes it: else the tables list it as failed all the same, having no summary). A ConfigError
    says why in trainlab's words; any other error (one trainlab did not foresee) is named by
    its type, and its traceback goes to the job's log file (``train.log``) only."""
    from trainlab.errors import ConfigError, WriteFailed, write_failure
    from trainlab.files.lock import Taken
    from trainlab.lifecycle.summary import write_failed_summary

    disk = write_failure(error)
    if disk is not None and disk.path is None:  # a write that named no file (a writer thread's, a stream's)
        from trainlab.internals import tensorboard_file_of

        _log_traceback(error)  # where it came from, for the log (the disk may not take it)
        disk = WriteFailed(tensorboard_file_of(error) or job_dir, OSError(disk.errno, disk.reason))
    expected = isinstance(error, ConfigError) or disk is not None
    why = str(disk or error) if expected else f"{type(error).__name__}: {error}".rstrip(": ")
    lines = why.strip().splitlines() or [type(error).__name__]
    logged = None if expected else _log_traceback(error)
    where = f" (traceback in {logged})" if logged else ""
    _say(f"job {job}: {lines[0]}{' ...' if len(lines) > 1 else ''}{where}")
    if isinstance(error, Taken):  # another process writes that directory: nothing of it is this job's
        return
    if disk is not None:  # the summary names the file: the job continues with -m resume= once space is freed
        write_failed_summary(job_dir, disk)
        return
    with contextlib.suppress(OSError):  # a full disk: the tables list a job without a summary as failed
        record_failure(job_dir, why)


def _say(message: str) -> None:
    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}", highlight=False)


def _log_traceback(error: BaseException) -> str | None:
    """``error``'s traceback to the log files only (Hydra's job log, ``train.log``): the console
    shows one line. The file that took it, if one did."""
    record = logging.LogRecord(
        "trainlab", logging.ERROR, __file__, 0, "the job failed:", None, (type(error), error, error.__traceback__)
    )
    files = [h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
    for handler in files:
        handler.handle(record)
    return files[0].baseFilename if files else None
