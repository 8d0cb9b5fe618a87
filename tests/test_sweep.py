"""A multirun leaves a table of its jobs, best first; a job that fails does not stop the others."""

import subprocess
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml
from cli_helpers import train
from hydra.core.utils import JobReturn, JobStatus
from hydra.types import RunMode
from omegaconf import OmegaConf
from overrides import QUIET
from rich.console import Console

import trainlab.sweeps.tables
from trainlab.files.rundir import RunDir
from trainlab.sweeps.tables import SweepSummary

SMALL = ["data.n_samples=200", "trainer.max_epochs=3", "pictures.enabled=false", *QUIET]


def sweep(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return train("-m", *args, *SMALL, f"hydra.sweep.dir={tmp_path}", cwd=tmp_path)


def test_three_job_sweep_writes_summary_sorted_by_the_monitored_metric(tmp_path):
    out = sweep(tmp_path, "optimizer.lr=0.0001,0.01,0.05")
    assert out.returncode == 0, out.stderr
    table = pd.read_csv(tmp_path / "summary.csv")
    assert len(table) == 3
    assert list(table.columns[:6]) == ["job", "overrides", "status", "best_epoch", "epochs", "val/loss"]
    assert table["val/loss"].is_monotonic_increasing
    assert set(table["status"]) == {"finished"}
    assert sorted(table["overrides"].str.split().str[0]) == [
        "optimizer.lr=0.0001",
        "optimizer.lr=0.01",
        "optimizer.lr=0.05",
    ]
    assert {"test/acc", "val/acc"} <= set(table.columns)
    md = (tmp_path / "summary.md").read_text()
    assert md.count("\n| ") == 4  # header and 3 rows
    assert "sweep: 3 jobs, best first" in out.stdout
    shown = out.stdout.splitlines()
    header = next(line for line in shown if line.startswith("job "))
    assert header.split()[:3] == ["job", "optimizer.lr", "status"]  # the swept key: a column (120 columns)
    best = table.iloc[0]
    first = shown[shown.index(header) + 2].split()  # the best job's row, under the header and its rule
    assert first[:3] == [str(best["job"]), best["overrides"].split()[0].removeprefix("optimizer.lr="), "finished"]


def test_a_failing_job_is_recorded_and_the_sweep_goes_on(tmp_path):
    # A value only the data can refuse (val/r2 on a classification set) fails its job at its
    # start; the others train. (A value the config alone refuses stops the whole sweep before
    # any job trains: tests/test_first_use.py.)
    out = sweep(tmp_path, "monitor=val/loss,val/r2")
    assert out.returncode == 1, out.stderr  # every job ran; one failed: summary.csv says why
    assert "error: job 1: monitor='val/r2' is not allowed" in out.stderr
    assert f"error: 1 of 2 jobs failed (job 1); the errors are in {tmp_path / 'summary.csv'}" in out.stderr
    table = pd.read_csv(tmp_path / "summary.csv")
    assert list(table["status"]) == ["finished", "failed"]  # the failed job last
    assert "a metric logged for this binary task" in table["error"].iloc[1]


def test_a_job_that_raised_has_its_error_in_the_summary(tmp_path, monkeypatch):
    # An error trainlab does not catch: Hydra marks the job FAILED and the callback records it.
    job_dir = tmp_path / "0"
    (job_dir / ".hydra").mkdir(parents=True)
    (job_dir / ".hydra" / "overrides.yaml").write_text("- optimizer.lr=0.1\n")
    hydra_cfg = SimpleNamespace(
        mode=RunMode.MULTIRUN,
        runtime=SimpleNamespace(output_dir=str(job_dir)),
        sweep=SimpleNamespace(dir=str(tmp_path)),
    )
    monkeypatch.setattr(trainlab.sweeps.tables, "HydraConfig", SimpleNamespace(get=lambda: hydra_cfg))
    job_return = JobReturn(overrides=["optimizer.lr=0.1"])
    job_return.return_value = RuntimeError("CUDA error: out of memory (simulated)")
    job_return.status = JobStatus.FAILED
    SweepSummary().on_job_end(OmegaConf.create(), job_return)
    table = pd.read_csv(tmp_path / "summary.csv")
    assert list(table["status"]) == ["failed"] and list(table["overrides"]) == ["optimizer.lr=0.1"]
    assert table["error"].iloc[0] == "RuntimeError: CUDA error: out of memory (simulated)"
    assert "CUDA error: out of memory" in (tmp_path / "summary.md").read_text()


def test_job_rows_read_each_jobs_overrides_and_summary(tmp_path):
    jobs = [["optimizer.lr=0.1", "data.target='yes'", "x=null", "y='a: b'", "z=[1,'2']"], ["seed=2", "data.name=1e-3"]]
    for number, overrides in enumerate(jobs):
        run = RunDir(tmp_path / str(number))
        run.save_config(OmegaConf.create({"seed": number}), overrides)
        metrics = {"val/loss": 1.0 - number}
        run.write_json(run.SUMMARY, {"status": "finished", "monitor": "val/loss", "mode": "min", "metrics": metrics})
    (tmp_path / "2" / ".hydra").mkdir(parents=True)  # a Hydra job's, without a summary: failed
    (tmp_path / "2" / ".hydra" / "overrides.yaml").write_text("- seed=3\n- data.name=é\n- 'w=''q'''\n", "utf-8")
    (tmp_path / "state").mkdir()  # no overrides: not a job
    rows = trainlab.sweeps.tables.job_rows(tmp_path)
    assert [(r["job"], r["status"], r.get("val/loss")) for r in rows] == [
        ("1", "finished", 0.0),
        ("0", "finished", 1.0),
        ("2", "failed", None),
    ]
    for row in rows:
        files = [tmp_path / row["job"] / "overrides.yaml", tmp_path / row["job"] / ".hydra" / "overrides.yaml"]
        written = next(f for f in files if f.is_file())
        assert row["overrides"] == " ".join(yaml.safe_load(written.read_text("utf-8")))
    assert rows[1]["overrides"] == " ".join(jobs[0])
    # While a parallel launcher's sweep goes on (tables rewritten after each job), a job without a summary runs
    assert [r["status"] for r in trainlab.sweeps.tables.job_rows(tmp_path, unfinished="running")][-1] == "running"


def test_a_quiet_console_gets_no_table_and_none_is_rendered(tmp_path, monkeypatch):
    rows = [{"job": "0", "overrides": "seed=1", "status": "finished", "monitor": "val/loss", "val/loss": 0.5}]
    console = Console(quiet=True, record=True)
    monkeypatch.setattr(
        trainlab.sweeps.tables, "sweep_lines", lambda *args, **kwargs: pytest.fail("a table laid out for nothing")
    )
    trainlab.sweeps.tables.print_table(tmp_path, rows, console)
    assert console.export_text() == ""
