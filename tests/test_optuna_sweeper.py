"""hydra/sweeper=optuna: the search space from Hydra's sweep grammar, the sweeper's settings,
the ask/launch/tell loop, and real searches (trials, pruning, two workers on one study)."""

import itertools
import json
import os
import subprocess
from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml
from cli_helpers import command, train
from hydra.core.override_parser.overrides_parser import OverridesParser
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState
from overrides import QUIET

from trainlab.errors import ConfigError
from trainlab.search import loop
from trainlab.search.checks import check_search
from trainlab.search.link import ENV, StudyLink
from trainlab.search.settings import check_settings, make_pruner, make_sampler, storage_url
from trainlab.search.space import search_space

SMALL = ["data.n_samples=200", "pictures.enabled=false", "logger=csv", *QUIET]
optuna.logging.set_verbosity(optuna.logging.WARNING)


# ----- the search space: each form of Hydra's sweep grammar, as an Optuna distribution -----


def distribution(text):
    return search_space([text]).dimensions[0].distribution


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("optimizer.lr=tag(log,interval(1e-4,1e-1))", FloatDistribution(1e-4, 1e-1, log=True)),
        ("optimizer.lr=interval(0.001,0.1)", FloatDistribution(0.001, 0.1)),
        ("data.batch_size=interval(8,64)", IntDistribution(8, 64)),
        ("data.batch_size=tag(log,interval(8,64))", IntDistribution(8, 64, log=True)),
        ("data.batch_size=tag(int,interval(8.0,64.0))", IntDistribution(8, 64)),
        ("seed=range(1,5)", IntDistribution(1, 4)),
        ("seed=range(0,10,3)", IntDistribution(0, 9, step=3)),
        ("seed=tag(log,range(1,9))", IntDistribution(1, 8, log=True)),
        ("regularization.dropout.p=range(0,0.5,0.125)", FloatDistribution(0.0, 0.375, step=0.125)),
        ("optimizer=choice(adam,sgd,rmsprop)", CategoricalDistribution(["adam", "sgd", "rmsprop"])),
        ("optimizer=adam,sgd", CategoricalDistribution(["adam", "sgd"])),
        ("optimizer.lr=choice(0.1,0.01)", CategoricalDistribution([0.1, 0.01])),
        ("model.hidden=choice([8],[16,16])", CategoricalDistribution(["[8]", "[16,16]"])),
    ],
)
def test_each_sweep_form_is_its_optuna_distribution(text, expected):
    assert distribution(text) == expected


def test_fixed_overrides_reach_every_trial_and_values_become_overrides():
    space = search_space(
        [
            "model=mlp",
            "optimizer.lr=tag(log,interval(1e-4,1e-1))",
            "model.hidden=choice([8],[16,16])",
            "+foo=range(1,3)",
        ]
    )
    assert space.fixed == ["model=mlp"]
    assert [d.name for d in space.dimensions] == ["optimizer.lr", "model.hidden", "foo"]
    trial = space.overrides({"optimizer.lr": 0.00125, "model.hidden": "[16,16]", "foo": 2})
    assert trial == ["model=mlp", "optimizer.lr=0.00125", "model.hidden=[16,16]", "+foo=2"]
    low, high = space.probe_jobs()
    assert low == ["model=mlp", "optimizer.lr=0.0001", "model.hidden=[8]", "+foo=1"]
    assert high == ["model=mlp", "optimizer.lr=0.1", "model.hidden=[16,16]", "+foo=2"]


def test_params_from_a_config_are_searched_and_the_command_line_wins():
    space = search_space(["optimizer.lr=interval(0.1,0.2)"], {"optimizer.lr": "interval(1,2)", "seed": "range(1,3)"})
    assert {d.name: d.distribution for d in space.dimensions} == {
        "optimizer.lr": FloatDistribution(0.1, 0.2),
        "seed": IntDistribution(1, 2),
    }


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("optimizer=glob(*)", "cannot be searched"),
        ("optimizer.lr=tag(log,interval(0,1))", "low > 0"),
        ("seed=tag(log,range(1,9,2))", "step 1"),
        ("optimizer.lr=interval(0.2,0.1)", "low < high"),
    ],
)
def test_a_space_optuna_cannot_take_is_one_config_error(text, words):
    with pytest.raises(ConfigError, match=words):
        search_space([text])


# ----- settings: sampler, pruner and storage by name -----


