"""Sweeps on Hydra's launchers for several cores and clusters (``trainlab[scale]``): joblib,
submitit (its local executor here; the SLURM config composed), each job's share of the cores,
one sweep directory for all workers, and the one-line message when the extra is missing."""

import json
import os
import sys
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import train
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf
from overrides import QUICK

from trainlab import cli
from trainlab.config.composing import config_dir
from trainlab.config.launch import SWEEP_DIR_ENV, hydra_sweep_dir, register_resolvers
from trainlab.training import threads

pytest.importorskip("hydra_plugins.hydra_joblib_launcher", reason="needs trainlab[scale]")
QUICK_NO_PICTURES = [*QUICK, "pictures.enabled=false", "logger=csv"]


def _finished_sweep(cwd: Path, jobs: int) -> tuple[Path, pd.DataFrame]:
    """The one sweep dir under ``cwd``, after checking each job wrote a finished run dir in it."""
    (sweep_dir,) = (cwd / "outputs" / "multirun").glob("*/*")  # one sweep dir, whichever process resolved it
    table = pd.read_csv(sweep_dir / "summary.csv")
    assert sorted(table["job"]) == list(range(jobs))
    assert set(table["status"]) == {"finished"}
    for job in range(jobs):
        summary = json.loads((sweep_dir / str(job) / "summary.json").read_text())
        assert summary["status"] == "finished" and (sweep_dir / str(job) / "checkpoints" / "best.ckpt").is_file()
    return sweep_dir, table


def test_a_joblib_sweep_runs_jobs_side_by_side_in_one_sweep_dir(tmp_path):
    args = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "seed=1,2,3", *QUICK_NO_PICTURES]
    out = train("-m", *args, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    sweep_dir, table = _finished_sweep(tmp_path, jobs=3)
    assert sorted(table["overrides"].str.extract(r"seed=(\d)")[0].astype(int)) == [1, 2, 3]
    assert "sweep: 3 jobs" in out.stdout and str(sweep_dir.relative_to(tmp_path) / "summary.csv") in out.stdout
    log = (sweep_dir / "0" / "train.log").read_text()  # the worker's thread budget, in its log
    assert "CPU threads: 1 (joblib runs 2 jobs at once on" in log


def test_a_submitit_local_sweep_completes_with_its_summary(tmp_path):
    pytest.importorskip("submitit")
    out = train("-m", "hydra/launcher=submitit_local", "seed=1,2,3,4", *QUICK_NO_PICTURES, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    sweep_dir, _ = _finished_sweep(tmp_path, jobs=4)
    assert (sweep_dir / ".submitit").is_dir()  # submitit's own job files, in the sweep dir


def test_the_slurm_config_composes_to_submitits_slurm_launcher_with_the_usual_keys():
    register_resolvers()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("train", ["hydra/launcher=slurm", "hydra.launcher.partition=gpu"], return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert launcher.partition == "gpu" and launcher.cpus_per_task == 4 and launcher.array_parallelism == 64
    for name in ("timeout_min", "gpus_per_node", "tasks_per_node", "nodes", "mem_gb", "account"):
        assert name in launcher


@pytest.fixture
def hydra_job():
    """Sets HydraConfig as a launcher's worker has it: ``hydra_job({...launcher...})``."""

    def set_launcher(launcher: dict) -> None:
        HydraConfig.instance().cfg = OmegaConf.create({"hydra": {"launcher": launcher}})

    yield set_launcher
    HydraConfig.instance().cfg = None


@pytest.mark.parametrize(
    ("n_jobs", "cores", "share"), [(2, 2, 1), (2, 8, 4), (-1, 8, 1), (-2, 8, 1), (3, 8, 2), (16, 8, 1)]
)
def test_a_joblib_job_gets_its_share_of_the_cores(hydra_job, monkeypatch, n_jobs, cores, share):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: set(range(cores)), raising=False)
    hydra_job({"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher", "n_jobs": n_jobs})
    threads_given, why = threads.share()
    assert threads_given == share and "jobs at once on" in why


def test_the_share_caps_a_large_model_and_a_small_one_uses_one_thread(hydra_job, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "4")  # joblib's workers have it set: the share still decides
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: set(range(8)), raising=False)
    hydra_job({"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher", "n_jobs": 4})
    assert threads.choose(None, n_params=threads.SMALL_STEP, batch_size=1, device_type="cpu")[0] == 2
    assert threads.choose(None, n_params=10, batch_size=1, device_type="cpu")[0] == 1
    assert threads.choose(3, n_params=10, batch_size=1, device_type="cpu")[0] == 3  # trainer.threads wins
    assert threads.choose(None, n_params=10, batch_size=1, device_type="cuda")[0] is None


def test_a_submitit_job_gets_cpus_per_task(hydra_job):
    hydra_job({"_target_": "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher", "cpus_per_task": 6})
    assert threads.share() == (6, "hydra.launcher.cpus_per_task=6")
    hydra_job({"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"})
    assert threads.share() is None


def test_a_worker_resolves_the_sweep_dir_its_sweep_named(monkeypatch, tmp_path):
    monkeypatch.setenv(SWEEP_DIR_ENV, str(tmp_path / "the-sweep"))
    assert hydra_sweep_dir("outputs/multirun") == str(tmp_path / "the-sweep")


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("hydra/launcher=joblib", "hydra/launcher=joblib needs Hydra's joblib launcher"),
        ("hydra/launcher=submitit_slurm", "hydra/launcher=submitit_slurm needs Hydra's submitit launcher"),
        ("hydra/sweeper=optuna", "hydra/sweeper=optuna needs Optuna"),
    ],
)
def test_a_missing_extra_is_one_line_naming_it_with_exit_2(monkeypatch, capsys, tmp_path, override, words):
    import importlib.util

    real = importlib.util.find_spec
    missing = ("hydra_plugins.hydra_joblib_launcher", "hydra_plugins.hydra_submitit_launcher", "optuna")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in missing else real(name, *a))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["train.py", "-m", override, "seed=1,2"])
    with pytest.raises(SystemExit) as exit_info:
        cli.train()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == f'error: {words}, which is not installed: pip install "trainlab[scale]"'
    assert list(tmp_path.iterdir()) == []  # nothing written
