"""Every config group has a schema: typos and wrong types are refused while composing."""

import pytest
from cli_helpers import train

from trainlab import run
from trainlab.config.composing import compose
from trainlab.errors import ConfigError

# One wrong key or wrong type per group (and the top-level sections): Hydra's message names it.
REFUSED = [
    ("optimzer.lr=0.1", "optimzer"),
    ("optimizer.lrr=0.1", "lrr"),
    ("optimizer.lr=fast", "optimizer.lr"),
    ("model.hidden=[a,b]", "model.hidden"),
    ("activation=leaky_relu activation.negative_slope=steep", "activation.negative_slope"),
    ("regularization.dropout.p=half", "regularization.dropout.p"),
    ("scheduler=step scheduler.step_size=ten", "scheduler.step_size"),
    ("data.n_samples=many", "data.n_samples"),
    ("trainer.max_epochs=ten", "trainer.max_epochs"),
    ("tune=lr_find tune.num_training=many", "tune.num_training"),
    ("speed.cuda_graph=maybe", "speed.cuda_graph"),
    ("pictures.size=big", "pictures.size"),
    ("divergence.max_loss=lots", "divergence.max_loss"),
    ("seed=abc", "seed"),
]


@pytest.mark.parametrize(("overrides", "key"), REFUSED)
def test_wrong_keys_and_types_are_refused_at_composition(overrides, key):
    with pytest.raises(ConfigError) as refused:
        compose(overrides.split())
    assert str(refused.value).startswith(overrides.split()[-1].split("=")[0])
    assert key in str(refused.value)


# Ranges are checked next, before any data is built, with trainlab's message.
OUT_OF_RANGE = [
    ("divergence.max_loss=-1", "divergence.max_loss=-1.0 is not allowed: a loss > 0"),
    ("tune=lr_find tune.max_lr=1e-7", "tune.max_lr=1e-07 is not allowed: a learning rate > tune.min_lr=1e-06"),
    ("tune=lr_find tune.mode=cubic", "tune.mode='cubic' is not allowed: exponential or linear"),
    # `+key=value` adds a key past Hydra's schema check; trainlab refuses it by the same schema.
    ("+loss.weight=2", "loss.weight=2 is not allowed: loss has no key 'weight'; its keys: name"),
    ("+trainer.not_an_argument=1", "trainer.not_an_argument=1 is not allowed: trainer has no key"),
    ("+logger.flush=1", "logger.flush=1 is not allowed: logger has no key 'flush'"),
    ("+speed.turbo=true", "speed.turbo=True is not allowed: speed has no key 'turbo'"),
]


@pytest.mark.parametrize(("overrides", "message"), OUT_OF_RANGE)
def test_out_of_range_values_are_refused_before_training(overrides, message, tmp_path):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        run(overrides.split(), output_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_every_shipped_option_composes_against_its_schema():
    from trainlab.config.composing import config_dir

    for group_dir in sorted(p for p in config_dir().iterdir() if p.is_dir()):
        for option in sorted(group_dir.glob("*.yaml")):
            if group_dir.name == "regularization":
                choice = f"regularization=[{option.stem}]"
            else:
                choice = f"{group_dir.name}={option.stem}"
            compose([choice])  # raises on any key or type its schema refuses


def test_the_command_line_names_the_typo_and_writes_nothing(tmp_path):
    out = train("optimzer.lr=0.1", cwd=tmp_path)
    assert out.returncode == 2
    assert "error: optimzer.lr=0.1: there is no group or key optimzer; did you mean optimizer?" in out.stderr
    assert not (tmp_path / "outputs").exists()