def test_samplers_and_pruners_by_name_with_their_arguments():
    assert isinstance(make_sampler("random", seed=1), optuna.samplers.RandomSampler)
    assert isinstance(make_sampler("TPESampler", {"n_startup_trials": 3}, seed=1), optuna.samplers.TPESampler)
    assert isinstance(make_pruner("hyperband"), optuna.pruners.HyperbandPruner)
    assert isinstance(make_pruner("none"), optuna.pruners.NopPruner)
    assert isinstance(make_pruner(None), optuna.pruners.NopPruner)
    assert isinstance(make_pruner("MedianPruner", {"n_startup_trials": 1}), optuna.pruners.MedianPruner)


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"sampler": "Tpe2"}, "hydra.sweeper.sampler=Tpe2: not an Optuna sampler; did you mean TPESampler?"),
        ({"pruner": "median2"}, "hydra.sweeper.pruner=median2: not an Optuna pruner; .*allowed: MedianPruner"),
        ({"pruner_args": {"n_startup": 1}}, "hydra.sweeper.pruner_args: MedianPruner refuses n_startup=1"),
        ({"n_trails": 3}, "hydra.sweeper.n_trails: .*did you mean n_trials"),
        ({"n_trials": 0}, "hydra.sweeper.n_trials=0: allowed: an integer >= 1"),
        ({"storage": "optuna.db"}, "hydra.sweeper.storage=optuna.db: not a storage"),
        ({"heartbeat_seconds": 0}, r"hydra.sweeper.heartbeat_seconds=0: allowed: a number of seconds > 0"),
    ],
)
def test_a_bad_setting_names_the_key_and_what_is_allowed(values, words):
    with pytest.raises(ConfigError, match=words):
        check_settings(values)


def test_storage_forms(tmp_path):
    assert storage_url(None, tmp_path) == f"sqlite:///{tmp_path.resolve()}/optuna.db"
    assert storage_url("postgresql://u@db/optuna", tmp_path) == "postgresql://u@db/optuna"
    assert storage_url(f"journal:{tmp_path}/j.log", tmp_path) == f"journal:{tmp_path.resolve()}/j.log"


def test_a_journal_storage_holds_a_study(tmp_path):
    from trainlab.search.study import create_or_load

    url = storage_url(f"journal:{tmp_path}/optuna.log", tmp_path)
    study = create_or_load(url, "s", make_sampler("random", seed=0), make_pruner("none"), "minimize")
    study.tell(study.ask(), 1.0)
    again = create_or_load(url, "s", make_sampler("random", seed=0), make_pruner("none"), "minimize")
    assert len(again.trials) == 1 and (tmp_path / "optuna.log").is_file()


# ----- how a job finds its trial -----


def test_the_jobs_override_carries_the_study_and_the_job_number(monkeypatch):
    link = StudyLink("sqlite:////tmp/it's here/optuna.db", "a 'study'", "MedianPruner", {"n_startup_trials": 1})
    parsed = OverridesParser.create().parse_overrides([link.override()])[0]
    assert parsed.key_or_group == f"hydra.job.env_set.{ENV}"
    text = parsed.value().replace("${hydra.job.num}", "7")
    monkeypatch.setenv(ENV, text)
    from trainlab.search.link import current

    job = current()
    assert (job.storage, job.study, job.number, job.pruner_args) == (
        link.storage,
        link.study,
        7,
        {"n_startup_trials": 1},
    )


# ----- the loop: n_trials is the study's size, whoever runs its trials -----


def test_two_workers_on_one_study_run_n_trials_between_them_each_once(tmp_path):
    study = optuna.create_study(sampler=make_sampler("random", seed=0))
    space = search_space(["optimizer.lr=interval(0.0,1.0)"])
    ran_by = {}

    def worker(name, n_jobs):
        def launch(batch, first):
            for number in range(first, first + len(batch)):
                assert number not in ran_by
                ran_by[number] = name
            if name == "a" and first == 0:  # the other worker runs while a's first trial trains
                loop.run(loop.Search(study, space, 6, 1, lambda first: None), worker("b", 1), lambda: None)
            return [loop.Ended(False, float(o[-1].split("=")[1]), None) for o in batch]

        return launch

    ran = loop.run(loop.Search(study, space, 6, 2, lambda first: None), worker("a", 2), lambda: None)
    assert sorted(ran_by) == list(range(6)) and len(study.trials) == 6
    assert ran == list(ran_by.values()).count("a") == 2  # its first batch of two; b ran the other four
    assert all(t.state == TrialState.COMPLETE for t in study.trials)


