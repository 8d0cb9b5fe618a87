"""Each numeric key is checked against the range its schema declares, before any data is built."""

import re

import pytest

from trainlab.config.composing import compose
from trainlab.config.validate import validate
from trainlab.errors import ConfigError

# (overrides, the start of trainlab's message: the key, the value and what is allowed)
REFUSED = [
    ("scheduler=step scheduler.step_size=0", "scheduler.step_size=0 is not allowed: an integer >= 1"),
    ("scheduler=step scheduler.gamma=-3", "scheduler.gamma=-3.0 is not allowed: a number > 0"),
    ("scheduler=step scheduler.gamma=0", "scheduler.gamma=0.0 is not allowed: a number > 0"),
    ("scheduler=cosine scheduler.T_max=0", "scheduler.T_max=0 is not allowed: an integer >= 1"),
    ("scheduler=cosine trainer.max_epochs=1 scheduler.T_max=-1", "scheduler.T_max=-1 is not allowed: an integer >= 1"),
    ("scheduler=cosine scheduler.eta_min=-0.1", "scheduler.eta_min=-0.1 is not allowed: a learning rate >= 0"),
    ("scheduler=plateau scheduler.factor=1", "scheduler.factor=1.0 is not allowed: a number in (0, 1)"),
    ("scheduler=plateau scheduler.factor=0", "scheduler.factor=0.0 is not allowed: a number in (0, 1)"),
    ("scheduler=plateau scheduler.patience=-1", "scheduler.patience=-1 is not allowed: an integer >= 0"),
    ("scheduler=plateau scheduler.mode=up", "scheduler.mode='up' is not allowed: min or max"),
    ("optimizer.betas=[2,5]", "optimizer.betas=[2.0, 5.0] is not allowed: two numbers in [0, 1)"),
    ("optimizer.betas=[0.9]", "optimizer.betas=[0.9] is not allowed: two numbers in [0, 1)"),
    ("optimizer=sgd optimizer.momentum=2", "optimizer.momentum=2.0 is not allowed: a number in [0, 1)"),
    ("optimizer=sgd optimizer.momentum=-0.5", "optimizer.momentum=-0.5 is not allowed: a number in [0, 1)"),
    ("optimizer=rmsprop optimizer.momentum=1", "optimizer.momentum=1.0 is not allowed: a number in [0, 1)"),
    ("optimizer.eps=0", "optimizer.eps=0.0 is not allowed: a number > 0"),
    ("optimizer=adagrad optimizer.eps=-1e-10", "optimizer.eps=-1e-10 is not allowed: a number > 0"),
    ("optimizer=rmsprop optimizer.alpha=1.5", "optimizer.alpha=1.5 is not allowed: a number in [0, 1]"),
    ("optimizer=adadelta optimizer.rho=-0.1", "optimizer.rho=-0.1 is not allowed: a number in [0, 1]"),
    ("optimizer.weight_decay=-0.01", "optimizer.weight_decay=-0.01 is not allowed: a number >= 0"),
    ("optimizer=adagrad optimizer.lr_decay=-1", "optimizer.lr_decay=-1.0 is not allowed: a number >= 0"),
    ("optimizer=sgd optimizer.lr=-1", "optimizer.lr=-1.0 is not allowed: a learning rate > 0"),
    ("trainer.precision=banana", "trainer.precision='banana' is not allowed: one of 64, 32, 16, 64-true"),
    ("trainer.precision=8", "trainer.precision=8 is not allowed: one of"),
    ("trainer.devices=0", "trainer.devices=0 is not allowed: an integer >= 1, auto, or a list of device indices"),
    ("trainer.devices=all", "trainer.devices='all' is not allowed: an integer >= 1, auto"),
    ("trainer.devices=[0,-1]", "trainer.devices=[0, -1] is not allowed: an integer >= 1, auto"),
    ("trainer.devices=[]", "trainer.devices=[] is not allowed: an integer >= 1, auto"),
    ("trainer.strategy=fsdp", "trainer.strategy='fsdp' is not allowed: auto or ddp"),
    ("trainer.num_nodes=0", "trainer.num_nodes=0 is not allowed: an integer >= 1"),
    ("trainer.devices=2 tune=lr_find", "tune='lr_find' is not allowed: none with trainer.devices=2 (2 processes)"),
    ("trainer.devices=[0,1] data.folds=3", "data.folds=3 is not allowed: 1 with trainer.devices=[0, 1]"),
    ("trainer.check_val_every_n_epoch=0", "trainer.check_val_every_n_epoch=0 is not allowed: an integer >= 1"),
    ("trainer.min_epochs=-1", "trainer.min_epochs=-1 is not allowed: an integer >= 0, or null"),
    ("trainer.max_steps=0", "trainer.max_steps=0 is not allowed: -1 (no limit) or an integer >= 1"),
    ("trainer.max_steps=-2", "trainer.max_steps=-2 is not allowed: -1 (no limit) or an integer >= 1"),
    ("trainer.num_sanity_val_steps=-2", "trainer.num_sanity_val_steps=-2 is not allowed: an integer >= -1"),
    ("trainer.log_every_n_steps=0", "trainer.log_every_n_steps=0 is not allowed: an integer >= 1, or null"),
    ("trainer.gradient_clip_val=0", "trainer.gradient_clip_val=0.0 is not allowed: a number > 0, or null"),
    ("trainer.gradient_clip_val=-1", "trainer.gradient_clip_val=-1.0 is not allowed: a number > 0, or null"),
    ("trainer.max_epochs=0", "trainer.max_epochs=0 is not allowed: an integer >= 1"),
    ("tune=lr_find tune.early_stop_threshold=1", "tune.early_stop_threshold=1.0 is not allowed: a factor > 1"),
    ("tune=lr_find tune.min_lr=0", "tune.min_lr=0.0 is not allowed: a learning rate > 0"),
    ("regularization=[weight_decay] regularization.weight_decay=-1", "regularization.weight_decay=-1.0 is not allowed"),
    ("regularization.early_stopping.min_delta=-1", "regularization.early_stopping.min_delta=-1.0 is not allowed"),
    ("regularization.early_stopping.mode=up", "regularization.early_stopping.mode='up' is not allowed: min or max"),
    ("speed.steps_per_call=0", "speed.steps_per_call=0 is not allowed: an integer >= 1"),
    ("speed.loader=disk", "speed.loader='disk' is not allowed: memory or dataloader"),
    ("speed.last_checkpoint_seconds=-1", "speed.last_checkpoint_seconds=-1.0 is not allowed: seconds >= 0"),
    ("pictures.every_n_epochs=-1", "pictures.every_n_epochs=-1 is not allowed: an integer >= 0"),
    ("data.folds=0", "data.folds=0 is not allowed: an integer >= 1"),
    ("data.noise=-1", "data.noise=-1.0 is not allowed: a number >= 0"),
    ("model.name=transformer", "model.name='transformer' is not allowed: perceptron or mlp"),
    ("model=perceptron model.name=mlp", "model.name='mlp' is not allowed: the chosen option's own name"),
    ("activation.name=swish", "activation.name='swish' is not allowed: one of sigmoid, tanh, relu"),
    ("loss.name=hinge", "loss.name='hinge' is not allowed: one of auto, bce, cross_entropy, mse"),
    ("logger.name=wandb", "logger.name='wandb' is not allowed: one of tensorboard, csv, none"),
    ("monitor=loss", "monitor='loss' is not allowed: a logged metric such as val/loss"),
]


