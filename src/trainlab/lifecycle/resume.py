"""Run directories: a fresh one per run, never another run's, except to resume it.

``resume=<run dir>`` (or ``ckpt_path=<run dir>/checkpoints/<file>``) continues a stopped
run in its own directory from ``checkpoints/last.ckpt`` (or the file given): weights,
optimizer, scheduler, callbacks, epoch and step counters, the data order and the random
state that dropout draws from, so the result is that of a run that never stopped.
``resume=<run dir>`` alone composes the run's own overrides again (its overrides.yaml);
overrides given beside it may change only the keys in ``MAY_DIFFER``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from trainlab.config.flatten import flatten
from trainlab.config.launch import run_dir_of_checkpoint
from trainlab.errors import ConfigError
from trainlab.files.rundir import DamagedFile, RunDir

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
    "distributed.timeout",  # how long a rank waits for the others: no number depends on it
)
FINISHED = ("finished", "early-stopped", "tuned")
TRAINING_STATE = ("epoch", "global_step", "state_dict", "loops")  # what Lightning restores a fit from

# What to do about a damaged file of the run to resume.
SUMMARY_REMEDY = (
    "resume reads the run's status from it: copy it again from where the run was made, or remove it and resume "
    "again (the run then goes by its last.ckpt, and writes summary.json anew when it ends)"
)
CONFIG_REMEDY = (
    "resume checks the run's config against it: copy it again from where the run was made, or start a new run"
)
OVERRIDES_REMEDY = (
    "resume composes the run's config from it: copy it again from where the run was made, or remove it and give "
    "the run's overrides beside resume= (its config.yaml lists the run's values)"
)

log = logging.getLogger(__name__)


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
    saved = RunDir(run_dir).read_overrides(OVERRIDES_REMEDY)
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
    else return the checkpoint (read as tensors and plain data only).

    A damaged file the resume reads (the checkpoint, best.ckpt, summary.json, config.yaml) is
    refused naming it, what is wrong and what to do (``DamagedFile``). A run that finished by
    reaching its max_epochs continues when ``trainer.max_epochs`` is raised, from its last
    epoch's weights and optimizer state, which a warning says (``_continuation``); any other
    finished run is refused, saying why and what can be done."""
    key = "ckpt_path" if cfg.get("ckpt_path") else "resume"
    value = cfg.get(key)
    run = RunDir(run_dir)
    if not (run / run.CONFIG).is_file():
        raise ConfigError(f"{key}={value!r} is not allowed: {run_dir} is not a trainlab run directory (no config.yaml)")
    pruned = run.read_summary(SUMMARY_REMEDY) or {}
    if pruned.get("status") == "pruned":  # an Optuna trial its study's pruner stopped (with or without last.ckpt)
        from trainlab.search.results import pruned_refusal

        raise ConfigError(f"{key}={value!r} is not allowed: {pruned_refusal(pruned)}")
    if not checkpoint.is_file() and checkpoint == run.last_checkpoint:
        from trainlab.training.stack.member_checkpoint import restore_member_checkpoint

        restore_member_checkpoint(run_dir)  # a stack member killed while its stack trained: cut from the stack's
    if not checkpoint.is_file():
        return _start_again(cfg, run, checkpoint, key, value, given or [])
    from trainlab.training import payload  # imports Lightning: after the config is checked

    loaded = _load(run, checkpoint)  # first: a crafted file is refused before anything else
    summary = run.read_summary(SUMMARY_REMEDY) or {}
    status = summary.get("status")
    note = _continuation(cfg, summary, loaded, checkpoint, key, value) if status in FINISHED else None
    if payload.holds_weights_only(loaded):  # a finished stack member's file
        raise ConfigError(
            f"{key}={value!r} is not allowed: {checkpoint.name} of a run trained in a stack "
            "(hydra/launcher=stacked) holds its weights, not a training state; resume=<its run dir> "
            "continues an interrupted member from its last.ckpt"
        )
    missing = [name for name in TRAINING_STATE if name not in loaded]
    if missing:
        raise ConfigError(
            f"{key}={value!r} is not allowed: {checkpoint} lacks {', '.join(map(repr, missing))}, so it is not "
            "a training state to resume from (not a checkpoint trainlab wrote whole)"
        )
    if cfg.data.get("folds", 1) > 1:
        raise ConfigError(f"{key}={value!r} is not allowed with data.folds > 1 (cross-validation runs start over)")
    if cfg.tune.name != "none":
        raise ConfigError(f"{key}={value!r} is not allowed with tune={cfg.tune.name}; resume with tune=none")
    _check_best_whole(run, checkpoint, loaded)
    saved = run.read_config(CONFIG_REMEDY)
    if saved is None:
        raise ConfigError(f"{key}={value!r} is not allowed: {run_dir} is not a trainlab run directory (no config.yaml)")
    _check_same_config(saved, cfg, key, value, given or [])
    if note is not None:
        log.warning(note)
    return loaded


