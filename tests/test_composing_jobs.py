"""compose_jobs: each job's config and choices are compose(job)'s, node for node, however the jobs
share the work (one composition per set of options, each override parsed once, the values every
job sets set once, a job's copy unpickled), and each job's config is its own."""

import copy

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, ListConfig, OmegaConf

from trainlab.config.composing import compose
from trainlab.config.jobs import compose_jobs, shared_first, shared_prefixes, sweep_jobs
from trainlab.errors import ConfigError


def nodes(cfg: DictConfig | ListConfig, path: str = "") -> list[tuple[object, ...]]:
    """Each node: its path, and a section's schema type and flags, or a leaf's type and value
    (an interpolation or a missing value: as written, which to_yaml compares)."""
    section = (path, "section", OmegaConf.get_type(cfg), OmegaConf.is_struct(cfg), OmegaConf.is_readonly(cfg))
    found: list[tuple[object, ...]] = [section]
    for key in range(len(cfg)) if isinstance(cfg, ListConfig) else list(cfg.keys()):
        name = f"{path}.{key}" if path else str(key)
        if OmegaConf.is_missing(cfg, key) or OmegaConf.is_interpolation(cfg, key):
            found.append((name, "unresolved"))
        elif isinstance(cfg[key], DictConfig | ListConfig):
            found += nodes(cfg[key], name)
        else:
            found.append((name, "leaf", type(cfg[key]), cfg[key]))
    return found


def refusals(cfg: DictConfig) -> list[tuple[object, ...]]:
    """What setting a word does to each leaf (its type refuses it, or takes it) and a new key
    to each section (struct mode refuses it): the node types and flags, seen from outside."""
    seen: list[tuple[object, ...]] = []
    for path, kind, *_ in nodes(cfg):
        if kind == "unresolved" or not path:
            continue
        key = f"{path}.not_a_key" if kind == "section" else str(path)
        target = copy.deepcopy(cfg)
        try:
            OmegaConf.update(target, key, "a-word", merge=True)
            seen.append((key, repr(OmegaConf.select(target, key))))
        except Exception as error:
            seen.append((key, type(error).__name__, str(error).splitlines()[0]))
    return seen


def assert_same_as_compose(jobs: list[list[str]], deep: bool = False) -> None:
    composed = compose_jobs(jobs)
    assert len(composed) == len(jobs)
    for job, (cfg, choices) in zip(jobs, composed, strict=True):
        alone, alone_choices = compose(job)
        assert choices == alone_choices, job
        assert OmegaConf.to_yaml(cfg) == OmegaConf.to_yaml(alone), job
        assert nodes(cfg) == nodes(alone), job
        if deep:
            assert refusals(cfg) == refusals(alone), job


def test_a_grid_of_options_and_values_composes_as_each_job_alone():
    jobs = sweep_jobs(
        [
            "model=mlp,perceptron",
            "data=random,csv",
            "data.val_fraction=0.1",
            "trainer.max_epochs=3",
            "seed=1,2",
            "optimizer.lr=0.1,0.001",
            "trainer.enable_progress_bar=false",
        ]
    )
    assert len(jobs) == 16
    assert_same_as_compose(jobs)


def test_node_types_struct_mode_and_refusals_are_compose_s():
    jobs = [["model.hidden=[16,16]", "seed=1"], ["model=perceptron", "optimizer=sgd", "scheduler=plateau", "seed=2"]]
    assert_same_as_compose(jobs, deep=True)


def test_lists_nulls_and_strings_yaml_would_read_otherwise():
    shared = ["data=csv", "data.drop=[a,b]", "data.id='1e-3'", "data.test=null", "model.hidden=[]"]
    jobs = [[*shared, "data.target='yes'"], [*shared, "data.target=null"], [*shared, "data.target='null'"]]
    assert_same_as_compose(jobs)


