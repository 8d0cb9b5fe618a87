"""Which jobs of a sweep share a stack (trainlab.sweeps.grouping), on real composed configs."""

from __future__ import annotations

import subprocess
import sys
from functools import cache

import pytest
from omegaconf import OmegaConf

from trainlab.config.composing import compose
from trainlab.config.jobs import sweep_jobs
from trainlab.sweeps.grouping import VARYING, group_jobs


@cache
def _cfg(overrides: tuple[str, ...]):
    return compose(list(overrides))[0]


def cfgs(*jobs: list[str] | str):
    """One composed config per job; a job is an override list, or one override string."""
    return [_cfg(tuple([job] if isinstance(job, str) else job)) for job in jobs]


def sweep(*overrides: str):
    return cfgs(*sweep_jobs(list(overrides)))


def test_seeds_and_learning_rates_share_one_stack():
    jobs = sweep("seed=0,1,2,3", "optimizer.lr=0.01,0.1")
    grouping = group_jobs(jobs)
    assert [s.jobs for s in grouping.stacks] == [list(range(8))]
    assert grouping.stacks[0].cfgs == jobs
    assert grouping.split_by == []
    assert grouping.describe() == "8 jobs in 1 stack of 8"
    assert grouping.stacks[0].varying == ["data.seed", "optimizer.lr", "seed"]  # data.seed is ${seed}


def test_hidden_sizes_split_in_first_job_order():
    grouping = group_jobs(sweep("seed=0,1", "model.hidden=[16,16],[32,32]"))
    assert [s.jobs for s in grouping.stacks] == [[0, 2], [1, 3]]
    assert grouping.split_by == ["model.hidden"]
    assert grouping.describe() == "4 jobs in 2 stacks (of 2, 2); split by model.hidden"


def test_another_optimizer_splits_by_its_class_and_its_own_options():
    grouping = group_jobs(cfgs("optimizer=adam", "optimizer=sgd"))
    assert len(grouping.stacks) == 2
    # betas, eps (adam) and momentum, dampening (sgd) are VARYING: the class already says why
    assert grouping.split_by == ["optimizer._target_", "optimizer.amsgrad", "optimizer.nesterov"]


@pytest.mark.parametrize(
    ("jobs", "split_by"),
    [
        (["optimizer.amsgrad=true", "optimizer.amsgrad=false"], ["optimizer.amsgrad"]),
        (["regularization=[dropout]", "regularization=[]"], ["regularization.dropout"]),
        (["regularization=[weight_decay]", "regularization=[]"], ["regularization.weight_decay"]),
        (["data.batch_size=16", "data.batch_size=64"], ["data.batch_size"]),
    ],
)
def test_what_changes_the_computation_splits(jobs, split_by):
    grouping = group_jobs(cfgs(*jobs))
    assert [s.jobs for s in grouping.stacks] == [[0], [1]]
    assert grouping.split_by == split_by


@pytest.mark.parametrize(
    ("jobs", "varying"),
    [
        (
            [["regularization=[dropout]", f"regularization.dropout.p={p}"] for p in (0.1, 0.3)],
            ["regularization.dropout.p"],
        ),
        (["trainer.max_epochs=5", "trainer.max_epochs=10"], ["trainer.max_epochs"]),
        ([["data=moons", f"data.noise={n}"] for n in (0.1, 0.3)], ["data.noise"]),
    ],
)
def test_values_that_keep_shapes_share_a_stack(jobs, varying):
    jobs = cfgs(*jobs)
    grouping = group_jobs(jobs)
    assert [s.jobs for s in grouping.stacks] == [[0, 1]]
    assert grouping.split_by == []
    assert grouping.stacks[0].varying == varying


def test_max_stack_cuts_into_consecutive_pieces():
    grouping = group_jobs(sweep("seed=0,1,2,3", "optimizer.lr=0.01,0.1"), max_stack=3)
    assert [s.jobs for s in grouping.stacks] == [[0, 1, 2], [3, 4, 5], [6, 7]]
    assert grouping.split_by == []
    assert grouping.describe() == "8 jobs in 3 stacks (of 3, 3, 2)"
    with pytest.raises(ValueError, match="max_stack"):
        group_jobs([], max_stack=0)


def test_jobs_that_share_nothing():
    jobs = cfgs(
        ["activation=relu", "model.hidden=[8]"],
        ["activation=tanh", "model.hidden=[16]"],
        ["activation=gelu", "model.hidden=[32]"],
    )
    grouping = group_jobs(jobs)
    assert [s.jobs for s in grouping.stacks] == [[0], [1], [2]]
    assert grouping.describe() == (
        "3 jobs share nothing, trained as 3 stacks of one; split by activation.name, model.hidden"
    )
    assert group_jobs(jobs[:1]).describe() == "1 job in 1 stack of 1"
    assert group_jobs([]).describe() == "no jobs"


def test_a_key_only_one_job_has_differs():
    a = OmegaConf.create({"model": {"hidden": [4]}, "extra": {}, "seed": 1})
    b = OmegaConf.create({"model": {"hidden": [4]}, "seed": 2})
    c = OmegaConf.create({"model": {"hidden": [4]}, "extra": {}, "seed": None})
    assert group_jobs([a, b]).split_by == ["extra"]
    assert group_jobs([a, c]).split_by == ["seed"]  # set in one, None in the other
    assert group_jobs([a, c], max_stack=None).stacks[0].varying == []  # each its own stack
    assert group_jobs([b, OmegaConf.create({"model": {"hidden": [4]}, "seed": 3})]).stacks[0].varying == ["seed"]


def test_varying_names_keys_of_a_real_config():
    cfg = _cfg(("optimizer=rmsprop", "regularization=[dropout,early_stopping,weight_decay]", "data=moons"))
    flat = {k for k, _ in _walk(OmegaConf.to_container(cfg, resolve=True))}
    others = {f"optimizer.{k}" for k in ("momentum", "dampening", "betas", "rho", "lr_decay")}
    others.add("optimizer.initial_accumulator_value")
    assert set(VARYING) - flat <= others  # the others belong to sgd, adam, adadelta, adagrad


def _walk(node, prefix=""):
    for key, value in node.items():
        dotted = f"{prefix}.{key}" if prefix else key
        yield from _walk(value, dotted) if isinstance(value, dict) and value else [(dotted, value)]


def test_import_loads_no_heavy_module():
    code = (
        "import sys, trainlab.sweeps.grouping; "
        "print(sorted(m for m in ('torch', 'lightning', 'sklearn', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
