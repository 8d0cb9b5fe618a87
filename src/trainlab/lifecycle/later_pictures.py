"""A finished run's pictures drawn from its run directory (``trainlab-pictures <run dir>``).

A stacked sweep draws the pictures of each stack's best jobs only (``pictures.sweep_best``);
any other job's are drawn here, later, as its own run would have drawn them: its data set
rebuilt from its config.yaml (the same seed, split and preprocessing), its best weights from
best.ckpt (``Predictor.from_run``), then the input pictures (decision boundary, neurons) and
the test pictures (confusion matrix or predicted against true), the latter also in a new
TensorBoard event file at its last epoch. summary.json then lists them.
"""

from __future__ import annotations

from pathlib import Path

from trainlab.errors import ConfigError
from trainlab.files.batch import durable_batch
from trainlab.files.events import EventFile
from trainlab.files.rundir import RunDir
from trainlab.pictures.report import save_input_pictures, save_test_pictures
from trainlab.predict import Predictor
from trainlab.training import build
from trainlab.training.losses import Loss


def draw_pictures(run_dir: str | Path) -> list[Path]:
    """Draw the pictures of the finished run in ``run_dir`` (see the module doc); their paths.
    ConfigError when it is not a finished run."""
    out = RunDir(Path(run_dir))
    summary = out.read_summary()
    cfg = out.read_config()
    if summary is None or cfg is None or summary.get("status") != "finished":
        raise ConfigError(f"{out.path}: not a finished run (its summary.json and config.yaml say how it ended)")
    model = Predictor.from_run(out.path).model
    data = build.data(cfg)
    loss = Loss(summary["loss"], data.task, *data.target_scale)
    epochs, best = summary["epochs"], summary.get("best_epoch")
    with durable_batch():
        pictures = save_input_pictures(model, loss, data, out.path, cfg.pictures.size, cfg.pictures.neurons, epoch=best)
        events = EventFile() if cfg.logger.name == "tensorboard" else None
        pictures += save_test_pictures(model, loss, data, out.path, events, epochs)
        if events is not None and len(events.events) > 1:
            events.write(out.path)
        summary.pop("pictures_later", None)
        summary["pictures"] = [str(p.relative_to(out.path)) for p in pictures]
        out.write_json(out.SUMMARY, summary)
    return pictures
