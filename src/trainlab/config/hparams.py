"""What TensorBoard's HPARAMS tab shows of a run: the course's choices, and what the user chose.

A person comparing runs (a sweep's jobs, or the runs under ``outputs/``) looks for what
differs between them: the course's choices (the data set, model, hidden sizes, activation,
loss, optimizer, learning rate, batch size and regularization) and every key given on the
command line (a sweep's swept keys among them), not the fifty settings every run shares. So
HPARAMS holds those, and every other setting stays in the run's config.yaml. One function
decides, for a lone run (``trainlab.training.loggers.log_final``) and a stack's member
(``final_events``) alike: the same config and overrides give the same hyperparameters.

Overrides of how a run is shown or where it writes (the progress bar, the model summary,
pictures, the logger, checkpoint timing, ``resume``, ``hydra.*``) change none of its numbers
and are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig

from trainlab.config.flatten import flatten
from trainlab.config.plain import lookup, plain

# The config groups whose option a run names (``optimizer=sgd``): HPARAMS shows the option's name.
GROUPS = ("data", "model", "activation", "loss", "optimizer", "scheduler", "trainer", "logger", "tune", "experiment")
# The course's choices, in the lecture's words: always shown (where the config has them).
COURSE = ("data", "model", "model.hidden", "activation", "loss", "optimizer", "optimizer.lr", "data.batch_size")
# Each regularization's own knob, shown when it is selected.
REGULARIZATION = {"dropout": "p", "early_stopping": "patience", "weight_decay": None}
# Overrides that change how a run is shown or written, not its numbers (a key or its prefix).
UNSHOWN = (
    "hydra",
    "resume",
    "ckpt_path",
    "logger",
    "pictures",
    "trainer.enable_progress_bar",
    "trainer.enable_model_summary",
    "speed.async_checkpoint",
    "speed.last_checkpoint_seconds",
    "distributed.timeout",
)


def hyperparameters(
    cfg: DictConfig, choices: dict[str, str], loss: str, overrides: Sequence[str] = ()
) -> dict[str, Any]:
    """The run's HPARAMS (see the module doc): ``{"optimizer": "adam", "optimizer.lr": 0.01,
    ...}``, the course's choices first, then each key of ``overrides`` (as ``python train.py``
    takes them; a group's override names its option, a node's gives each of its settings).
    ``loss``: the loss the run resolved (``auto`` is resolved). Values are numbers, text and
    bools, as TensorBoard takes them (lists and None as text)."""
    values = plain(cfg)
    params: dict[str, Any] = {}
    for key in COURSE:
        _add(params, key, values, choices, loss)
    reg = {k: v for k, v in (values.get("regularization") or {}).items() if v is not None}
    params["regularization"] = ",".join(reg) or "none"
    for name, knob in REGULARIZATION.items():
        if name in reg:
            _add(params, f"regularization.{name}.{knob}" if knob else f"regularization.{name}", values, choices, loss)
    for override in overrides:
        key = _key(override)
        if key and not any(key == k or key.startswith(f"{k}.") for k in UNSHOWN):
            _add(params, key, values, choices, loss)
    return params


def _key(override: str) -> str:
    """The dotted key an override sets (``+a.b=1``, ``~a.b``, ``group@pkg=option``: ``a.b``, ``group``)."""
    key = override.split("=", 1)[0].lstrip("+~").split("@", 1)[0]
    return key.replace("/", ".")


def _add(params: dict[str, Any], key: str, values: dict[str, Any], choices: dict[str, str], loss: str) -> None:
    """``key``'s entry (a group: its option's name; a node: each setting under it) in ``params``."""
    if key in params:
        return
    if key == "loss":
        params[key] = loss
    elif key == "regularization":
        return  # named above, with each selected one's knob
    elif key in GROUPS:
        node = values.get(key)
        option = choices.get(key) or (node.get("name") if isinstance(node, dict) else None)
        if option is not None:
            params[key] = str(option)
    else:
        node = lookup(values, key, _ABSENT)
        if node is _ABSENT:
            return
        for name, value in flatten(node, key).items():
            if name.rsplit(".", 1)[-1] not in ("_target_", "_partial_", "name") and value != {}:
                params[name] = value if type(value) in (bool, int, float, str) else str(value)


_ABSENT = object()
