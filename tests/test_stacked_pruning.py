"""Pruning inside a stack: an Optuna search whose batches train as stacks (``hydra/launcher=stacked``)
prunes each member as its lone trial would be pruned (``trainlab.training.callbacks.pruning.StackPruning``).

- Each pruner by name (median, percentile, successive halving, Hyperband), in one process:
  members judged epoch by epoch in member order decide as trials run one after another.
- A real search, stacked against the same search on the basic launcher: the same trials pruned
  at the same epochs, the same intermediate values in the study, a pruned member's summary.json
  and best.ckpt as its lone pruned trial's, the survivors' metrics as their lone runs'.
"""

import dataclasses
import json
import math
from pathlib import Path
from types import SimpleNamespace

import optuna
import pandas as pd
import pytest
import torch
from cli_helpers import train
from optuna.trial import TrialState, create_trial
from overrides import QUIET

from trainlab.errors import Pruned
from trainlab.files.checkpoints import load_checkpoint
from trainlab.search.link import TrialLink, member_trial, members, of_config, open_study
from trainlab.search.settings import make_pruner, pruner_name
from trainlab.training.callbacks.pruning import StackPruning, stack_pruning
from trainlab.training.records import PRUNED, Record, Rules

optuna.logging.set_verbosity(optuna.logging.WARNING)

EPOCHS = 4
# Each trial's val/loss per epoch: two done trials, then a batch of four: the first two good,
# the last two behind (one from the start, one later).
DONE = [[0.60, 0.50, 0.45, 0.40], [0.70, 0.55, 0.50, 0.48]]
BATCH = [[0.55, 0.45, 0.35, 0.30], [0.65, 0.52, 0.46, 0.41], [0.90, 0.88, 0.87, 0.86], [0.62, 0.60, 0.59, 0.58]]
PRUNERS = {
    "median": {"n_startup_trials": 1, "n_warmup_steps": 0},
    "percentile": {"percentile": 50.0, "n_startup_trials": 1},
    "successive_halving": {"min_resource": 1, "reduction_factor": 2},
    "hyperband": {"min_resource": 1, "max_resource": EPOCHS, "reduction_factor": 2},
}


def _study(name: str, pruner: str, args: dict) -> optuna.Study:
    """An in-memory study with the ``DONE`` trials complete and the batch's four asked."""
    study = optuna.create_study(study_name="pruning", pruner=make_pruner(pruner, args))
    for curve in DONE:
        values = {step: value for step, value in enumerate(curve, 1)}
        study.add_trial(create_trial(value=curve[-1], intermediate_values=values, params={}, distributions={}))
    for _ in BATCH:
        study.ask()
    open_study(name, "pruning", pruner_name(pruner), args, study=study)  # as the sweeper registers its own
    return study


def _rules() -> Rules:
    return Rules(max_epochs=EPOCHS, monitor="val/loss", mode="min")


def _stacked(pruner: str, args: dict) -> tuple[dict[int, int], optuna.Study]:
    """The batch as one stack: every member's epoch e before any member's e + 1. {trial: epoch pruned}."""
    study = _study("memory://stacked", pruner, args)
    links = [TrialLink("memory://stacked", "pruning", pruner_name(pruner), args, number) for number in range(2, 6)]
    callback = StackPruning(links, "val/loss")
    module = SimpleNamespace(records=[Record(_rules()) for _ in BATCH])
    trainer = SimpleNamespace(current_epoch=0, should_stop=False)
    callback.on_fit_start(trainer, module)
    for epoch in range(1, EPOCHS + 1):
        trainer.current_epoch = epoch - 1
        for record, curve in zip(module.records, BATCH, strict=True):
            if record.training:  # the stack steps its live members only
                record.finish_epoch({"epoch": epoch, "val/loss": curve[epoch - 1]})
        callback.on_train_epoch_end(trainer, module)
    pruned = {2 + m: r.pruned.epoch for m, r in enumerate(module.records) if r.pruned is not None}
    for m, record in enumerate(module.records):
        assert (record.stopped_by == PRUNED) == (2 + m in pruned)
        if record.pruned is not None:
            assert isinstance(record.pruned, Pruned) and record.pruned.trial == 2 + m
            assert len(record.history) == record.pruned.epoch  # it trained no epoch after
            assert record.pruned.value == BATCH[m][record.pruned.epoch - 1]
    assert trainer.should_stop == (not any(r.training for r in module.records))
    return pruned, study


def _one_at_a_time(pruner: str, args: dict) -> tuple[dict[int, int], optuna.Study]:
    """The batch as the basic launcher runs it: each trial's every epoch before the next trial's."""
    study = _study("memory://lone", pruner, args)
    pruned = {}
    for number, curve in zip(range(2, 6), BATCH, strict=True):
        trial = optuna.trial.Trial(study, study.trials[number]._trial_id)
        for epoch, value in enumerate(curve, 1):
            trial.report(value, epoch)
            if trial.should_prune():
                pruned[number] = epoch
                break
    return pruned, study


