"""The names of the options whose implementation is code: models, activations, losses.

Torch-free, so the config is checked (and ``--help`` answers) before torch is imported.
Each name's code is in its registry: ``trainlab.models.MODELS``, ``trainlab.models.ACTIVATIONS``
and ``trainlab.losses.Loss``; each registry refuses to import if it and its list here
disagree, so adding an option is its code, its name here, one YAML file and its test.
"""

from __future__ import annotations

MODELS = ("perceptron", "mlp")
ACTIVATIONS = ("sigmoid", "tanh", "relu", "identity", "leaky_relu", "gelu")
LOSSES = ("auto", "bce", "cross_entropy", "mse")


def check_registry(kind: str, names: tuple[str, ...], registry: object) -> None:
    """Raise at import when a registry's names differ from this module's list of them."""
    if tuple(registry) != names:  # type: ignore[arg-type]
        raise RuntimeError(f"trainlab.options.{kind} {names} and its registry {tuple(registry)} differ")  # type: ignore[arg-type]
