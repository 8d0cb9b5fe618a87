"""The Dense layer and the perceptron, written from their parameters."""

from __future__ import annotations

import math

import torch
from torch import nn

from trainlab.models.activations import Activation
from trainlab.models.activations import activation as activation_module


class Dense(nn.Module):
    """A fully connected layer: z = x @ W + b, then a = g(z).

    W has shape [in_features, out_features] and b has shape [out_features]; both start
    uniform in [-1/sqrt(in_features), 1/sqrt(in_features)], as ``torch.nn.Linear`` does.
    ``activation`` is a name (``"sigmoid"``, ``"relu"``, ...), a module, or ``None`` for
    g(z) = z.
    """

    def __init__(self, in_features: int, out_features: int, activation: Activation = None) -> None:
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(f"Dense needs in_features, out_features >= 1, got {in_features}, {out_features}")
        self.in_features = in_features
        self.out_features = out_features
        self.W = nn.Parameter(torch.empty(in_features, out_features))
        self.b = nn.Parameter(torch.empty(out_features))
        self.g = activation_module(activation)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.in_features)
        with torch.no_grad():
            self.W.uniform_(-bound, bound)
            self.b.uniform_(-bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # addmm computes b + x @ W in one kernel (and one in backward); same math.
        z = torch.addmm(self.b, x, self.W) if x.dim() == 2 else x @ self.W + self.b
        return self.g(z)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


class Perceptron(nn.Module):
    """The perceptron: one Dense layer, y = g(w0 + X^T W).

    With ``activation=None`` (how the trainer uses it) the output is the logit
    z = w0 + X^T W and ``predict_proba`` applies the sigmoid (or the softmax for
    several outputs); the loss then works on z, which is numerically stable.
    """

    def __init__(self, in_features: int, out_features: int = 1, activation: Activation = None) -> None:
        super().__init__()
        self.dense = Dense(in_features, out_features, activation)

    @property
    def w0(self) -> nn.Parameter:
        """The bias w0 (shape [out_features])."""
        return self.dense.b

    @property
    def W(self) -> nn.Parameter:
        """The weights W (shape [in_features, out_features])."""
        return self.dense.W

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense(x)

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities from logits: sigmoid for one output, softmax for several."""
        return logits_to_proba(self(x))


def logits_to_proba(logits: torch.Tensor) -> torch.Tensor:
    """sigmoid(z) for a single logit per sample ([N, 1] -> [N, 1]), softmax(z) otherwise."""
    if logits.shape[-1] == 1:
        return torch.sigmoid(logits)
    return torch.softmax(logits, dim=-1)
