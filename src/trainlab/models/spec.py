"""Rebuild a network from a plain-data description (as stored in trainlab's checkpoints)."""

from __future__ import annotations

from functools import partial
from typing import Any

from torch import nn

from trainlab.models.activations import activation
from trainlab.models.dense import Perceptron
from trainlab.models.mlp import MLP


def from_spec(spec: dict[str, Any]) -> nn.Module:
    """The untrained network of ``spec``: ``{"name": "perceptron" | "mlp", "in_features",
    "out_features", "hidden": [...], "activation": {"name": ..., **options}, "dropout": p}``."""
    if spec["name"] == "perceptron":
        return Perceptron(spec["in_features"], spec["out_features"])
    options = dict(spec["activation"])
    name = options.pop("name")
    return MLP(
        spec["in_features"],
        spec["hidden"],
        spec["out_features"],
        activation=partial(activation, name, **options),
        dropout=spec["dropout"],
    )
