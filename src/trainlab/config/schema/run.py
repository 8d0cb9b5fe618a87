"""The schemas of the trainer option and of the top level (conf/train.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from trainlab.config.ranges import above, at_least, either, key, list_of, one_of, within
from trainlab.config.schema.registry import METRIC, MODE, option

# ----- trainer: the Lightning Trainer arguments trainlab passes on -----

# Lightning's precision values, read from lightning 2.6.6 (lightning/fabric/plugins/precision/
# precision.py: _PRECISION_INPUT_INT, _PRECISION_INPUT_STR, _PRECISION_INPUT_STR_ALIAS); not
# read at import, which would load Lightning before the config is checked.
PRECISIONS = (64, 32, 16, "64-true", "32-true", "16-true", "bf16-true", "16-mixed", "bf16-mixed")
PRECISIONS += ("transformer-engine", "transformer-engine-float16", "64", "32", "16", "bf16")
DEVICES = either(
    at_least(1, integer=True),
    one_of("auto"),
    list_of(at_least(0, integer=True), "device indices"),
    words="an integer >= 1, auto, or a list of device indices such as [0, 1]",
)


@option("trainer", "trainer")
@dataclass
class Trainer:
    accelerator: str = "auto"  # gpu or cuda without a GPU: refused by trainlab.config.validate
    devices: Any = key(1, DEVICES)
    # Several devices: one process each, Lightning's DDP (trainlab averages the gradients:
    # trainlab.training.distributed). auto: DDP when devices (or num_nodes) > 1, as in Lightning.
    strategy: str = key(
        "auto", one_of("auto", "ddp", words="auto or ddp (ddp_spawn, fsdp, deepspeed: not supported by trainlab)")
    )
    num_nodes: int = key(1, at_least(1, integer=True, note="machines, each with trainer.devices processes"))
    max_epochs: int = key(100, at_least(1, integer=True))
    min_epochs: int | None = key(None, at_least(0, integer=True, null="no minimum"))
    max_steps: int = key(-1, either(one_of(-1), at_least(1, integer=True), words="-1 (no limit) or an integer >= 1"))
    max_time: str | None = None
    num_sanity_val_steps: int = key(0, at_least(-1, integer=True, note="-1: all validation batches"))
    enable_progress_bar: bool = True
    enable_model_summary: bool = True
    precision: Any = key("32-true", one_of(*PRECISIONS, words=f"one of {', '.join(map(str, PRECISIONS))}"))
    gradient_clip_val: float | None = key(None, above(0, null="no clipping"))
    deterministic: Any = None
    benchmark: bool | None = None
    check_val_every_n_epoch: int | None = key(1, at_least(1, integer=True, null="every epoch"))
    log_every_n_steps: int | None = key(None, at_least(1, integer=True, null="no per-step loss"))
    limit_train_batches: Any = None
    limit_val_batches: Any = None
    limit_test_batches: Any = None
    fast_dev_run: Any = False
    overfit_batches: float = 0.0
    # trainlab's, not Lightning's: torch's CPU threads while training (trainlab.training.threads)
    threads: int | None = key(None, at_least(1, integer=True, null="one for a small model, else torch's"))


# ----- the top level -----


@dataclass
class Dropout:
    p: float = key(0.5, within(0, 1, "[)", "a probability"))


@dataclass
class EarlyStopping:
    monitor: str = key("${monitor}", METRIC)
    mode: str = key("${mode}", MODE)
    patience: int = key(10, at_least(0, integer=True, note="epochs without improvement"))
    min_delta: float = key(0.0, at_least(0))


@dataclass
class Regularization:
    """Each member is None unless its option is selected (``regularization=[dropout,...]``)."""

    dropout: Dropout | None = None
    early_stopping: EarlyStopping | None = None
    weight_decay: float | None = key(None, at_least(0, null="no weight decay"))


@dataclass
class Speed:
    steps_per_call: int = key(128, at_least(1, integer=True, note="optimizer steps per Lightning step"))
    cuda_graph: bool = True
    drop_last: bool = False
    loader: str = key("memory", one_of("memory", "dataloader"))
    async_checkpoint: bool = True
    last_checkpoint_seconds: float = key(2.0, at_least(0, "seconds", note="0: every epoch"))


@dataclass
class Pictures:
    enabled: bool = True
    every_n_epochs: int | None = key(None, at_least(0, integer=True, note="0: none during training", null="5 per run"))
    size: int = key(256, within(32, 2048, integer=True, note="pixels a side"))
    neurons: bool = True
    histograms: bool = True
    # A sweep trained in stacks (hydra/launcher=stacked, run_sweep): the jobs whose pictures are drawn
    # as it ends, the best of each stack by the monitored metric; the others' summary.json names
    # the command that draws them later (trainlab-pictures <run dir>). null: every job's.
    sweep_best: int | None = key(4, at_least(0, integer=True, note="jobs per stack", null="every job"))


@dataclass
class Divergence:
    max_loss: float | None = key(1e4, above(0, "a loss", note="training stops above it", null="non-finite only"))


@dataclass
class Distributed:
    # Several devices (trainlab.training.ddp): how long a rank waits for the others in a collective step
    # (their start included) before the run stops as failed; a rank whose process ended is noticed at once.
    timeout: float = key(300.0, above(0, "seconds", note="a silent rank stops the run after it"))


@dataclass
class Train:
    """conf/train.yaml. Groups are typed by their options' schemas, hence Any here."""

    data: Any = MISSING
    model: Any = MISSING
    activation: Any = MISSING
    loss: Any = MISSING
    optimizer: Any = MISSING
    regularization: Regularization = field(default_factory=Regularization)
    scheduler: Any = None
    trainer: Any = MISSING
    logger: Any = MISSING
    tune: Any = MISSING
    seed: int = 42
    monitor: str = key("val/loss", METRIC)
    mode: str = key("min", MODE)
    divergence: Divergence = field(default_factory=Divergence)
    distributed: Distributed = field(default_factory=Distributed)
    resume: str | None = None
    ckpt_path: str | None = None
    speed: Speed = field(default_factory=Speed)
    pictures: Pictures = field(default_factory=Pictures)