def test_jobs_that_share_their_first_values_and_differ_midway():
    shared = ["seed=1", "model.hidden=[8]"]
    jobs = [
        [*shared, "trainer.max_epochs=3", "model.hidden=[4,4]"],
        [*shared, "trainer.max_epochs=4", "model.hidden=[4,4]"],
        [*shared, "trainer.max_epochs=3", "model.hidden=[4,4]", "seed=5"],
    ]
    assert_same_as_compose(jobs)


def test_jobs_that_set_the_same_values_in_another_order_or_none():
    jobs = [
        ["seed=1", "model.hidden=[8]", "trainer.max_epochs=3"],
        ["model.hidden=[8]", "seed=1", "trainer.max_epochs=3"],
        ["seed=1"],
        [],
        ["hydra.job.name=x", "seed=1"],
    ]
    assert_same_as_compose(jobs)


def test_fixed_values_typed_after_the_swept_ones_are_set_once_where_that_changes_nothing():
    jobs = [
        [f"optimizer.lr={lr}", f"seed={seed}", "trainer.max_epochs=3", "data.batch_size=16"]
        for lr in (0.1, 0.01)
        for seed in (0, 1)
    ]
    assert_same_as_compose(jobs)
    plans = shared_first([(("optimizer=sgd",), OverridesParser.create().parse_overrides(job)) for job in jobs])
    assert [o.input_line for o in plans[0][1][:2]] == ["trainer.max_epochs=3", "data.batch_size=16"]
    assert shared_prefixes(plans) == {("optimizer=sgd",): 2}


def test_a_fixed_value_stays_behind_a_swept_one_it_overlaps():
    # pictures.size (fixed) is inside the pictures dict (swept): moved first, the dict would set it over
    jobs = [[f"pictures={{size:{n},neurons:false}}", "pictures.size=50", "seed=1"] for n in (30, 40)]
    assert_same_as_compose(jobs)
    jobs = [[f"model.hidden=[{h}]", "model.hidden.0=3", f"seed={s}", "seed=2"] for h in (4, 8) for s in (0, 1)]
    assert_same_as_compose(jobs)
    plans = shared_first([((), OverridesParser.create().parse_overrides(job)) for job in jobs])
    assert [o.input_line for o in plans[0][1]] == jobs[0]  # each fixed value overlaps a swept one: as typed


def test_additions_and_deletions_compose_in_full():
    assert_same_as_compose([["+extra=1", "seed=2"], ["++seed=3"], ["+trainer.foo=1", "seed=1"], ["seed=1"]])


@pytest.mark.parametrize(
    "bad",
    [
        "trainer.max_epochs=ten",  # a value of the wrong type
        "optimizer.lrr=0.1",  # an unknown key
        "seed=[",  # an override Hydra cannot parse
        "model=cnn",  # an unknown option
        "~trainer.threads",  # a deletion Hydra refuses
    ],
)
def test_the_first_job_that_cannot_be_composed_raises_composes_error(bad):
    jobs = [["seed=1"], ["seed=2", bad], ["seed=3", "seed=["]]
    with pytest.raises(ConfigError) as alone:
        compose(jobs[1])
    with pytest.raises(ConfigError) as together:
        compose_jobs(jobs)
    assert str(together.value) == str(alone.value)


def test_a_bad_value_every_job_shares_is_refused_as_compose_refuses_it():
    jobs = [["trainer.max_epochs=ten", f"seed={seed}"] for seed in range(3)]
    with pytest.raises(ConfigError) as together:
        compose_jobs(jobs)
    assert str(together.value) == "trainer.max_epochs=ten: 'ten' is not an integer"


def test_each_job_s_config_and_choices_are_its_own():
    (first, first_choices), (second, second_choices) = compose_jobs([["seed=1"], ["seed=1"]])
    first.model.hidden.append(7)
    first.optimizer.lr = 0.5
    first_choices["model"] = "changed"
    assert second.model.hidden == compose(["seed=1"])[0].model.hidden
    assert second.optimizer.lr != 0.5
    assert second_choices["model"] == "mlp"
