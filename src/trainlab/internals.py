"""Every use of a library's internals, in one place.

trainlab takes over parts of Lightning's training loop for speed (see README, "Speed"),
and a few of those parts have no public API. Each function below says what it needs and
why no public API serves. Tested with lightning 2.6.6, tensorboard 2.20, torch 2.13,
hydra-core 1.3, omegaconf 2.3 and optuna 4;
tests/test_internals.py checks each one against the installed versions and fails loudly,
naming the function, when an upgrade breaks it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: the config's modules read this file before torch is imported
    import lightning as L


def count_optimizer_steps(trainer: L.Trainer, steps: int) -> None:
    """Add ``steps`` to Lightning's count of optimizer steps (``trainer.global_step``, which
    ``max_steps``, checkpoints and resume read).

    Manual optimization counts a step when the step goes through Lightning's
    ``LightningOptimizer.step`` wrapper; trainlab's fast path steps the torch optimizer
    directly (the wrapper's closure and hooks cost more than a small model's step), so it
    tells the counter itself.
    """
    trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress.increment_by(steps)


def publish_to_progress_bar(trainer: L.Trainer, values: dict[str, float]) -> None:
    """Show ``values`` in the progress bar (``trainer.progress_bar_metrics``, as ``self.log(prog_bar=True)``)."""
    trainer.progress_bar_metrics.update(values)


def stops_after_this_epoch(trainer: L.Trainer) -> bool:
    """Whether the fit loop ends after the current training epoch, asked from
    ``on_train_epoch_end`` (before Lightning counts the epoch as finished).

    Lightning decides this inside its private fit loop (``_FitLoop.done``, after the hook),
    so the rule is restated here: stopped (early stopping or ``trainer.should_stop``) once
    ``min_epochs`` and ``min_steps`` are met, or ``max_epochs`` or ``max_steps`` reached.
    (``max_time`` is not foreseen: its last epoch is written by the final save instead.)
    """
    epochs_done, steps = trainer.current_epoch + 1, trainer.global_step
    min_epochs, min_steps = trainer.min_epochs or 0, trainer.min_steps or 0
    max_epochs, max_steps = trainer.max_epochs, trainer.max_steps
    return (
        (trainer.should_stop and epochs_done >= min_epochs and steps >= min_steps)
        or (max_epochs is not None and max_epochs >= 0 and epochs_done >= max_epochs)
        or (max_steps is not None and max_steps >= 0 and steps >= max_steps)
    )


def add_scalar_summaries(writer: Any, values: dict[str, float], step: int) -> None:
    """Log ``values`` to a ``SummaryWriter`` as one event at ``step`` (what ``add_scalar``
    per key writes as one event each: about 0.15 ms a key on a 2-core CPU). Nothing on a
    rank other than 0 (see ``add_png_summary``)."""
    from tensorboard.compat.proto.summary_pb2 import Summary

    file_writer = writer._get_file_writer()
    if file_writer is None:  # Lightning's stand-in experiment on a rank other than 0: no file
        return
    summary = Summary(value=[Summary.Value(tag=k, simple_value=float(v)) for k, v in values.items()])
    file_writer.add_summary(summary, step)


def add_png_summary(writer: Any, tag: str, png: bytes, height: int, width: int, step: int) -> None:
    """Log an already encoded PNG to a ``torch.utils.tensorboard.SummaryWriter``.

    ``SummaryWriter.add_image`` takes pixels and re-encodes them, resampling with Lanczos
    and compressing at zlib level 6: most of the cost of a picture. The writer's file writer
    (``_get_file_writer``, which also reopens it after ``close``) takes a ready summary.
    On a rank other than 0 Lightning's logger hands out a stand-in whose every method
    returns None: nothing is written.
    """
    from tensorboard.compat.proto.summary_pb2 import Summary

    file_writer = writer._get_file_writer()
    if file_writer is None:  # Lightning's stand-in experiment on a rank other than 0: no file
        return
    image = Summary.Image(height=height, width=width, colorspace=3, encoded_image_string=png)
    file_writer.add_summary(Summary(value=[Summary.Value(tag=tag, image=image)]), step)


def hydra_override_dirname(overrides: list[Any], config: Any) -> str:
    """``hydra.job.override_dirname`` for a job's parsed ``overrides``, as Hydra's
    ``load_sweep_config`` sets it, with the key/item separators and excluded keys of
    ``config.hydra.job.config.override_dirname``. Hydra computes it in a private function of
    its config loader (no public API builds a job's config from another's); the stacked
    launcher sets it on the copies it makes (``hydra_plugins.trainlab_launcher``)."""
    from hydra._internal.config_loader_impl import get_overrides_dirname

    names = config.hydra.job.config.override_dirname
    return get_overrides_dirname(
        overrides=overrides, kv_sep=names.kv_sep, item_sep=names.item_sep, exclude_keys=list(names.exclude_keys)
    )


def set_hydra_config(config: Any) -> None:
    """``HydraConfig.instance().set_config(config)`` (hydra-core 1.3) without its deep copy of
    the ``hydra`` node: 5 ms a job on the 2-core CPU, where a stacked sweep's job costs 10.

    Hydra hands out a config holding only ``hydra`` (``HydraConfig.instance().cfg``: what
    ``HydraConfig.get()`` and ``${hydra:...}`` read) whose ``hydra`` node is re-parented to
    the whole config, so its interpolations reach the job's keys. It builds that holder with
    ``OmegaConf.masked_copy``, which copies the node; the stacked launcher's job configs are
    each their own (copies of their composition), so the holder can take the node itself: set
    under OmegaConf's ``no_deepcopy_set_nodes`` flag (as Hydra's config loader and
    ``OmegaConf.unsafe_merge`` set nodes), then re-parented as Hydra does (``_set_parent``,
    which has no public name). ``config.hydra`` is made read-only, as ``set_config`` makes it."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf, flag_override

    node = config.hydra
    OmegaConf.set_readonly(node, True)
    holder = OmegaConf.create()
    with flag_override(holder, "no_deepcopy_set_nodes", True):
        holder.hydra = node
    node._set_parent(config)
    HydraConfig.instance().cfg = holder


