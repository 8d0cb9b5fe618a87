"""Checks that read several keys: two weight decays, the shipped recipes pass every check, and the
Trainer arguments Lightning itself refuses."""

import pytest
import torch
from omegaconf import OmegaConf, open_dict

from trainlab.config.composing import compose, config_dir
from trainlab.config.validate import validate
from trainlab.errors import ConfigError


def built_weight_decay(overrides: list[str]) -> float:
    """The weight decay of the optimizer trainlab builds for ``overrides``."""
    from trainlab.training import build

    cfg, _ = compose(overrides)
    validate(cfg)
    optimizer = build.optimizer(cfg)([torch.nn.Parameter(torch.zeros(1))])
    return optimizer.param_groups[0]["weight_decay"]


def test_regularization_weight_decay_may_not_replace_adamws_own():
    cfg, _ = compose(["optimizer=adamw", "regularization=[weight_decay]"])
    message = (
        "regularization.weight_decay=0.0001 and optimizer.weight_decay=0.01 both set the weight decay "
        "(adamw's default is 0.01): keep one: drop weight_decay from regularization, or set optimizer.weight_decay=0"
    )
    with pytest.raises(ConfigError) as refused:
        validate(cfg)
    assert str(refused.value) == message


def test_an_optimizer_weight_decay_set_by_hand_is_named_too():
    cfg, _ = compose(["optimizer=sgd", "optimizer.weight_decay=0.001", "regularization=[dropout,weight_decay]"])
    with pytest.raises(ConfigError, match=r"^regularization\.weight_decay=0\.0001 and optimizer\.weight_decay=0\.001 "):
        validate(cfg)


def test_one_weight_decay_at_a_time_is_what_the_optimizer_gets():
    assert built_weight_decay(["optimizer=adamw"]) == 0.01
    assert built_weight_decay(["optimizer=adam", "regularization=[weight_decay]"]) == 1e-4
    overrides = ["optimizer=adamw", "optimizer.weight_decay=0", "regularization=[weight_decay]"]
    assert built_weight_decay([*overrides, "regularization.weight_decay=0.003"]) == 0.003


@pytest.mark.parametrize("name", sorted(p.stem for p in (config_dir() / "experiment").glob("*.yaml")))
def test_every_shipped_experiment_passes_the_checks(name):
    cfg, _ = compose([f"experiment={name}"])
    validate(cfg)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.max_time=abc", "is not a valid duration"),
        ("trainer.limit_train_batches=-1", "invalid value -1 for limit_train_batches"),
    ],
)
def test_trainer_arguments_lightning_refuses_stop_the_run_before_anything_is_written(override, message, tmp_path):
    from trainlab import run

    with pytest.raises(ConfigError, match=f"trainer: Lightning refuses these Trainer arguments: .*{message}"):
        run([override], output_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


# (values set on the default config, the error validate raises first): the keys in the config's order, a
# section's own values before its sections'; a value that cannot be resolved is refused where the checks reach
# it, named as written (or the missing value its interpolation leads to).
UNRESOLVED = "its interpolation cannot be resolved: Interpolation key 'nope' not found"
FIRST_ERROR = [
    ({"monitor": "bad", "pictures.every_n_epochs": "${nope}"}, "ConfigError: monitor='bad' is not allowed: a logged"),
    ({"monitor": "bad", "data.seed": "${nope}"}, f"ConfigError: data.seed=${{nope}}: {UNRESOLVED}"),
    ({"data.val_fraction": 2, "trainer.max_time": "${nope}"}, f"ConfigError: trainer.max_time=${{nope}}: {UNRESOLVED}"),
    ({"model.name": "???", "pictures.every_n_epochs": "${nope}"}, "ConfigError: pictures.every_n_epochs=${nope}: "),
    ({"model.name": "???", "monitor": "bad"}, "ConfigError: monitor='bad' is not allowed"),
    ({"model.name": "???"}, "ConfigError: model.name='???' is not allowed: a value: this key has no default"),
    (
        {"monitor": "???"},
        "ConfigError: monitor='???' is not allowed: a value: this key has no default",
    ),  # via early_stopping
    ({"ckpt_path": "???"}, "ConfigError: ckpt_path='???' is not allowed: a value: this key has no default"),
    ({"monitor": "${oc.decode:'???'}"}, "ConfigError: monitor='???' is not allowed: a logged metric"),  # not missing
    ({"seed": -1, "regularization.early_stopping.patience": "${seed}"}, "ConfigError: regularization.early_stopping"),
    ({"regularization.early_stopping.patience": "${optimizer.lr}"}, "ConfigError: regularization.early_stopping.pat"),
]


@pytest.mark.parametrize(("values", "first"), FIRST_ERROR)
def test_the_first_error_in_the_checks_order_is_raised(values, first):
    cfg, _ = compose([])
    for key, value in values.items():
        OmegaConf.update(cfg, key, value)
    with pytest.raises(Exception) as raised:
        validate(cfg)
    assert f"{type(raised.value).__name__}: {raised.value}".startswith(first)


def test_a_key_the_schema_lacks_is_named_with_its_value_resolved():
    cfg, _ = compose(["+extra={a:'${seed}'}", "+optimizer.foo=[1,'${seed}']"])
    with pytest.raises(ConfigError, match=r"^extra=\{'a': 42\} is not allowed: the config has no key 'extra'; its"):
        validate(cfg)  # the top level's values come before its sections'
    with open_dict(cfg):
        del cfg["extra"]
    with pytest.raises(ConfigError, match=r"^optimizer\.foo=\[1, 42\] is not allowed: optimizer has no key 'foo'"):
        validate(cfg)
