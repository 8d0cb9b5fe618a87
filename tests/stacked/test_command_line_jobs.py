"""``python train.py -m hydra/launcher=stacked``: each job's Hydra files and the sweep's tables,
written by the launcher in one pass (without Hydra's second composition of every job, its
copies of each job's config, or a rewrite of the tables after each job)."""

from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import yaml
from cli_helpers import train
from hydra.core.utils import JobReturn, JobStatus
from hydra.types import RunMode

from hydra_plugins.trainlab_launcher.stacked_launcher import StackedLauncher
from trainlab.sweeps import tables

SMALL = ["data.n_samples=200", "trainer.max_epochs=2", "regularization=[]", "trainer.enable_progress_bar=false"]


def _hydra(job: Path) -> dict:
    """A job's hydra.yaml, less what names the launcher or the sweep's directory."""
    hydra = yaml.safe_load((job / ".hydra" / "hydra.yaml").read_text())["hydra"]
    for key in ("launcher", "sweep"):
        hydra.pop(key)
    hydra["runtime"].pop("output_dir")
    hydra["runtime"]["choices"].pop("hydra/launcher")
    hydra["overrides"]["hydra"] = [o for o in hydra["overrides"]["hydra"] if not o.startswith("hydra")]
    return hydra


def test_each_jobs_hydra_files_and_log_are_the_basic_launchers(tmp_path):
    # job 1 sets an interpolation: its .hydra/config.yaml keeps the text (converted, not derived)
    for launcher in ("basic", "stacked"):
        out = train(
            "-m",
            f"hydra/launcher={launcher}",
            "data=random",
            "model.hidden=[4,4],[4,${data.n_features}]",
            *SMALL,
            f"hydra.sweep.dir={tmp_path / launcher}",
            cwd=tmp_path,
        )
        assert out.returncode == 0, out.stderr
    for job in ("0", "1"):
        basic, stacked = tmp_path / "basic" / job, tmp_path / "stacked" / job
        assert sorted(p.name for p in (stacked / ".hydra").iterdir()) == ["config.yaml", "hydra.yaml", "overrides.yaml"]
        for name in ("config.yaml", "overrides.yaml"):
            assert (stacked / ".hydra" / name).read_text() == (basic / ".hydra" / name).read_text()
        assert _hydra(stacked) == _hydra(basic)
        assert (stacked / "train.log").is_file()  # Hydra's job log, as configured (conf/hydra/job_logging)
    assert "- ${data.n_features}" in (tmp_path / "stacked" / "1" / ".hydra" / "config.yaml").read_text()
    summary = pd.read_csv(tmp_path / "stacked" / "summary.csv")
    assert sorted(summary["job"].astype(str)) == ["0", "1"] and set(summary["status"]) == {"finished"}


def test_the_grid_sweeper_leaves_composing_to_a_launcher_that_composes_every_job(monkeypatch):
    # Imported here: Hydra's plugin scan executes its plugins' and its own modules again (an
    # earlier test's), and a GridSweeper imported before then subclasses a BasicSweeper its
    # module no longer names. Hydra itself instantiates the sweeper from the module as it stands.
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    from hydra_plugins.trainlab_launcher.grid_sweeper import GridSweeper

    checked = []
    monkeypatch.setattr(BasicSweeper, "validate_batch_is_legal", lambda self, batch: checked.append(batch))
    sweeper = GridSweeper(max_batch_size=None)
    sweeper.launcher = StackedLauncher()
    sweeper.validate_batch_is_legal([["seed=0"]])
    assert checked == []  # the stacked launcher composes and checks each job before any trains
    sweeper.launcher = object()  # any other launcher: Hydra's check
    sweeper.validate_batch_is_legal([["seed=0"]])
    assert checked == [[["seed=0"]]]


def test_jobs_written_together_rewrite_the_tables_once_not_after_each_job(tmp_path, monkeypatch):
    written = []
    monkeypatch.setattr(tables, "write_tables", lambda sweep_dir, rows: written.append(sweep_dir))
    monkeypatch.setattr(tables, "job_rows", lambda sweep_dir, unfinished="failed": [])
    job = SimpleNamespace(mode=RunMode.MULTIRUN, runtime=SimpleNamespace(output_dir=str(tmp_path / "0")))
    monkeypatch.setattr(
        tables.HydraConfig,
        "get",
        staticmethod(lambda: SimpleNamespace(**vars(job), sweep=SimpleNamespace(dir=str(tmp_path)))),
    )
    summary, done = tables.SweepSummary(), JobReturn(status=JobStatus.COMPLETED)
    with tables.jobs_together(tmp_path):
        summary.on_job_end(config=None, job_return=done)
        summary.on_job_end(config=None, job_return=done)
        assert written == []
        tables.rewrite_tables(tmp_path)  # the launcher's, after a stack's jobs
    assert written == [tmp_path]
    summary.on_job_end(config=None, job_return=done)  # another launcher's job: after each
    assert written == [tmp_path, tmp_path]