@pytest.mark.parametrize("pruner", list(PRUNERS))
def test_each_pruner_decides_per_member_as_for_trials_run_one_at_a_time(pruner):
    stacked, ours = _stacked(pruner, PRUNERS[pruner])
    lone, theirs = _one_at_a_time(pruner, PRUNERS[pruner])
    assert stacked == lone and stacked, (pruner, stacked, lone)  # some member pruned, as alone
    assert len(stacked) < len(BATCH)  # and some train on
    for number in range(2, 6):  # what each trial reported: its epochs up to its pruning
        assert ours.trials[number].intermediate_values == theirs.trials[number].intermediate_values


def test_a_member_that_did_not_record_the_epoch_reports_nothing():
    """A member that diverged in the epoch (a lone run raises: nothing reported) or stopped before."""
    _study("memory://quiet", "median", PRUNERS["median"])
    link = TrialLink("memory://quiet", "pruning", "MedianPruner", PRUNERS["median"], 2)
    record = Record(_rules())
    record.finish_epoch({"epoch": 1, "val/loss": 5.0})
    callback = StackPruning([link], "val/loss")
    trainer, module = SimpleNamespace(current_epoch=1, should_stop=False), SimpleNamespace(records=[record])
    callback.on_fit_start(trainer, module)
    callback.on_train_epoch_end(trainer, module)  # epoch 2: its last row is epoch 1's
    assert record.training and not link.trial().study.trials[2].intermediate_values


def test_a_pruned_record_keeps_its_error_through_its_state():
    record = Record(_rules())
    record.finish_epoch({"epoch": 1, "val/loss": 0.5})
    record.prune(Pruned(7, 1, "val/loss", 0.5))
    again = Record(_rules())
    again.load_state_dict(record.state_dict())
    assert again.stopped_by == PRUNED and not again.training
    assert (again.pruned.trial, again.pruned.epoch, again.pruned.monitor, again.pruned.value) == (7, 1, "val/loss", 0.5)
    assert "pruned" not in Record(_rules()).state_dict()  # a record not pruned: its data as before


def test_the_launcher_names_each_members_trial_while_its_stacks_train():
    link = TrialLink("sqlite:///x.db", "s", "MedianPruner", {}, 3)
    env = {"TRAINLAB_OPTUNA_TRIAL": json.dumps(dataclasses.asdict(link))}
    config = SimpleNamespace(hydra=SimpleNamespace(job={"env_set": env}))
    assert of_config(config) == link
    assert of_config(SimpleNamespace(hydra=SimpleNamespace(job={}))) is None
    a, b = SimpleNamespace(monitor="val/loss"), SimpleNamespace(monitor="val/loss")
    with members([a, b], [link, None]):
        assert member_trial(a) == link and member_trial(b) is None
        assert stack_pruning([b]) == []
        (callback,) = stack_pruning([a, b])
        assert callback.links == [link, None]
    assert member_trial(a) is None


# ----- real searches: stacked against one trial at a time -----

SEARCH_EPOCHS = 5
# Two batches of four trials, each batch one stack: the first batch completes (no trial is
# complete while it trains), the second is judged against it.
SEARCH = [
    "-m",
    "hydra/sweeper=optuna",
    "hydra.sweeper.n_trials=8",
    "hydra.sweeper.n_jobs=4",
    "hydra.sweeper.sampler=random",
    "hydra.sweeper.seed=3",
    "hydra.sweeper.study_name=pruning",  # Hyperband draws each trial's bracket from it: one name for both
    "hydra.sweeper.pruner=median",
    "hydra.sweeper.pruner_args={n_startup_trials:2,n_warmup_steps:2}",
    "optimizer.lr=tag(log,interval(1e-4,3e-1))",
    f"trainer.max_epochs={SEARCH_EPOCHS}",
    "data.n_samples=200",
    "regularization=[]",  # dropout off: a member equals its lone run (1e-4)
    "speed.last_checkpoint_seconds=0",  # a lone run's last.ckpt holds every epoch, as a member's
    "pictures.enabled=false",
    "logger=none",
    *QUIET,
]


def relative(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-12)


@pytest.fixture(scope="module")
def searches(tmp_path_factory) -> dict[str, Path]:
    """The search stacked and on the basic launcher: launcher -> sweep dir."""
    cwd = tmp_path_factory.mktemp("pruning")
    dirs = {}
    for launcher in ("stacked", "basic"):
        dirs[launcher] = cwd / launcher
        out = train(*SEARCH, f"hydra/launcher={launcher}", f"hydra.sweep.dir={dirs[launcher]}", cwd=cwd)
        assert out.returncode == 0, out.stderr
    return dirs


def _trials(sweep_dir: Path) -> list[optuna.trial.FrozenTrial]:
    study = optuna.load_study(study_name="pruning", storage=f"sqlite:///{sweep_dir}/optuna.db")
    return study.get_trials()


