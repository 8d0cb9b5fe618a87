"""The hyperparameters a run's logger records, with the final metrics."""

from __future__ import annotations

from typing import Any

from lightning.pytorch.loggers import Logger, TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig
from typing_extensions import override

from trainlab.config.flatten import flatten
from trainlab.config.plain import plain
from trainlab.files.events import EventFile

GROUPS = ("data", "model", "activation", "loss", "optimizer", "scheduler", "trainer", "logger")


class TensorBoard(TensorBoardLogger):
    """Lightning's TensorBoardLogger without its hparams.yaml.

    Lightning writes hparams.yaml at the logger's first save, which comes before trainlab
    logs the hyperparameters (``log_final``, at the end, with the final metrics), so the file
    held ``{}``. The run's settings are in config.yaml (all of them) and in TensorBoard's
    HPARAMS tab (``log_final``); saving here flushes the event files only.
    """

    @override
    @rank_zero_only
    def save(self) -> None:
        self.experiment.flush()


def hyperparameters(cfg: DictConfig, choices: dict[str, str], loss: str) -> dict[str, Any]:
    """A flat dict for TensorBoard's HPARAMS tab: each group's chosen option (``optimizer:
    adam``) and its scalar settings (``optimizer.lr: 0.01``); lists become strings."""
    container = plain(cfg)
    params: dict[str, Any] = {"seed": container["seed"], "monitor": container["monitor"]}
    reg = {k: v for k, v in (container.get("regularization") or {}).items() if v is not None}
    container = container | {"regularization": reg}
    params["regularization"] = ",".join(reg) or "none"
    for group in GROUPS:
        params[group] = choices.get(group) or (container.get(group) or {}).get("name", "")
    params["loss"] = loss
    for group in (*GROUPS, "regularization"):
        _hparams(container.get(group) or {}, group, params)
    return params


def _hparams(node: Any, prefix: str, out: dict[str, Any]) -> None:
    """A group's settings as HPARAMS columns: dotted keys without Hydra's and the option's name;
    lists and None as text (TensorBoard takes numbers, text and bools)."""
    for key, value in flatten(node, prefix).items():
        if key.rsplit(".", 1)[-1] in ("_target_", "_partial_", "name") or value == {}:
            continue
        out[key] = str(value) if isinstance(value, list | tuple) or value is None else value


def final_events(events: EventFile, params: dict[str, Any], metrics: dict[str, float]) -> None:
    """``log_final``'s records, added to a run's ``EventFile`` (a stack's member, written
    whole): the final metrics as scalars without a step, then the HPARAMS plugin's summaries
    of ``params`` with those metrics, as Lightning's TensorBoardLogger writes them."""
    from torch.utils.tensorboard.summary import hparams

    final = {f"final/{k}": v for k, v in metrics.items()}
    if not final:
        return
    plain = {k: v if type(v) in (bool, int, float, str) else str(v) for k, v in params.items()}
    events.scalars(final, None)
    for summary in hparams(plain, final):
        events.summary(summary)


def log_final(logger: Logger | None, params: dict[str, Any], metrics: dict[str, float]) -> None:
    """Record the run's hyperparameters with its final metrics (``final/val/loss``, ...),
    which fill the HPARAMS tab's metric columns."""
    if logger is None:
        return
    if isinstance(logger, TensorBoardLogger):
        logger.log_hyperparams(params, metrics={f"final/{k}": v for k, v in metrics.items()})
    else:
        logger.log_hyperparams(params)
        logger.log_metrics({f"final/{k}": v for k, v in metrics.items()})
    logger.finalize("success")
