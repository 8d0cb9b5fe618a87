"""A multirun leaves a table of its jobs, best first; a job that fails does not stop the others."""

import subprocess
from pathlib import Path

import pandas as pd
from cli_helpers import QUIET, train

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
    out = sweep(tmp_path, "data.val_fraction=0.2,1.5")
    assert out.returncode == 0, out.stderr
    assert "data.val_fraction=1.5 is not allowed" in out.stderr
    table = pd.read_csv(tmp_path / "summary.csv")
    assert list(table["status"]) == ["finished", "failed"]  # the failed job last
    assert "a fraction in [0, 1)" in table["error"].iloc[1]
