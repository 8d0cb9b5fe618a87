"""The multi-layer perceptron."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import nn

from trainlab.models.activations import Activation
from trainlab.models.activations import activation as activation_module
from trainlab.models.dense import Dense, logits_to_proba


class MLP(nn.Module):
    """Dense layers with an activation and dropout between them.

    For hidden sizes h1..hk: a_0 = x, a_i = dropout(g(a_{i-1} @ W_i + b_i)) for
    i = 1..k, and the output z = a_k @ W_out + b_out with no activation (logits
    for classification, values for regression). ``dropout`` is the probability p of
    zeroing each hidden unit while training (0 turns it off).
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int],
        out_features: int,
        activation: Activation = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if len(hidden) == 0:
            raise ValueError("MLP needs at least one hidden layer; use Perceptron for none")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        sizes = [in_features, *hidden]
        layers: list[nn.Module] = []
        for n_in, n_out in pairwise(sizes):
            layers.append(Dense(n_in, n_out, activation_module(activation)))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        layers.append(Dense(sizes[-1], out_features))
        self.layers = nn.Sequential(*layers)
        self.in_features = in_features
        self.out_features = out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities from logits: sigmoid for one output, softmax for several."""
        return logits_to_proba(self(x))