@pytest.mark.parametrize(("overrides", "message"), REFUSED)
def test_out_of_range_value_is_refused_naming_the_key(overrides, message):
    cfg, _ = compose(overrides.split())
    with pytest.raises(ConfigError, match="^" + re.escape(message)):
        validate(cfg)


ACCEPTED = [
    "scheduler=step scheduler.step_size=1 scheduler.gamma=2",
    "scheduler=cosine scheduler.T_max=1 scheduler.eta_min=0",
    "scheduler=plateau scheduler.factor=0.99 scheduler.patience=0",
    "optimizer.betas=[0,0.5]",
    "optimizer=sgd optimizer.momentum=0.99 optimizer.nesterov=true",
    "optimizer=rmsprop optimizer.alpha=1 optimizer.momentum=0",
    "optimizer=adadelta optimizer.rho=0",
    "trainer.devices=auto",
    "trainer.devices=[0]",
    "trainer.devices=2 trainer.strategy=ddp",  # several devices: Lightning's DDP (tests/test_ddp.py)
    "trainer.devices=[0,1]",
    "trainer.num_nodes=2",
    "trainer.check_val_every_n_epoch=null",
    "trainer.min_epochs=0",
    "trainer.max_steps=1",
    "trainer.num_sanity_val_steps=-1",
    "trainer.log_every_n_steps=1",
    "trainer.gradient_clip_val=0.5",
    "pictures.every_n_epochs=0",
    "divergence.max_loss=null",
    "data.batch_size=full",
    # Lightning's precisions, legacy spellings included; Hydra reads 16 as an int.
    *(f"trainer.precision={p}" for p in ("64", "32", "16", "bf16", "16-mixed", "bf16-mixed", "64-true", "32-true")),
    "trainer.precision=transformer-engine-float16",
]


@pytest.mark.parametrize("overrides", ACCEPTED)
def test_value_in_range_is_accepted(overrides):
    cfg, _ = compose(overrides.split())
    validate(cfg)


def test_the_precision_list_is_lightnings():
    from typing import get_args

    from lightning.fabric.plugins.precision import precision as lightning

    from trainlab.config.schema import PRECISIONS

    literals = (lightning._PRECISION_INPUT_INT, lightning._PRECISION_INPUT_STR, lightning._PRECISION_INPUT_STR_ALIAS)
    assert set(PRECISIONS) == {value for literal in literals for value in get_args(literal)}


def test_a_refusal_comes_before_any_data_is_built(tmp_path, monkeypatch):
    from trainlab import run
    from trainlab.training import build

    def no_data(*args, **kwargs):
        raise AssertionError("data was built")

    monkeypatch.setattr(build, "datasets", no_data)
    with pytest.raises(ConfigError, match=r"^optimizer\.momentum=2\.0 is not allowed"):
        run(["optimizer=sgd", "optimizer.momentum=2"], output_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