def optuna_trial_id(trial: Any) -> int:
    """The storage's id of an Optuna trial (a ``FrozenTrial``): what ``optuna.trial.Trial(study,
    trial_id)`` takes to report to a trial from the job's process (``trainlab.search.link``).
    Optuna has no public name for it: ``FrozenTrial._trial_id``, as Optuna's own integrations use."""
    return int(trial._trial_id)


def omegaconf_dumper() -> Any:
    """OmegaConf's YAML dumper class (PyYAML's, with OmegaConf's representers: its ``str``
    representer quotes a string YAML would read as a bool or a number). ``OmegaConf.to_yaml``
    uses it; no public API hands it out, and ``trainlab.files.config_text`` gives its
    representers to libyaml's faster emitter."""
    from omegaconf._utils import get_omega_conf_dumper

    return get_omega_conf_dumper()


def tensorboard_file_of(error: BaseException) -> str | None:
    """The TensorBoard event file whose write raised ``error``, or None. TensorBoard's event
    writer writes on a thread of its own and raises its failure (an OSError without a file
    name) at the next write or flush; its writer object, found in the traceback's frames,
    keeps the file's name privately (``EventFileWriter._file_name``)."""
    traceback = error.__traceback__
    while traceback is not None:
        owner = traceback.tb_frame.f_locals.get("self")
        name = getattr(owner, "_file_name", None)
        if type(owner).__module__.startswith("tensorboard.") and isinstance(name, str):
            return name
        traceback = traceback.tb_next
    return None


def dump_checkpoint(trainer: L.Trainer) -> dict[str, Any]:
    """The checkpoint ``trainer.save_checkpoint`` would write now, as a dict (Lightning builds
    it in its private checkpoint connector; no public method returns it unwritten)."""
    return trainer._checkpoint_connector.dump_checkpoint(weights_only=False)


def stop_watching_children() -> None:
    """Tell Lightning's child-process observer that it watches no child from now on.

    ``python train.py trainer.devices=N`` starts ranks 1..N-1 through Lightning's
    ``_SubprocessScriptLauncher``, whose thread (``_ChildProcessObserver``, polling every 5 s)
    SIGKILLs every process, rank 0 included, once a child ends with a code other than 0: rank 0
    could not record the rank that stopped. Called once the process group exists, from then on
    trainlab notices a stopped rank in its next collective step (``trainlab.training.ddp``);
    before, while the ranks meet, the observer still ends a start that cannot complete. No
    public switch turns it off; given an empty list of children its next poll ends it.
    """
    import threading

    for thread in threading.enumerate():
        if type(thread).__name__ == "_ChildProcessObserver":
            thread._child_processes = []  # type: ignore[attr-defined]


def lr_finder_without_bar(trainer: L.Trainer) -> int:
    """Turn off the tqdm bar ("Finding best initial lr") of Lightning's learning-rate finder;
    returns how many finder callbacks were found (1 inside a running ``Tuner.lr_find``).

    ``Tuner.lr_find`` replaces the trainer's callbacks with its private ``_LRCallback``, built
    with ``progress_bar_refresh_rate=1`` whatever ``enable_progress_bar`` says, and no argument
    of lr_find changes it; the callback opens its bar at the first training batch. Called from
    the module's ``on_train_start``, before that (``trainlab.lifecycle.tune.RangeTest``, which
    shows trainlab's own bar instead, or none)."""
    found = [c for c in trainer.callbacks if type(c).__name__ == "_LRCallback"]
    for callback in found:
        callback.progress_bar_refresh_rate = 0  # type: ignore[attr-defined]
    return len(found)
