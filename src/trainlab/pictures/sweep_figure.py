"""The sweep picture: the monitored metric against each swept value, one line per seed (or their mean).

Drawn from the sweep table's rows (``trainlab.sweeps.tables.job_rows``) with matplotlib's Agg canvas
(imported only when drawing), written as sweep.png in the sweep dir and logged to TensorBoard
there as the image ``sweep`` (through tensorboard's event writer: no torch).
"""

from __future__ import annotations

import io
import math
import struct
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from trainlab.errors import WriteFailed, write_failure
from trainlab.files.atomic import write_bytes
from trainlab.internals import tensorboard_file_of

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SEED = "seed"
COLUMNS = 4  # panels in a row
SEED_LINES = 8  # more seeds: one line of their mean, shaded from the lowest to the highest


def _overrides(row: dict[str, Any]) -> dict[str, str]:
    """A job's ``key=value`` overrides (Hydra's ``+``/``++`` prefixes dropped) as key -> value."""
    pairs = (o.split("=", 1) for o in str(row.get("overrides") or "").split() if "=" in o)
    return {key.lstrip("+"): value for key, value in pairs}


def swept_values(rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The override keys whose values differ between jobs -> their distinct values, in first-seen order."""
    parsed = [_overrides(r) for r in rows]
    seen: dict[str, dict[str, None]] = {}
    for overrides in parsed:
        for key, value in overrides.items():
            seen.setdefault(key, {})[value] = None
    return {k: list(v) for k, v in seen.items() if len(v) > 1 or any(k not in o for o in parsed)}


def _number(value: str) -> float | None:
    """``value`` as YAML reads it, if a number (``1e-3`` too, which YAML 1.1 reads as a string)."""
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return None
    if isinstance(parsed, str):
        try:
            parsed = float(parsed)
        except ValueError:
            return None
    return float(parsed) if isinstance(parsed, int | float) and not isinstance(parsed, bool) else None


def _ordered(values: list[str]) -> tuple[list[str], list[float] | None]:
    """``values`` sorted by number with their numbers when all are numbers, else as they came and None."""
    pairs = [(n, v) for v in values if (n := _number(v)) is not None]
    if len(pairs) < len(values):
        return values, None
    pairs.sort(key=lambda p: p[0])
    return [v for _, v in pairs], [n for n, _ in pairs]


def _finite(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def _points(
    done: list[tuple[dict[str, str], float]], key: str, seed: str | None, xs: list, values: list[str], best: Any
) -> list[tuple[float, float]]:
    """Seed ``seed``'s line in the panel of ``key``: at each value, its best job's metric."""
    mine = [(o.get(key), v) for o, v in done if seed is None or o.get(SEED) == seed]
    shared = [(x, [v for k, v in mine if k == value]) for x, value in zip(xs, values, strict=True)]
    return [(x, best(ys)) for x, ys in shared if ys]


def _band(ax: Any, lines: dict[str | None, list[tuple[float, float]]]) -> None:
    """Many seeds' lines as one: the mean over seeds at each value, shaded from the lowest to the highest."""
    at: dict[float, list[float]] = {}
    for points in lines.values():
        for x, y in points:
            at.setdefault(x, []).append(y)
    xs = sorted(at)
    ax.plot(xs, [sum(at[x]) / len(at[x]) for x in xs], "o-", label=f"mean of {len(lines)} seeds")
    ax.fill_between(xs, [min(at[x]) for x in xs], [max(at[x]) for x in xs], alpha=0.25, label="lowest to highest")


def sweep_figure(rows: list[dict[str, Any]]) -> Figure | None:
    """One panel per swept key other than ``seed`` (just ``seed`` when only it is swept), at most
    four in a row: the monitored metric (``mode`` says whether lower or higher is better) against
    the key's values (numbers on a log axis when all > 0 and spanning more than a factor 10;
    other values as categories, first seen first), one line per seed (past ``SEED_LINES`` seeds:
    their mean, shaded from the lowest to the highest). A point is the best job with that value
    and seed (over the other swept keys, as the panel's title says). Jobs without a finite
    monitored value are left out and counted in the suptitle. None when nothing is swept or no
    job has a finite value."""
    swept = swept_values(rows)
    monitor = next((r["monitor"] for r in rows if r.get("monitor")), None)
    if not swept or monitor is None:
        return None
    mode = next((r.get("mode") for r in rows if r.get("monitor") == monitor), None) or "min"
    best = min if mode == "min" else max
    jobs = [(_overrides(r), _finite(r.get(monitor))) for r in rows]
    done = [(o, v) for o, v in jobs if v is not None]
    if not done:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    keys = [k for k in swept if k != SEED] or [SEED]
    seeds = _ordered(swept[SEED])[0] if SEED in swept and keys != [SEED] else [None]
    columns = min(len(keys), COLUMNS)
    panel_rows = math.ceil(len(keys) / columns)
    fig = Figure(figsize=(4.6 * columns, 3.6 * panel_rows + 0.6), dpi=100, facecolor="white")
    FigureCanvasAgg(fig)
    axes = fig.subplots(panel_rows, columns, squeeze=False).ravel()
    for ax in axes[len(keys) :]:
        ax.set_visible(False)
    for ax, key in zip(axes[: len(keys)], keys, strict=True):
        values, numbers = _ordered(swept[key])
        xs = numbers if numbers is not None else list(range(len(values)))
        lines = {seed: _points(done, key, seed, xs, values, best) for seed in seeds}
        if len(seeds) > SEED_LINES:  # a line per seed would hide the others: their mean, and the range
            _band(ax, lines)
        else:
            for seed, points in lines.items():
                label = None if seed is None else f"seed={seed}"
                ax.plot([x for x, _ in points], [y for _, y in points], "o-", label=label)
        if numbers is None:
            ax.set_xticks(xs, labels=values, rotation=30 if len(values) > 4 else 0)
        elif min(numbers) > 0 and max(numbers) > 10 * min(numbers):
            ax.set_xscale("log")
        others = [k for k in swept if k not in (key, SEED)]
        if others:
            ax.set_title("best over " + ", ".join(others), fontsize=10)
        ax.set_xlabel(key)
        ax.set_ylabel(f"{monitor} ({'lower' if mode == 'min' else 'higher'} is better)")
        ax.grid(alpha=0.3)
        if seeds != [None]:
            ax.legend(fontsize=8)
    title = f"sweep: {monitor} against each swept value"
    failed = len(jobs) - len(done)
    if failed:
        title += f"\n{failed} job{'s' if failed != 1 else ''} failed or diverged"
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def save_sweep_picture(sweep_dir: Path, rows: list[dict[str, Any]]) -> Path | None:
    """sweep.png in ``sweep_dir`` (atomically) and the same PNG in TensorBoard event files there
    (tag ``sweep``, step: the number of jobs). None when ``sweep_figure`` draws nothing."""
    fig = sweep_figure(rows)
    if fig is None:
        return None
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png")
    finally:
        fig.clear()
    png = buffer.getvalue()
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
    path = write_bytes(Path(sweep_dir) / "sweep.png", png)
    write_png_event(Path(sweep_dir), "sweep", png, height, width, step=len(rows))
    return path


def write_png_event(log_dir: Path, tag: str, png: bytes, height: int, width: int, step: int) -> None:
    """One TensorBoard event file in ``log_dir`` holding an encoded PNG as the image ``tag``,
    written by tensorboard's own event writer (what torch's ``SummaryWriter`` wraps) without
    importing torch or Lightning: a sweep launched to worker processes (joblib, submitit)
    ends in a process that never imported them, where they would take seconds to load."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    image = Summary.Image(height=height, width=width, colorspace=3, encoded_image_string=png)
    writer = EventFileWriter(str(log_dir))
    try:
        summary = Summary(value=[Summary.Value(tag=tag, image=image)])
        writer.add_event(Event(wall_time=time.time(), step=step, summary=summary))
        writer.close()
    except OSError as error:  # a full disk: named (the writer's thread raises it without a file name)
        failure = write_failure(error)
        if failure is None:
            raise
        raise WriteFailed(tensorboard_file_of(error) or writer.get_logdir(), error) from None