def resuming_line(cfg: DictConfig, checkpoint: Path, loaded: dict[str, Any]) -> str:
    """What a resume continues from, in one line: ``resuming <run>/checkpoints/last.ckpt: epoch 3
    of 10 done, continuing at epoch 4``; where no epoch is left to train (every epoch done, or
    early stopping ended it), ``continuing with the test``."""
    from trainlab.training.records import EARLY_STOPPING

    members = loaded.get("members")
    records = members.get("records") if isinstance(members, dict) else None
    record = records[0] if isinstance(records, list) and len(records) == 1 and isinstance(records[0], dict) else {}
    history = record.get("history")
    done = len(history) if isinstance(history, list) else int(loaded.get("epoch", -1)) + 1
    total = int(cfg.trainer.max_epochs)
    line = f"resuming {checkpoint}: epoch {done} of {total} done"
    if record.get("stopped_by") == EARLY_STOPPING:
        return f"{line} (early stopping ended the training), continuing with the test"
    if done >= total:
        return f"{line}, continuing with the test"
    return f"{line}, continuing at epoch {done + 1}"


def _start_again(
    cfg: DictConfig, run: RunDir, checkpoint: Path, key: str, value: Any, given: list[str]
) -> dict[str, Any]:
    """A run stopped (killed, interrupted, a full disk) before it kept an epoch: ``resume=``
    trains it from its first epoch in its own directory, with its own config (an empty dict:
    nothing to restore). A checkpoint named by ``ckpt_path``, a finished run, and a
    cross-validation or tuning run are refused as before."""
    status = (run.read_summary(SUMMARY_REMEDY) or {}).get("status")
    folds, tuned = cfg.data.get("folds", 1) > 1, cfg.tune.name != "none"
    if cfg.get("ckpt_path") or checkpoint != run.last_checkpoint or status in FINISHED or folds or tuned:
        raise ConfigError(f"{key}={value!r} is not allowed: {checkpoint} does not exist (no epoch of the run finished)")
    saved = run.read_config(CONFIG_REMEDY)
    if saved is None:
        raise ConfigError(
            f"{key}={value!r} is not allowed: {run.path} is not a trainlab run directory (no config.yaml)"
        )
    _check_same_config(saved, cfg, key, value, given)
    log.warning(f"{run.path} kept no epoch (it stopped before its first epoch ended): it trains again from epoch 1")
    return {}


def _load(run: RunDir, checkpoint: Path) -> dict[str, Any]:
    """``checkpoint``, read as tensors and plain data only; when it is damaged, the
    ``DamagedFile`` says which checkpoint of the run to resume from instead."""
    from trainlab.files.checkpoints import load_checkpoint

    try:
        return load_checkpoint(checkpoint)
    except DamagedFile as damaged:
        raise damaged.with_remedy(_instead_of(run, checkpoint)) from None


def _instead_of(run: RunDir, damaged: Path) -> str:
    """What to do when the run's checkpoint ``damaged`` cannot be read: resume from its other
    checkpoint (best.ckpt for last.ckpt, and the other way round) when that one is whole and
    holds a training state, else copy it again or start over."""
    from trainlab.files.checkpoints import load_checkpoint
    from trainlab.training import payload

    other = run.best_checkpoint if damaged.name == run.LAST_CKPT else run.last_checkpoint
    try:
        found = load_checkpoint(other) if other.is_file() and other != damaged else None
    except ConfigError:
        found = None
    if found is None or payload.holds_weights_only(found) or "epoch" not in found:
        return (
            "no other whole checkpoint of the run is left to resume from: copy it again from where the run "
            "was made, or start the run again in a new directory"
        )
    epoch = int(found["epoch"]) + 1
    if other == run.best_checkpoint:
        return (
            f"resume from the best epoch's checkpoint instead: ckpt_path={other} (epoch {epoch}; the epochs "
            "after it train again, to the same numbers), or copy it again from where the run was made"
        )
    return f"resume from the run's last checkpoint instead: resume={run.path} (epoch {epoch})"