def test_job_states_from_how_they_ended(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps({"status": "pruned", "epoch": 2}))
    assert loop.state_of(loop.Ended(False, None, tmp_path)) == ("pruned", None, None)
    assert loop.state_of(loop.Ended(True, None, None)) == ("failed", None, "the job raised (its train.log says why)")
    assert loop.state_of(loop.Ended(False, float("nan"), None)) == ("failed", None, "no monitored value")
    assert loop.state_of(loop.Ended(False, 0.5, None)) == ("complete", 0.5, None)
    (tmp_path / "summary.json").write_text(json.dumps({"status": "diverged", "error": "diverged at epoch 2"}))
    assert loop.state_of(loop.Ended(False, None, tmp_path)) == ("failed", None, "diverged at epoch 2")


# ----- the command line's pre-check -----


def test_the_pre_check_composes_the_searchs_ends():
    check_search(["hydra/sweeper=optuna", "optimizer.lr=tag(log,interval(1e-4,1e-1))", "model=mlp"])
    with pytest.raises(ConfigError, match=r"optimizer.lrr=0.0001: .*did you mean lr"):
        check_search(["hydra/sweeper=optuna", "optimizer.lrr=tag(log,interval(1e-4,1e-1))"])
    with pytest.raises(ConfigError, match=r"regularization.dropout.p=1.5 is not allowed: .*the search's job at"):
        check_search(["hydra/sweeper=optuna", "regularization=dropout", "regularization.dropout.p=interval(0.1,1.5)"])
    params = 'hydra.sweeper.params={optimizer.lr:"tag(log,interval(1e-4,1e-1))"}'  # as Hydra's optuna sweeper
    check_search(["hydra/sweeper=optuna", params])
    with pytest.raises(ConfigError, match="nothing to search"):
        check_search(["hydra/sweeper=optuna", "model=mlp"])
    check_search(["hydra/sweeper=basic", "whatever=1,2"])  # another sweeper: not ours to check


def test_a_bad_sampler_name_is_one_error_before_anything_runs(tmp_path):
    out = train(
        "-m", "hydra/sweeper=optuna", "hydra.sweeper.sampler=Tpe2", "optimizer.lr=interval(0.01,0.1)", cwd=tmp_path
    )
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().splitlines() == [
        "error: hydra.sweeper.sampler=Tpe2: not an Optuna sampler; did you mean TPESampler? allowed: "
        "TPESampler, RandomSampler, CmaEsSampler, GPSampler, QMCSampler, NSGAIISampler, NSGAIIISampler, "
        "BruteForceSampler"
    ]
    assert not any(tmp_path.iterdir())


# ----- real searches -----