def test_the_same_trials_are_pruned_at_the_same_epochs_with_the_same_values(searches):
    stacked, basic = _trials(searches["stacked"]), _trials(searches["basic"])
    assert len(stacked) == len(basic) == 8
    assert [t.state for t in stacked] == [t.state for t in basic]
    assert [t.params for t in stacked] == [t.params for t in basic]  # the seeded sampler: the same batches
    pruned = [t.number for t in stacked if t.state == TrialState.PRUNED]
    assert pruned and len(pruned) < 8, pruned  # some pruned, some complete: the test can fail
    assert {t.state for t in stacked} == {TrialState.PRUNED, TrialState.COMPLETE}
    for ours, theirs in zip(stacked, basic, strict=True):
        assert list(ours.intermediate_values) == list(theirs.intermediate_values)  # the same epochs
        for step, value in ours.intermediate_values.items():
            assert relative(value, theirs.intermediate_values[step]) < 1e-4, (ours.number, step)
        if ours.state == TrialState.COMPLETE:
            assert relative(ours.value, theirs.value) < 1e-4
    stack_table = pd.read_csv(searches["stacked"] / "summary.csv").sort_values("trial")
    assert list(stack_table[stack_table["state"] == "pruned"]["trial"]) == pruned


def test_a_pruned_member_ends_as_its_lone_pruned_trial(searches):
    pruned = [t.number for t in _trials(searches["stacked"]) if t.state == TrialState.PRUNED]
    epochs = set()
    for number in pruned:
        member, lone = searches["stacked"] / str(number), searches["basic"] / str(number)
        ours, theirs = (json.loads((d / "summary.json").read_text()) for d in (member, lone))
        assert ours.pop("stack") == {"size": 4}  # a member's one key more
        assert ours.pop("run_dir") == str(member) and theirs.pop("run_dir") == str(lone)
        assert ours.pop("last_checkpoint") == str(member / "checkpoints" / "last.ckpt")
        assert theirs.pop("last_checkpoint") == str(lone / "checkpoints" / "last.ckpt")
        assert relative(ours.pop("value"), theirs.pop("value")) < 1e-4
        assert ours == theirs and ours["status"] == "pruned" and ours["trial"] == number
        assert ours["epochs"] == ours["epoch"] == ours["epochs_kept"] < SEARCH_EPOCHS
        epochs.add(ours["epoch"])
        best, alone = (load_checkpoint(d / "checkpoints" / "best.ckpt") for d in (member, lone))
        assert best["epoch"] == alone["epoch"]  # its best epoch's weights
        for key, value in alone["state_dict"].items():
            assert torch.allclose(best["state_dict"][key], value, rtol=1e-4, atol=1e-6), (number, key)
        trial = json.loads((member / "trial.json").read_text())
        assert trial["state"] == "pruned" and trial["value"] is None
    assert epochs, pruned


def test_the_survivors_equal_their_lone_runs(searches):
    survivors = [t.number for t in _trials(searches["stacked"]) if t.state == TrialState.COMPLETE]
    assert survivors
    for number in survivors:
        ours, theirs = (json.loads((searches[k] / str(number) / "summary.json").read_text()) for k in searches)
        assert ours["status"] == theirs["status"] and ours["best_epoch"] == theirs["best_epoch"]
        assert ours["metrics"].keys() == theirs["metrics"].keys()
        for key, value in theirs["metrics"].items():
            assert math.isclose(ours["metrics"][key], value, rel_tol=1e-4, abs_tol=1e-6), (number, key)


@pytest.mark.slow
@pytest.mark.parametrize("pruner", list(PRUNERS))
def test_each_pruner_prunes_inside_a_stacked_search(pruner, tmp_path):
    args = PRUNERS[pruner] | ({"n_startup_trials": 2} if pruner in ("median", "percentile") else {})
    shown = "{" + ",".join(f"{k}:{v}" for k, v in args.items()) + "}"
    search = [a for a in SEARCH if not a.startswith("hydra.sweeper.pruner")]
    sweep_dirs = {}
    for launcher in ("stacked", "basic"):
        sweep_dirs[launcher] = tmp_path / launcher
        out = train(
            *search,
            f"hydra.sweeper.pruner={pruner}",
            f"hydra.sweeper.pruner_args={shown}",
            f"hydra/launcher={launcher}",
            f"hydra.sweep.dir={sweep_dirs[launcher]}",
            cwd=tmp_path,
        )
        assert out.returncode == 0, out.stderr
    stacked, basic = (_trials(sweep_dirs[k]) for k in ("stacked", "basic"))
    states = [t.state for t in stacked]
    assert TrialState.PRUNED in states and TrialState.COMPLETE in states, (pruner, states)
    # One stack per batch, in trial order: each pruner decides as for trials run one at a time.
    assert states == [t.state for t in basic]
    assert [list(t.intermediate_values) for t in stacked] == [list(t.intermediate_values) for t in basic]


def test_a_trial_whose_folds_are_members_of_one_stack_is_not_pruned():
    link = TrialLink("sqlite:///x.db", "s", "MedianPruner", {}, 3)
    other = TrialLink("sqlite:///x.db", "s", "MedianPruner", {}, 4)
    fold, job = SimpleNamespace(monitor="val/loss"), SimpleNamespace(monitor="val/loss")
    with members([fold, job], [link, other]):
        assert stack_pruning([fold, fold, fold]) == []
        (callback,) = stack_pruning([fold, fold, job])
        assert callback.links == [None, None, other]
