"""The hyperparameters a run's logger records, with the final metrics."""

from __future__ import annotations

from typing import Any

from lightning.pytorch.loggers import Logger, TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only
from typing_extensions import override

from trainlab.files.events import EventFile


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


def final_summaries(params: dict[str, Any], metrics: dict[str, float]) -> list[Any]:
    """The ``Summary`` protos that end a run's TensorBoard events, for a lone run and a stack's
    member alike: the final metrics (``final/val/loss``, ...) as scalars, then the HPARAMS
    plugin's session of ``params`` (``trainlab.config.hparams.hyperparameters``: numbers, text,
    bools), ended as a success. Nothing without metrics (a run stopped before its end).

    No experiment summary: TensorBoard then builds the HPARAMS table from every run's session
    (all their keys, those whose values differ across the runs first) and takes each run's
    scalars as its metric columns (``final/*`` first). A run's own experiment summary would
    name the columns for every run shown beside it: TensorBoard takes one run's, any one."""
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.plugins.hparams import metadata
    from tensorboard.plugins.hparams.api_pb2 import Status
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData, SessionEndInfo, SessionStartInfo

    if not metrics:
        return []
    start = SessionStartInfo()
    for key, value in params.items():
        if isinstance(value, bool):
            start.hparams[key].bool_value = value
        elif isinstance(value, int | float):
            start.hparams[key].number_value = value
        else:
            start.hparams[key].string_value = str(value)
    end = SessionEndInfo(status=Status.STATUS_SUCCESS)
    version = metadata.PLUGIN_DATA_VERSION
    sessions = [
        (metadata.SESSION_START_INFO_TAG, HParamsPluginData(session_start_info=start, version=version)),
        (metadata.SESSION_END_INFO_TAG, HParamsPluginData(session_end_info=end, version=version)),
    ]
    scalars = [Summary.Value(tag=f"final/{k}", simple_value=float(v)) for k, v in metrics.items()]
    return [Summary(value=scalars)] + [
        Summary(value=[Summary.Value(tag=tag, metadata=metadata.create_summary_metadata(data))])
        for tag, data in sessions
    ]


def final_events(events: EventFile, params: dict[str, Any], metrics: dict[str, float]) -> None:
    """``final_summaries`` added to a run's ``EventFile`` (a stack's member, a fold: written
    whole), at step 0 as a lone run's."""
    for summary in final_summaries(params, metrics):
        events.summary(summary)


def log_final(logger: Logger | None, params: dict[str, Any], metrics: dict[str, float]) -> None:
    """Record the run's hyperparameters with its final metrics (``final/val/loss``, ...),
    which fill the HPARAMS tab's metric columns."""
    if logger is None:
        return
    if isinstance(logger, TensorBoardLogger):
        _write_final(logger.log_dir, params, metrics)
    else:
        logger.log_hyperparams(params)
        logger.log_metrics({f"final/{k}": v for k, v in metrics.items()})
    logger.finalize("success")


@rank_zero_only
def _write_final(log_dir: str, params: dict[str, Any], metrics: dict[str, float]) -> None:
    """``final_summaries`` in an event file of their own in ``log_dir``, beside the logger's
    (TensorBoard reads a directory's event files as one run). torch's ``FileWriter`` names it
    from the counter the logger's writer uses: no name is taken twice."""
    from torch.utils.tensorboard.writer import FileWriter

    writer = FileWriter(log_dir)
    try:
        for summary in final_summaries(params, metrics):
            writer.add_summary(summary, 0)
    finally:
        writer.close()
