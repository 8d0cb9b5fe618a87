"""The library internals trainlab relies on (trainlab.internals), checked against the
installed versions: each test fails, naming the function, when an upgrade breaks one."""

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Checkpoint, EarlyStopping
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.tensorboard import SummaryWriter

from trainlab.internals import (
    add_png_summary,
    add_scalar_summaries,
    count_optimizer_steps,
    lr_finder_without_bar,
    publish_to_progress_bar,
    stops_after_this_epoch,
)
from trainlab.pictures.draw import png_bytes


class Tiny(L.LightningModule):
    """A one-weight regression trained by Lightning's own loop (automatic optimization),
    or manually with ``count_optimizer_steps`` telling Lightning each step."""

    def __init__(self, manual: bool = False, val_losses: list[float] | None = None) -> None:
        super().__init__()
        self.w = torch.nn.Linear(1, 1)
        self.automatic_optimization = not manual
        self.val_losses = val_losses or []

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.w(x), y)
        if self.automatic_optimization:
            return loss
        optimizer = self.trainer.optimizers[0]
        for _ in range(3):  # three optimizer steps per Lightning step, past Lightning's wrapper
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(self.w(x), y).backward()
            optimizer.step()
        count_optimizer_steps(self.trainer, 3)
        return None

    def validation_step(self, batch, batch_idx):
        pass

    def on_validation_epoch_end(self):
        if not self.trainer.sanity_checking and self.val_losses:
            self.log("val/loss", self.val_losses[self.current_epoch])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def loader(n=8):
    x = torch.linspace(0, 1, n).unsqueeze(1)
    return DataLoader(TensorDataset(x, 2 * x), batch_size=2)


def trainer(**kwargs):
    # Checkpointing on: Recorder is a Checkpoint (so no default ModelCheckpoint is added).
    quiet = dict(logger=False, enable_progress_bar=False, enable_model_summary=False)
    return L.Trainer(accelerator="cpu", num_sanity_val_steps=0, **quiet, **kwargs)


def test_count_optimizer_steps_moves_global_step_and_max_steps_follows():
    t = trainer(max_epochs=2, callbacks=[Recorder()])
    t.fit(Tiny(manual=True), loader(), loader())
    assert t.global_step == 2 * 4 * 3, "count_optimizer_steps no longer moves trainer.global_step"
    t = trainer(max_epochs=5, max_steps=6, callbacks=[Recorder()])
    t.fit(Tiny(manual=True), loader(), loader())
    assert t.global_step == 6, "max_steps no longer reads count_optimizer_steps' count"


def test_published_values_reach_the_progress_bar():
    t = trainer(max_epochs=1, callbacks=[Recorder()])
    t.fit(Tiny(), loader(), loader())
    publish_to_progress_bar(t, {"val/acc": 0.5})
    assert t.progress_bar_metrics["val/acc"] == 0.5, "publish_to_progress_bar no longer shows the value"


class Recorder(Checkpoint):
    """What stops_after_this_epoch says at each epoch's end (run after EarlyStopping, as
    trainlab's LastCheckpoint is)."""

    def __init__(self):
        self.said = []

    def on_train_epoch_end(self, trainer, pl_module):
        self.said.append(stops_after_this_epoch(trainer))


@pytest.mark.parametrize(
    ("settings", "epochs"),
    [
        (dict(max_epochs=3), 3),
        (dict(max_epochs=10, max_steps=10), 3),  # 4 steps per epoch: the 10th is in epoch 3
        (dict(max_epochs=10, early=True), 3),  # stops after epoch 3 (patience 1)
        (dict(max_epochs=10, early=True, min_epochs=5), 5),  # ... held off until 5 epochs
    ],
)
def test_stops_after_this_epoch_agrees_with_lightnings_fit_loop(settings, epochs):
    settings = dict(settings)
    callbacks = [Recorder()]
    if settings.pop("early", False):
        callbacks.append(EarlyStopping("val/loss", patience=1))
    t = trainer(callbacks=callbacks, **settings)
    t.fit(Tiny(val_losses=[1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3]), loader(), loader())
    said = callbacks[0].said
    assert len(said) == epochs, "the fit loop ran a different number of epochs than this test expects"
    assert said == [False] * (epochs - 1) + [True], "stops_after_this_epoch disagrees with Lightning's fit loop"


def test_add_png_summary_writes_an_image_tensorboard_reads(tmp_path):
    image = torch.zeros(3, 4, 6, dtype=torch.uint8)
    image[0] = 255
    writer = SummaryWriter(str(tmp_path))
    add_png_summary(writer, "pictures/test", png_bytes(image), 4, 6, step=7)
    writer.close()
    events = EventAccumulator(str(tmp_path), size_guidance={"images": 0})
    events.Reload()
    (logged,) = events.Images("pictures/test")
    assert (logged.step, logged.height, logged.width) == (7, 4, 6), "add_png_summary no longer logs images"


