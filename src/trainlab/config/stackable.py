"""What the stacked launcher cannot serve yet, refused per job before anything trains (torch-free)."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from trainlab.config.plain import kept, lookup, readable
from trainlab.config.validate import check_one_device, processes
from trainlab.errors import ConfigError

# What the stacked path cannot serve yet: (key, value that is fine, why). Checked per job
# before anything trains; hydra/launcher=basic serves them all.
UNSERVED = (
    ("speed.loader", "memory", "it slices every member's mini-batches from memory"),
    ("tune.name", "none", "the LR finder tunes one model"),
    ("resume", None, "a sweep's jobs start fresh; resume one member with python train.py resume=<its run dir>"),
    ("ckpt_path", None, "a sweep's jobs start fresh; resume one member with python train.py resume=<its run dir>"),
    ("data.test", None, "it writes no submission yet"),
    ("trainer.precision", "32-true", "members train in float32"),
    ("trainer.gradient_clip_val", None, "it clips no gradients"),
    ("trainer.max_steps", -1, "members stop by epochs"),
    ("trainer.max_time", None, "members stop by epochs"),
    ("trainer.min_epochs", None, "members stop by their own rules"),
    ("trainer.check_val_every_n_epoch", 1, "members validate every epoch"),
    ("trainer.log_every_n_steps", None, "it logs per epoch"),
    ("trainer.limit_train_batches", None, "members train on every mini-batch"),
    ("trainer.limit_val_batches", None, "members validate on every row"),
    ("trainer.limit_test_batches", None, "members test on every row"),
    ("trainer.overfit_batches", 0.0, "members train on every mini-batch"),
    ("trainer.fast_dev_run", False, "it runs whole epochs"),
)


def check_stackable(cfg: DictConfig, resuming: bool = False) -> None:
    """Raise ConfigError naming the first key whose value the stacked path cannot serve
    (``resume`` and ``ckpt_path`` are its own when ``resuming`` a member)."""
    found = _unserved(cfg, ("resume", "ckpt_path") if resuming else ())
    if found is not None:
        key, value, fine, why = found
        raise ConfigError(
            f"{key}={value} is not served by hydra/launcher=stacked ({why}); "
            f"use {key}={'null' if fine is None else fine} or hydra/launcher=basic"
        )
    check_one_device(cfg)
    values = readable(cfg)
    if values["scheduler"] and "_target_" in values["scheduler"]:
        raise ConfigError(
            "scheduler is not served by hydra/launcher=stacked (members keep their lr); "
            "use scheduler=none or hydra/launcher=basic"
        )
    logger = values["logger"]["name"]
    if logger not in ("tensorboard", "none"):
        raise ConfigError(
            f"logger={logger} is not served by hydra/launcher=stacked; use logger=tensorboard or logger=none"
        )


# What a run's own cross-validation serves itself when its folds train as one stack: the
# learning-rate finder (run before, on the first fold), the submission (after, from the best fold).
FOLDS_SERVE = ("tune.name", "data.test")


def folds_unserved(cfg: DictConfig) -> str | None:
    """Why the folds of ``cfg`` (``data.folds`` > 1) cannot train as one stack, in words (the
    first key the stacked path cannot serve: ``UNSERVED``, one device, no scheduler, logger
    tensorboard or none); None when they can (``trainlab.lifecycle.checked_run``)."""
    found = _unserved(cfg, FOLDS_SERVE)
    if found is not None:
        key, value, _, why = found
        return f"{key}={value} ({why})"
    if processes(cfg) > 1:
        return f"trainer.devices={cfg.trainer.devices} (a stack trains on one device)"
    if cfg.scheduler and "_target_" in cfg.scheduler:
        return "a scheduler (members keep their lr)"
    if cfg.logger.name not in ("tensorboard", "none"):
        return f"logger={cfg.logger.name}"
    return None


def _unserved(cfg: DictConfig, skip: tuple[str, ...]) -> tuple[str, object, object, str] | None:
    """The first of ``UNSERVED`` (less ``skip``) whose value in ``cfg`` the stacked path cannot
    serve: (key, value, the value it serves, why); None when it serves them all."""
    values = kept(cfg)  # a sweep's job: its plain values, read without OmegaConf's nodes
    for key, fine, why in UNSERVED:
        if key in skip:
            continue
        value = OmegaConf.select(cfg, key, default=fine) if values is None else lookup(values, key, fine)
        if key == "trainer.precision" and str(value) in ("32", "32-true"):
            continue
        if value != fine and not (fine is None and value in ("", None)):
            return key, value, fine, why
    return None
