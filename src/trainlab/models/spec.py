"""Rebuild a network from a plain-data description (as stored in trainlab's checkpoints).

``MODELS`` is the one registry of model names: the config's ``model.name`` is checked
against it, and each option of conf/model/ is one of its names.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from torch import nn

from trainlab.config import options
from trainlab.models.activations import activation
from trainlab.models.dense import Perceptron
from trainlab.models.mlp import MLP


def perceptron(spec: dict[str, Any]) -> nn.Module:
    """One Dense layer from ``in_features`` to ``out_features`` (no hidden layer)."""
    return Perceptron(spec["in_features"], spec["out_features"])


def mlp(spec: dict[str, Any]) -> nn.Module:
    """Dense layers of sizes ``hidden``, with ``activation`` and ``dropout`` between them."""
    options = dict(spec["activation"])
    name = options.pop("name")
    return MLP(
        spec["in_features"],
        spec["hidden"],
        spec["out_features"],
        activation=partial(activation, name, **options),
        dropout=spec["dropout"],
    )


# name -> the builder of its untrained network from a spec.
MODELS: dict[str, Callable[[dict[str, Any]], nn.Module]] = {"perceptron": perceptron, "mlp": mlp}
options.check_registry("MODELS", options.MODELS, MODELS)


def from_spec(spec: dict[str, Any]) -> nn.Module:
    """The untrained network of ``spec``: ``{"name": one of MODELS, "in_features",
    "out_features", "hidden": [...], "activation": {"name": ..., **options}, "dropout": p}``."""
    try:
        build = MODELS[spec["name"]]
    except KeyError:
        raise ValueError(f"unknown model {spec['name']!r}; allowed: {', '.join(MODELS)}") from None
    return build(spec)