def search(sweep_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return train("-m", "hydra/sweeper=optuna", *args, *SMALL, f"hydra.sweep.dir={sweep_dir}", cwd=cwd)


@pytest.fixture(scope="module")
def pruning_search(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """A 4-trial search in which the trials with the tiny lr fall behind: (sweep dir, its output)."""
    cwd = tmp_path_factory.mktemp("search")
    sweep_dir = cwd / "sweep"
    out = search(
        sweep_dir,
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.sampler=random",
        "hydra.sweeper.pruner_args={n_startup_trials:1,n_warmup_steps:0}",
        "optimizer.lr=choice(0.05,0.0001)",
        "trainer.max_epochs=4",
        cwd=cwd,
    )
    assert out.returncode == 0, out.stderr
    return sweep_dir, out


def test_a_search_lists_its_trials_and_prints_the_best_ones_command(pruning_search):
    sweep_dir, out = pruning_search
    table = pd.read_csv(sweep_dir / "summary.csv")
    assert sorted(table["trial"]) == [0, 1, 2, 3] and list(table["job"]) == list(table["trial"])
    assert set(table["state"]) <= {"complete", "pruned", "failed"} and "complete" in set(table["state"])
    assert (sweep_dir / "optuna.db").is_file() and len(pd.read_csv(sweep_dir / "optuna.csv")) == 4
    best = json.loads((sweep_dir / "best_trial.json").read_text())
    assert best["trial"] == int(table["trial"].iloc[0])  # the table is best first
    lr = best["params"]["optimizer.lr"]
    shown = out.stdout.splitlines()
    rerun = shown.index(next(line for line in shown if line.startswith("rerun it       python train.py ")))
    lines = [shown[rerun], *itertools.takewhile(lambda line: line.startswith(" " * 17), shown[rerun + 1 :])]
    assert all(line.endswith(" \\") for line in lines[:-1]) and max(map(len, lines)) <= 120  # runs on, 120 columns
    assert " ".join(line.removesuffix(" \\").strip() for line in lines) == f"rerun it       {best['command']}"
    assert best["command"].startswith("python train.py trainer.max_epochs=4")
    assert f"optimizer.lr={lr!r}" in best["command"]
    assert f"optuna-dashboard sqlite:///{sweep_dir.resolve()}/optuna.db" in out.stdout
    job = yaml.safe_load((sweep_dir / "0" / ".hydra" / "overrides.yaml").read_text())
    assert not any("hydra" in o for o in job)  # the job's link to its trial is Hydra's, not the job's


def test_a_trial_behind_the_others_is_pruned_with_its_epoch(pruning_search):
    sweep_dir, _ = pruning_search
    table = pd.read_csv(sweep_dir / "summary.csv")
    pruned = table[table["state"] == "pruned"]
    assert len(pruned) >= 1 and set(pruned["status"]) == {"pruned"}
    job = pruned.iloc[0]
    summary = json.loads((sweep_dir / str(job["job"]) / "summary.json").read_text())
    assert summary["status"] == "pruned" and summary["epoch"] == job["epochs"] < 4
    assert "0.0001" in job["overrides"]
    study = optuna.load_study(study_name=str(sweep_dir), storage=f"sqlite:///{sweep_dir}/optuna.db")
    assert study.trials[int(job["trial"])].state == TrialState.PRUNED


def test_resuming_a_pruned_trial_says_it_was_pruned(pruning_search):
    sweep_dir, _ = pruning_search
    table = pd.read_csv(sweep_dir / "summary.csv")
    job = table[table["state"] == "pruned"].iloc[0]
    run_dir = sweep_dir / str(job["job"])
    summary = json.loads((run_dir / "summary.json").read_text())
    out = train(f"resume={run_dir}", cwd=run_dir.parent)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().splitlines() == [
        f"error: resume={str(run_dir)!r} is not allowed: that run is Optuna trial {job['trial']}, pruned at epoch "
        f"{summary['epoch']} by its study's pruner; there is nothing to resume (to train it in full, run its "
        "overrides without resume=)"
    ]
    assert json.loads((run_dir / "summary.json").read_text()) == summary  # the run is as it was


@pytest.mark.slow  # the default run shares a study between three processes: tests/test_study_storage.py
def test_two_processes_share_one_study(tmp_path):
    storage = f"sqlite:///{tmp_path}/shared.db"
    args = [
        "-m",
        "hydra/sweeper=optuna",
        "hydra.sweeper.n_trials=8",
        f"hydra.sweeper.storage={storage}",
        "hydra.sweeper.study_name=shared",
        "optimizer.lr=tag(log,interval(1e-3,1e-1))",
        "trainer.max_epochs=1",
        *[a for a in SMALL if a != "logger=csv"],
        "logger=none",
    ]
    env = {**os.environ, "COLUMNS": "120"}
    workers = [
        subprocess.Popen(
            command(*args, f"hydra.sweep.dir={tmp_path / name}"),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name in ("a", "b")
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
    jobs = [int(p.name) for name in ("a", "b") for p in (tmp_path / name).iterdir() if p.name.isdigit()]
    assert sorted(jobs) == list(range(8))  # each trial once, in one worker or the other
    study = optuna.load_study(study_name="shared", storage=storage)
    ran, surplus = study.trials[:8], study.trials[8:]
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in ran)
    # Both asking for the last place at one instant: the one numbered 8 is not run (search.loop).
    assert all(t.state == TrialState.FAIL and "not run" in t.user_attrs["trainlab"] for t in surplus)


def test_a_batch_of_trials_trains_as_one_stack(tmp_path):
    sweep_dir = tmp_path / "sweep"
    out = train(
        "-m",
        "hydra/sweeper=optuna",
        "hydra/launcher=stacked",
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.n_jobs=2",
        "optimizer.lr=tag(log,interval(1e-3,1e-1))",
        "trainer.max_epochs=2",
        *[a for a in SMALL if a != "logger=csv"],
        "logger=none",  # the stacked launcher writes no CSV logs
        f"hydra.sweep.dir={sweep_dir}",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("2 jobs in 1 stack of 2") == 2  # each batch of two trials: one stack
    table = pd.read_csv(sweep_dir / "summary.csv")
    assert sorted(table["trial"]) == [0, 1, 2, 3] and set(table["state"]) == {"complete"}