def test_add_scalar_summaries_writes_scalars_tensorboard_reads(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    add_scalar_summaries(writer, {"train/loss": 0.5, "val/acc": 0.75}, step=3)
    writer.close()
    events = EventAccumulator(str(tmp_path), size_guidance={"scalars": 0})
    events.Reload()
    logged = {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in ("train/loss", "val/acc")}
    assert logged == {"train/loss": [(3, 0.5)], "val/acc": [(3, 0.75)]}, "add_scalar_summaries no longer logs"


def test_summaries_on_a_rank_other_than_0_write_nothing(tmp_path, monkeypatch):
    """Lightning's TensorBoardLogger hands ranks other than 0 a stand-in experiment."""
    from lightning.fabric.utilities.rank_zero import rank_zero_only
    from lightning.pytorch.loggers import TensorBoardLogger

    monkeypatch.setattr(rank_zero_only, "rank", 1)
    writer = TensorBoardLogger(save_dir=str(tmp_path), name="", version="").experiment
    add_scalar_summaries(writer, {"train/loss": 0.5}, step=3)
    add_png_summary(writer, "pictures/test", png_bytes(torch.zeros(3, 4, 6, dtype=torch.uint8)), 4, 6, step=7)
    assert not list(tmp_path.rglob("events.out.tfevents.*"))


def test_hydra_override_dirname_is_the_one_hydra_sets():
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from trainlab.config.composing import config_dir
    from trainlab.config.launch import register_resolvers
    from trainlab.config.schema import register
    from trainlab.internals import hydra_override_dirname

    register_resolvers()
    register()
    overrides = ["optimizer.lr=0.1", "seed=3", "model.hidden=[4,4]"]
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3", job_name="train"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    parsed = OverridesParser.create().parse_overrides(overrides)
    expected = "model.hidden=[4,4],optimizer.lr=0.1,seed=3"
    assert hydra_override_dirname(parsed, cfg) == cfg.hydra.job.override_dirname == expected


def test_optuna_trial_id_reports_to_the_trial_it_names():
    optuna = pytest.importorskip("optuna")
    from trainlab.internals import optuna_trial_id

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=optuna.storages.InMemoryStorage())
    for _ in range(3):
        study.ask()
    frozen = next(t for t in study.get_trials(deepcopy=False) if t.number == 2)
    optuna.trial.Trial(study, optuna_trial_id(frozen)).report(0.25, step=4)
    assert study.get_trials()[2].intermediate_values == {4: 0.25}


def test_omegaconf_dumper_is_the_one_omegaconf_writes_yaml_with():
    import yaml
    from omegaconf import OmegaConf

    from trainlab.internals import omegaconf_dumper

    plain = {"lr": "1e-3", "flag": "yes", "n": 1, "x": 0.5, "items": [1, "off"], "empty": None}
    ours = yaml.dump(plain, Dumper=omegaconf_dumper(), default_flow_style=False, allow_unicode=True, sort_keys=False)
    assert ours == OmegaConf.to_yaml(OmegaConf.create(plain))
    assert "'1e-3'" in ours and "'yes'" in ours  # its str representer quotes what YAML would read as others


def test_lr_finder_without_bar_turns_off_the_finders_tqdm_bar(tmp_path, capfd):
    from lightning.pytorch.tuner import Tuner

    class Silent(Tiny):
        def on_train_start(self):
            self.found = lr_finder_without_bar(self.trainer)

    module = Silent()
    t = trainer(max_epochs=10, default_root_dir=tmp_path)
    Tuner(t).lr_find(module, train_dataloaders=loader(), val_dataloaders=loader(), num_training=8, update_attr=False)
    assert module.found == 1, "lr_finder_without_bar no longer finds Lightning's _LRCallback in trainer.callbacks"
    assert "Finding best initial lr" not in capfd.readouterr().err, "lr_finder_without_bar no longer hides the bar"


def test_set_hydra_config_hands_out_what_hydras_set_config_does():
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf, open_dict
    from omegaconf.errors import ReadonlyConfigError

    from trainlab.config.composing import config_dir
    from trainlab.config.launch import register_resolvers
    from trainlab.config.schema import register
    from trainlab.internals import set_hydra_config

    register_resolvers()
    register()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3", job_name="train"):
        ours, hydras = (compose("train", overrides=["seed=3"], return_hydra_config=True) for _ in range(2))
    for config in (ours, hydras):
        with open_dict(config.hydra.runtime), open_dict(config.hydra.job):
            config.hydra.runtime.output_dir, config.hydra.job.num = "/runs/7", 7
    before = HydraConfig.instance().cfg
    try:
        HydraConfig.instance().set_config(hydras)
        theirs = OmegaConf.to_yaml(HydraConfig.instance().cfg)
        set_hydra_config(ours)
        held = HydraConfig.instance().cfg
        assert OmegaConf.to_yaml(held) == theirs  # the same holder, resolved alike
        assert list(held) == ["hydra"] and held.hydra is ours.hydra  # the job's own node, not a copy
        assert HydraConfig.get().job.num == 7
        # ${hydra:...} reads it, and the node's interpolations reach the job's keys (its parent)
        assert OmegaConf.create({"n": "${hydra:job.num}", "d": "${hydra:runtime.output_dir}"}) == {
            "n": 7,
            "d": "/runs/7",
        }
        assert held.hydra._get_root() is ours
        with pytest.raises(ReadonlyConfigError):
            ours.hydra.job.num = 8
        assert ours.seed == 3 and "hydra" in ours  # the job's config keeps its node
    finally:
        HydraConfig.instance().cfg = before
