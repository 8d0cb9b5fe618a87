"""A multirun leaves a table of its jobs, best first; a job that fails does not stop the others."""

import subprocess
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
from cli_helpers import train
from hydra.core.utils import JobReturn, JobStatus
from hydra.types import RunMode
from omegaconf import OmegaConf
from overrides import QUIET

import trainlab.sweep
from trainlab.sweep import SweepSummary

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
    assert "sweep: 3 jobs, best first" in out.stdout and "optimizer.lr=0.0001" in out.stdout


def test_a_failing_job_is_recorded_and_the_sweep_goes_on(tmp_path):
    # A value only the data can refuse (val/r2 on a classification set) fails its job at its
    # start; the others train. (A value the config alone refuses stops the whole sweep before
    # any job trains: tests/test_first_use.py.)
    out = sweep(tmp_path, "monitor=val/loss,val/r2")
    assert out.returncode == 0, out.stderr
    assert "monitor='val/r2' is not allowed" in out.stderr
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
    monkeypatch.setattr(trainlab.sweep, "HydraConfig", SimpleNamespace(get=lambda: hydra_cfg))
    job_return = JobReturn(overrides=["optimizer.lr=0.1"])
    job_return.return_value = RuntimeError("CUDA error: out of memory (simulated)")
    job_return.status = JobStatus.FAILED
    SweepSummary().on_job_end(OmegaConf.create(), job_return)
    table = pd.read_csv(tmp_path / "summary.csv")
    assert list(table["status"]) == ["failed"] and list(table["overrides"]) == ["optimizer.lr=0.1"]
    assert table["error"].iloc[0] == "RuntimeError: CUDA error: out of memory (simulated)"
    assert "CUDA error: out of memory" in (tmp_path / "summary.md").read_text()
