"""What a new user meets at an 80-column terminal (or a pipe, where Rich assumes 80), with the
real commands: a sweep's table and a search's table that fit 80 columns with every override
whole on its line, the same sweep laid out at 120 columns, --help naming the launchers and
sweepers, and a misspelled launcher or sweeper refused in one line before anything runs."""

import json
import os
import re
import subprocess
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from subprocess import PIPE

import pytest
import yaml
from cli_helpers import command
from overrides import QUIET
from rich.console import Console

import trainlab.cli.usage
from trainlab.cli.usage import plugin_options
from trainlab.sweeps.tables import job_rows, print_table

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TINY = ["data.n_samples=200", "trainer.max_epochs=1", "pictures.enabled=false", "logger=none", *QUIET]
ENV80 = {**os.environ, "COLUMNS": "80"}  # as an 80-column terminal, or a pipe (Rich's 80)


def run80(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python train.py ...`` as a user runs it in an 80-column terminal, its output piped."""
    return subprocess.run(command(*args), cwd=cwd, capture_output=True, text=True, env=ENV80, timeout=600)


def start80(*args: str, cwd: Path) -> subprocess.Popen:
    """``run80`` in the background."""
    return subprocess.Popen(command(*args), cwd=cwd, stdout=PIPE, stderr=PIPE, text=True, env=ENV80)


def closing_lines(process: subprocess.Popen, jobs: int) -> list[str]:
    """The lines a sweep of ``jobs`` jobs ends with, once its command has succeeded."""
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr
    return table_block(stdout, jobs)


def table_block(stdout: str, jobs: int) -> list[str]:
    """The lines the sweep ends with: its table and the lines under it."""
    lines = ANSI.sub("", stdout).splitlines()
    return lines[lines.index(f"sweep: {jobs} jobs, best first") :]


def too_wide(lines: list[str], width: int = 80) -> list[str]:
    """The lines wider than ``width`` columns, but for a word too long for any line (a long
    path: the tmp dir's) standing alone, whole, after its label (``summary        <path>``)."""
    wide = []
    for line in lines:
        labelled = not line.startswith(" ") and line[13:15] == "  "  # a label: 15 columns
        rest = line[15:] if labelled else line
        if len(line) > width and len(rest.removesuffix(" \\").split()) > 1:
            wide.append(line)
    return wide


def overrides_of(job_dir: Path) -> list[str]:
    return yaml.safe_load((job_dir / ".hydra" / "overrides.yaml").read_text())


def shared_words(block: list[str]) -> list[str]:
    """The words of the ``every job`` line and the lines it runs on over."""
    start = end = next(i for i, line in enumerate(block) if line.startswith("every job      "))
    while block[end + 1].startswith(" " * 15):
        end += 1
    return " ".join(block[start : end + 1]).split()[2:]


def command_lines(block: list[str], label: str) -> list[str]:
    """A labelled command and the lines it runs on over (those ending in `` \\``)."""
    start = next(i for i, line in enumerate(block) if line.startswith(f"{label:<15}"))
    end = start
    while block[end].endswith(" \\"):
        end += 1
    return block[start : end + 1]


# ----- a grid sweep (8 jobs in one stack, three keys differ) and a search (3 tiny trials in one stack) -----


@pytest.fixture(scope="module")
def started(tmp_path_factory) -> Iterator[dict[str, tuple[Path, subprocess.Popen]]]:
    """The sweep and the search, started together (each keeps to one core): name -> (sweep dir, process)."""
    grid = ["hydra/launcher=stacked", "seed=0,1", "optimizer.lr=0.001,0.01", "optimizer.weight_decay=0,0.0001"]
    space = ["optimizer.lr=tag(log,interval(1e-4,1e-1))", "optimizer.weight_decay=interval(0.0,0.001)"]
    search = ["hydra/sweeper=optuna", "hydra/launcher=stacked", "hydra.sweeper.n_trials=3", "hydra.sweeper.n_jobs=3"]
    commands = {"sweep": grid, "search": [*search, *space]}
    processes = {}
    for name, args in commands.items():
        cwd = tmp_path_factory.mktemp(f"{name}80")
        processes[name] = (cwd / "s", start80("-m", *args, *TINY, f"hydra.sweep.dir={cwd / 's'}", cwd=cwd))
    yield processes
    for _, process in processes.values():
        if process.poll() is None:  # a failed fixture: stop the other command
            process.kill()
            process.communicate()


@pytest.fixture(scope="module")
def sweep(started) -> tuple[Path, list[str]]:
    """A stacked sweep over seed, lr and weight decay at 80 columns: (its dir, its closing lines)."""
    sweep_dir, process = started["sweep"]
    return sweep_dir, closing_lines(process, 8)


@pytest.fixture(scope="module")
def search(started) -> tuple[Path, list[str]]:
    """An Optuna search of 3 trials at 80 columns, its values long floats: (its dir, its closing lines)."""
    sweep_dir, process = started["search"]
    return sweep_dir, closing_lines(process, 3)


def test_the_sweep_table_fits_80_columns_and_cuts_nothing(sweep):
    _, block = sweep
    assert too_wide(block) == [], "\n".join(block)
    assert "…" not in "\n".join(block)


def test_at_80_columns_each_jobs_differing_overrides_are_a_line_under_its_row(sweep):
    sweep_dir, block = sweep
    header = block.index("job  status    best  val/loss  test/loss  test/acc")
    assert set(block[header + 1]) == {"─", " "}
    rows = {r["job"]: r for r in job_rows(sweep_dir)}
    assert len(rows) == 8
    common = set.intersection(*(set(overrides_of(sweep_dir / job)) for job in rows))
    for number, row in enumerate(job_rows(sweep_dir)):  # best first
        line = block[header + 2 + 2 * number]
        assert line.split() == [
            row["job"],
            "finished",
            "1",
            *(f"{row[m]:.4f}" for m in ("val/loss", "test/loss", "test/acc")),
        ]
        differing = [o for o in overrides_of(sweep_dir / row["job"]) if o not in common]
        assert [o.split("=")[0] for o in differing] == ["seed", "optimizer.lr", "optimizer.weight_decay"]
        assert block[header + 3 + 2 * number] == " " * 5 + " ".join(differing)  # whole, on one line
    assert sorted(shared_words(block)) == sorted(common)  # the rest once, above the table, each override whole


def test_at_120_columns_each_differing_key_is_a_column(sweep):
    sweep_dir, _ = sweep
    out = StringIO()
    print_table(sweep_dir, job_rows(sweep_dir), Console(file=out, width=120))
    lines = out.getvalue().splitlines()
    assert too_wide(lines, 120) == []
    header = next(i for i, line in enumerate(lines) if line.startswith("job "))
    keys = ["seed", "optimizer.lr", "optimizer.weight_decay"]
    assert lines[header].split() == ["job", *keys, "status", "best", "val/loss", "test/loss", "test/acc"]
    for number, row in enumerate(job_rows(sweep_dir)):
        values = dict(o.split("=", 1) for o in row["overrides"].split())
        assert lines[header + 2 + number].split()[:5] == [row["job"], *(values[k] for k in keys), "finished"]


def test_the_search_table_fits_80_columns_with_every_override_whole(search):
    sweep_dir, block = search
    assert too_wide(block) == [], "\n".join(block)
    assert "…" not in "\n".join(block)
    header = block.index("job  status    state     best  val/loss  test/loss  test/acc")
    rows = [i for i, line in enumerate(block) if i > header + 1 and re.match(r" *\d+  \S", line)]  # "  1  finished"
    rows.append(next(i for i, line in enumerate(block) if line.startswith("summary ")))
    for number, row in enumerate(job_rows(sweep_dir)):
        assert block[rows[number]].split()[:3] == [row["job"], "finished", "complete"]
        under = block[rows[number] + 1 : rows[number + 1]]  # the job's searched overrides, on lines of their own
        assert under and all(line.startswith(" " * 5) for line in under)
        searched = [o for o in overrides_of(sweep_dir / row["job"]) if o.startswith("optimizer.")]
        assert " ".join(under).split() == searched  # e.g. optimizer.lr=0.0031428808908401113, whole
    words = {word for line in block for word in line.split()}
    assert all(o in words for job in job_rows(sweep_dir) for o in overrides_of(sweep_dir / job["job"]))


def test_the_best_trials_command_runs_on_over_lines_a_shell_joins(search):
    sweep_dir, block = search
    best = json.loads((sweep_dir / "best_trial.json").read_text())
    lines = command_lines(block, "rerun it")
    assert len(lines) > 1 and too_wide(lines) == []
    joined = " ".join(line.removesuffix(" \\").strip() for line in lines)
    assert joined == f"rerun it       {best['command']}"


# ----- --help -----


def test_help_at_80_columns_names_the_launchers_and_sweepers(tmp_path):
    out = run80("--help", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert max(map(len, lines)) <= 80, out.stdout
    assert "  hydra/launcher=stacked         jobs trained as one stacked model: the fastest" in lines
    assert "  hydra/sweeper=optuna           an Optuna search: interval(a,b), choice(a,b)" in lines
    listed = [line.split()[0].rstrip("*") for line in lines if line.startswith("  hydra/")]
    expected = [f"hydra/launcher={o}" for o in plugin_options("hydra/launcher")]
    assert sorted(listed) == sorted([*expected, "hydra/sweeper=basic", "hydra/sweeper=grid", "hydra/sweeper=optuna"])
    assert (
        "  data            breast_cancer, circles, csv, diabetes, digits, gauss, moons," in lines
    )  # folded at a comma
    assert list(tmp_path.iterdir()) == []


def test_help_lists_only_what_is_installed_and_names_the_extra_for_the_rest(monkeypatch):
    monkeypatch.setattr(trainlab.cli.usage, "_runs_here", lambda group, option: option in ("basic", "stacked", "grid"))
    trainlab.cli.usage.plugin_options.cache_clear()
    try:
        text = trainlab.cli.usage.help_text(80)
    finally:
        trainlab.cli.usage.plugin_options.cache_clear()
    options = [line.split()[0] for line in text.splitlines() if line.startswith("  hydra/")]
    assert options == ["hydra/launcher=basic*", "hydra/launcher=stacked", "hydra/sweeper=grid*", "hydra/sweeper=basic"]
    assert "  not installed:          hydra/launcher=joblib, hydra/launcher=submitit_local," in text.splitlines()
    assert 'hydra/sweeper=optuna (pip install "trainlab[scale]")' in text
    assert "hydra/sweeper=optuna hydra.sweeper.n_trials" not in text  # no example of what is not there


# ----- a misspelled launcher or sweeper -----


@pytest.mark.parametrize(
    ("args", "group", "typed", "meant"),
    [
        (["-m", "hydra/launcher=stackd", "seed=1,2"], "hydra/launcher", "stackd", "stacked"),
        (["-m", "hydra/sweeper=optuan", "optimizer.lr=interval(0.01,0.1)"], "hydra/sweeper", "optuan", "optuna"),
        (["hydra/launcher=stackd"], "hydra/launcher", "stackd", "stacked"),  # a lone run: the same line
    ],
)
def test_a_misspelled_launcher_or_sweeper_is_one_line_before_any_job(args, group, typed, meant, tmp_path):
    out = run80(*args, *TINY, cwd=tmp_path)
    assert out.returncode == 2  # as any config error (cli.main.EXIT_CONFIG)
    allowed = plugin_options(group)
    assert {meant, "basic"} <= set(allowed)
    assert out.stderr.splitlines() == [
        f"error: {group}={typed}: {group} has no option {typed}; did you mean '{meant}'? allowed: {', '.join(allowed)}"
    ]
    assert out.stdout == ""
    assert list(tmp_path.iterdir()) == []  # no job ran: no sweep or run directory
