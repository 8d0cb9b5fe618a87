"""Run directories: a fresh one per run, never another run's, except to resume it.

``resume=<run dir>`` (or ``ckpt_path=<run dir>/checkpoints/<file>``) continues a stopped
run in its own directory from ``checkpoints/last.ckpt`` (or the file given): weights,
optimizer, scheduler, callbacks, epoch and step counters, the data order and the random
state that dropout draws from, so the result is that of a run that never stopped.
``resume=<run dir>`` alone composes the run's own overrides again (its overrides.yaml);
overrides given beside it may change only the keys in ``MAY_DIFFER``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from trainlab.config.flatten import flatten
from trainlab.config.launch import run_dir_of_checkpoint
from trainlab.errors import ConfigError
from trainlab.files.rundir import RunDir

# Keys that do not change the arithmetic of training, or extend it.
MAY_DIFFER = (
    "resume",
    "ckpt_path",
    "trainer.max_epochs",
    "trainer.enable_progress_bar",
    "trainer.enable_model_summary",
    "speed.async_checkpoint",
    "speed.last_checkpoint_seconds",
    "trainer.log_every_n_steps",
    "pictures.",
)
FINISHED = ("finished", "early-stopped", "tuned")


def resume_target(cfg: DictConfig) -> tuple[Path, Path] | None:
    """(run dir, checkpoint) that ``resume`` or ``ckpt_path`` names, or None for a new run."""
    if cfg.get("ckpt_path"):
        checkpoint = Path(cfg.ckpt_path)
        if checkpoint.parent.name != RunDir.CHECKPOINTS:
            raise ConfigError(f"ckpt_path={cfg.ckpt_path!r} is not allowed: a checkpoint in a run's checkpoints/")
        return run_dir_of_checkpoint(checkpoint), checkpoint
    if cfg.get("resume"):
        run = RunDir(cfg.resume)
        return run.path, run.last_checkpoint
    return None


TARGET_KEYS = ("resume", "ckpt_path")


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def resume_overrides(run_dir: Path, given: list[str]) -> list[str]:
    """The overrides a resume composes: the run's own (overrides.yaml), then those given
    beside ``resume=``/``ckpt_path=`` (the later wins). Without overrides.yaml (a run from
    an older trainlab), the given ones alone, as before."""
    saved = RunDir(run_dir).read_overrides()
    if saved is None:
        return list(given)
    own = [o for o in saved if _key(o) not in TARGET_KEYS and not _key(o).startswith("hydra")]
    return [*own, *given]


def kept_overrides(overrides: list[str]) -> list[str]:
    """What overrides.yaml keeps: the last override of each key, but not where the run is
    (resume, ckpt_path, hydra.*)."""
    last = {_key(o): o for o in overrides if _key(o) not in TARGET_KEYS and not _key(o).startswith("hydra")}
    return list(last.values())


def check_resume(cfg: DictConfig, run_dir: Path, checkpoint: Path, given: list[str] | None = None) -> dict[str, Any]:
    """Refuse, naming the key and what is allowed, a resume that cannot continue exactly;
    else return the checkpoint (read as tensors and plain data only)."""
    key = "ckpt_path" if cfg.get("ckpt_path") else "resume"
    value = cfg.get(key)
    run = RunDir(run_dir)
    if not (run / run.CONFIG).is_file():
        raise ConfigError(f"{key}={value!r} is not allowed: {run_dir} is not a trainlab run directory (no config.yaml)")
    if not checkpoint.is_file() and checkpoint == run.last_checkpoint:
        from trainlab.training.stack.member_checkpoint import restore_member_checkpoint

        restore_member_checkpoint(run_dir)  # a stack member killed while its stack trained: cut from the stack's
    if not checkpoint.is_file():
        raise ConfigError(f"{key}={value!r} is not allowed: {checkpoint} does not exist (no epoch of the run finished)")
    from trainlab.files.checkpoints import load_checkpoint  # imports Lightning: after the config is checked
    from trainlab.training import payload

    loaded = load_checkpoint(checkpoint)  # first: a crafted file is refused before anything else
    status = (run.read_json(run.SUMMARY) or {}).get("status")
    if status in FINISHED:
        raise ConfigError(f"{key}={value!r} is not allowed: that run has {status}; there is nothing to resume")
    if payload.holds_weights_only(loaded):  # a finished stack member's file
        raise ConfigError(
            f"{key}={value!r} is not allowed: {checkpoint.name} of a run trained in a stack "
            "(hydra/launcher=stacked) holds its weights, not a training state; resume=<its run dir> "
            "continues an interrupted member from its last.ckpt"
        )
    if cfg.data.get("folds", 1) > 1:
        raise ConfigError(f"{key}={value!r} is not allowed with data.folds > 1 (cross-validation runs start over)")
    if cfg.tune.name != "none":
        raise ConfigError(f"{key}={value!r} is not allowed with tune={cfg.tune.name}; resume with tune=none")
    _check_same_config(OmegaConf.load(run / run.CONFIG), cfg, key, value, given or [])
    return loaded


def _check_same_config(saved: DictConfig, cfg: DictConfig, key: str, value: Any, given: list[str]) -> None:
    before = flatten(OmegaConf.to_container(saved, resolve=True))
    now = flatten(OmegaConf.to_container(cfg, resolve=True))
    for name in sorted(set(before) | set(now)):
        if name.startswith(MAY_DIFFER) or name in MAY_DIFFER:
            continue
        if before.get(name) == now.get(name):
            continue
        typed = next((o for o in given if name == _key(o) or name.startswith(f"{_key(o)}.")), None)
        if typed is not None:  # an override given beside resume=: name it as typed
            raise ConfigError(
                f"{typed}: a resumed run keeps what it was trained with ({name}={before.get(name)!r}); "
                "only trainer.max_epochs, logging and pictures may change"
            )
        if before.get(name) != now.get(name):
            raise ConfigError(
                f"{key}={value!r}: {name}={now.get(name)!r} differs from the run's {name}={before.get(name)!r}; "
                "resume with the run's own overrides (only trainer.max_epochs and display settings may change)"
            )