def _check_best_whole(run: RunDir, checkpoint: Path, loaded: dict[str, Any]) -> None:
    """The run's best.ckpt, when there is one beside the checkpoint resumed from, is a whole
    checkpoint (``load_checkpoint``): the resumed run names it as its best checkpoint, which
    predict reads."""
    from trainlab.files.checkpoints import load_checkpoint

    best = run.best_checkpoint
    if best == checkpoint or not best.is_file():
        return
    epoch = _best_epoch(loaded)
    since = f" (epoch {epoch})" if epoch is not None else ""
    load_checkpoint(
        best,
        "copy it again from where the run was made; or remove it to resume without it: best.ckpt is then "
        f"written again only when an epoch beats the best so far{since}, whose weights last.ckpt keeps too",
    )


def _best_epoch(loaded: dict[str, Any]) -> int | None:
    """The best epoch a checkpoint's record names (one model's), or None."""
    members = loaded.get("members")
    records = members.get("records") if isinstance(members, dict) else None
    best = records[0].get("best_epoch") if isinstance(records, list) and records else None
    return int(best) if isinstance(best, int) else None


def _continuation(
    cfg: DictConfig, summary: dict[str, Any], loaded: dict[str, Any], checkpoint: Path, key: str, value: Any
) -> str:
    """The note for a finished run (``summary``) continued for more epochs from ``loaded``; a
    ConfigError saying why not, and what to do, when it cannot go on: it stopped by early
    stopping, max_steps or max_time, it ran the learning-rate finder alone, it was a stack's
    member (whose finished files keep weights, not the optimizer's state), trainer.max_epochs
    is not above the epochs it trained, or its last.ckpt does not hold its last epoch."""
    from trainlab.training import payload
    from trainlab.training.records import EARLY_STOPPING, MAX_EPOCHS

    status, stopped_by = summary.get("status"), summary.get("stopped_by")
    refused = f"{key}={value!r} is not allowed: that run has {status}; there is nothing to resume"
    if status == "tuned":
        raise ConfigError(f"{refused}: it ran the learning-rate finder alone (tune.apply=false)")
    epochs = int(summary.get("epochs") or int(loaded.get("epoch", -1)) + 1)
    if status == "early-stopped" or stopped_by == EARLY_STOPPING:
        raise ConfigError(
            f"{key}={value!r} is not allowed: early stopping ended that run at epoch {epochs}; there is nothing "
            "to resume: a resume does not train past early stopping (train a new run with a larger "
            "regularization.early_stopping.patience, or without early stopping)"
        )
    if payload.holds_weights_only(loaded):
        raise ConfigError(
            f"{refused}: it trained in a stack (hydra/launcher=stacked), whose finished members keep their "
            f"weights, not their optimizer state, so it cannot train further; train a new run with "
            f"trainer.max_epochs=<more than {epochs}>"
        )
    if stopped_by not in (None, MAX_EPOCHS):
        raise ConfigError(f"{refused}: trainer.{stopped_by} ended it, and a resume may raise trainer.max_epochs alone")
    wanted = int(cfg.trainer.max_epochs)
    if wanted <= epochs:
        raise ConfigError(
            f"{refused} at trainer.max_epochs={wanted}: it trained {epochs} epochs; to train it further, from "
            f"its last epoch's weights and optimizer state, add trainer.max_epochs=<more than {epochs}>"
        )
    kept = int(loaded.get("epoch", -1)) + 1
    if checkpoint.name == RunDir.LAST_CKPT and kept != epochs:
        raise ConfigError(
            f"{key}={value!r} is not allowed: {checkpoint} holds epoch {kept}, not the run's last epoch {epochs} "
            f"(written by an older trainlab?), so the run cannot go on from there; train a new run with "
            f"trainer.max_epochs={wanted}"
        )
    note = (
        f"continuing the finished run {checkpoint.parent.parent} ({epochs} epochs) to trainer.max_epochs={wanted} "
        f"from {checkpoint.name}: epoch {kept}'s weights and optimizer state"
    )
    if kept < epochs:
        note += f" (epochs {kept + 1}-{epochs} train again)"
    best = summary.get("best_epoch")
    if best is not None and best != kept:
        note += f", not the best epoch {best}'s weights, which the run restored at its end"
    return note


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
