"""The names of the options whose implementation is code: models, activations, losses.

Torch-free, so the config is checked (and ``--help`` answers) before torch is imported.
Each name's code is in its registry: ``trainlab.models.MODELS``, ``trainlab.models.ACTIVATIONS``
and ``trainlab.training.losses.Loss``; each registry refuses to import if it and its list here
disagree, so adding an option is its code, its name here, one YAML file and its test.
"""

from __future__ import annotations

MODELS = ("perceptron", "mlp")
ACTIVATIONS = ("sigmoid", "tanh", "relu", "identity", "leaky_relu", "gelu")
LOSSES = ("auto", "bce", "cross_entropy", "mse")
TASKS = ("binary", "multiclass", "regression")  # binary: labels 0/1; multiclass: 0..C-1; regression: real targets
# A split's metrics per task, beside its loss; training tracks acc (mae for regression) on the device.
METRICS = {"binary": ("acc", "f1", "auroc"), "multiclass": ("acc", "f1"), "regression": ("mae", "mse", "r2")}


def metric_names(task: str) -> list[str]:
    """Every name trainlab logs for ``task``: {stage}/loss, {stage}/{metric} and lr."""
    names = ["train/loss", "train/mae" if task == "regression" else "train/acc"]
    for stage in ("val", "test"):
        names += [f"{stage}/loss", *(f"{stage}/{name}" for name in METRICS[task])]
    return [*names, "lr"]


def check_registry(kind: str, names: tuple[str, ...], registry: object) -> None:
    """Raise at import when a registry's names differ from this module's list of them."""
    if tuple(registry) != names:  # type: ignore[arg-type]
        raise RuntimeError(f"trainlab.config.options.{kind} {names} and its registry {tuple(registry)} differ")  # type: ignore[arg-type]
