"""A value that reads Hydra's own config (``${hydra:...}``, as the lightning-hydra-template's
paths do): it trains where Hydra runs the job, and elsewhere it is one clear error."""

import json

import numpy as np
import pandas as pd
import pytest
from cli_helpers import train
from hydra.core.hydra_config import HydraConfig
from overrides import QUICK, SILENT

from trainlab import run, run_sweep
from trainlab.cli.precheck import check_before_training
from trainlab.errors import ConfigError
from trainlab.search.space import search_space

NO_CONTEXT = "${hydra:...} reads what Hydra sets for a job of python train.py; run() and run_sweep() have none"


def test_a_csv_path_under_hydra_runtime_cwd_trains_and_its_config_keeps_the_interpolation(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=200), "y": rng.normal(size=200)})
    frame["label"] = np.where(frame.x + frame.y > 0, "yes", "no")
    frame.to_csv(tmp_path / "train.csv", index=False)
    args = ["data=csv", "data.train=${hydra:runtime.cwd}/train.csv", "data.target=label", *QUICK[1:], "logger=none"]
    out = train(*args, "pictures.enabled=false", "hydra.run.dir=run", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "finished"
    assert "train: ${hydra:runtime.cwd}/train.csv" in (tmp_path / "run" / ".hydra" / "config.yaml").read_text()


def test_a_stacked_sweep_seeds_each_job_by_its_number(tmp_path):
    args = ["-m", "seed=${hydra:job.num}", "optimizer.lr=0.1,0.01", "hydra/launcher=stacked", "hydra.sweep.dir=s"]
    out = train(*args, *QUICK, "logger=none", "pictures.enabled=false", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    for job in (0, 1):  # its own config.yaml resolved, as a lone run's; Hydra's keeps the interpolation
        assert f"\nseed: {job}\n" in (tmp_path / "s" / str(job) / "config.yaml").read_text()
        assert "\nseed: ${hydra:job.num}\n" in (tmp_path / "s" / str(job) / ".hydra" / "config.yaml").read_text()


def test_a_lone_run_has_no_job_number_and_says_so_before_anything_is_made(tmp_path):
    with pytest.raises(ConfigError) as error:
        check_before_training(["seed=${hydra:job.num}", f"hydra.run.dir={tmp_path / 'run'}"], multirun=False)
    assert str(error.value) == (
        "seed=${hydra:job.num}: its interpolation cannot be resolved: "
        "hydra.job.num has no value in this job (a sweep's job number: only -m sets it)"
    )
    assert not (tmp_path / "run").exists()


def test_run_and_run_sweep_name_the_key_that_reads_hydra(tmp_path):
    with pytest.raises(ConfigError) as error:
        run(["data.name=${hydra:runtime.cwd}", *SILENT], tmp_path / "run", verbose=False)
    assert str(error.value) == f"data.name=${{hydra:runtime.cwd}}: its interpolation cannot be resolved: {NO_CONTEXT}"
    with pytest.raises(ConfigError) as error:  # data.seed is ${seed}: the key typed is named
        run_sweep(["seed=${hydra:job.num}", "optimizer.lr=0.1,0.01"], tmp_path / "sweep", verbose=False)
    assert "job 1 (seed=${hydra:job.num} optimizer.lr=0.01): seed=${hydra:job.num}: " in str(error.value)
    assert not (tmp_path / "run").exists() and not (tmp_path / "sweep").exists()


def test_a_search_whose_seed_reads_hydra_gives_its_sampler_a_seed():
    search = ["hydra/sweeper=optuna", "optimizer.lr=interval(0.01,0.1)", "seed=${hydra:job.num}"]
    with pytest.raises(ConfigError) as error:
        check_before_training(search, multirun=True)
    assert str(error.value).startswith("seed=${hydra:job.num}: the search's sampler takes its seed from seed ")
    assert str(error.value).endswith("give the sampler its own, e.g. hydra.sweeper.seed=0")
    check_before_training([*search, "hydra.sweeper.seed=0"], multirun=True)  # passes
    # each trial gets the override as Hydra's sweepers pass it: escaped, so the job resolves it
    assert search_space(search[1:]).fixed == ["seed=$\\{hydra\\:job.num\\}"]


def test_a_sweep_whose_first_job_cannot_compose_names_that_job_alone(tmp_path):
    with pytest.raises(ConfigError) as error:
        check_before_training(["seed=${hydra:job.num}", "optimizer=nope,adam", f"hydra.sweep.dir={tmp_path}"], True)
    assert str(error.value).startswith("1 of 2 sweep jobs cannot run; nothing was trained:\n  job 0 (")
    assert "optimizer=nope: optimizer has no option nope" in str(error.value)


def test_each_sweep_job_is_checked_with_its_own_job_number(tmp_path):
    jobs = ["trainer.max_epochs=${hydra:job.num}", "optimizer.lr=0.1,0.01", f"hydra.sweep.dir={tmp_path / 's'}"]
    with pytest.raises(ConfigError) as error:
        check_before_training(jobs, multirun=True)
    message = str(error.value)
    assert message.startswith("1 of 2 sweep jobs cannot run; nothing was trained:\n  job 0 (")
    assert message.endswith("trainer.max_epochs=0 is not allowed: an integer >= 1")  # job 1's is 1: it runs
    assert not (tmp_path / "s").exists()


def test_hydras_escaped_form_and_a_config_file_on_the_searchpath_read_hydra_too(tmp_path):
    check_before_training(["seed=$\\{hydra\\:job.num\\}", "optimizer.lr=0.1,0.01"], multirun=True)  # as overrides.yaml
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "by_number.yaml").write_text("# @package _global_\nseed: ${hydra:job.num}\n")
    check_before_training(["experiment=by_number", f"hydra.searchpath=[file://{tmp_path}]", "seed=0,1"], True)
    assert not HydraConfig.initialized()  # the pre-check's section is gone: Hydra sets each job's


def test_a_search_seed_that_leads_to_hydra_through_another_key_is_named_with_its_chain():
    search = ["hydra/sweeper=optuna", "optimizer.lr=interval(0.01,0.1)", "seed=${data.seed}"]
    with pytest.raises(ConfigError) as error:
        check_before_training([*search, "data.seed=${hydra:job.num}"], multirun=True)
    assert str(error.value).startswith("seed=${data.seed}, data.seed=${hydra:job.num}: the search's sampler ")


def test_a_stacked_search_seeds_each_trial_by_its_number_and_its_rerun_line_says_which(tmp_path):
    search = ["-m", "hydra/sweeper=optuna", "hydra/launcher=stacked", "hydra.sweeper.n_trials=2"]
    search.append("hydra.sweeper.n_jobs=2")
    args = [*search, "hydra.sweeper.seed=0", "optimizer.lr=interval(0.01,0.1)", "seed=${hydra:job.num}"]
    out = train(*args, *QUICK, "logger=none", "pictures.enabled=false", "hydra.sweep.dir=s", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    for trial in (0, 1):
        assert f"\nseed: {trial}\n" in (tmp_path / "s" / str(trial) / "config.yaml").read_text()
    best = json.loads((tmp_path / "s" / "best_trial.json").read_text())
    assert f" seed={best['trial']} " in best["command"] and "hydra:" not in best["command"]
