"""M copies of one network architecture as one module: every weight gets a leading member axis.

``StackedNetwork`` is built from M lone networks of the same spec (an ``MLP`` or a
``Perceptron``, each initialised under its own seed) and computes, for inputs x of shape
[M, B, in], member m's forward pass on x[m]: for each Dense layer,
z[m] = x[m] @ W[m] + b[m] (one ``baddbmm`` for all members), then the layer's activation,
then dropout with member m's own probability p[m] (its own random masks). Nothing mixes
members: member m's outputs and gradients depend on member m's weights and inputs alone.
``member_state(m)`` gives member m's weights under the lone network's parameter names, so a
lone network (``from_spec``) loads them and predicts exactly as the stack did.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch import nn

from trainlab.models.dense import Dense


def dense_layers(model: nn.Module) -> list[tuple[str, Dense]]:
    """A lone network's Dense layers, in forward order, with their names in the module."""
    return [(name, module) for name, module in model.named_modules() if isinstance(module, Dense)]


class StackedNetwork(nn.Module):
    """The members' Dense layers stacked: W_i [M, in, out], b_i [M, out] (see the module doc)."""

    def __init__(self, members: Sequence[nn.Module], dropout: Sequence[float] | None = None) -> None:
        super().__init__()
        layers = [dense_layers(model) for model in members]
        shapes = {tuple((d.in_features, d.out_features) for _, d in found) for found in layers}
        if len(shapes) != 1 or not layers[0]:
            raise ValueError(f"stacked members need the same Dense layer sizes, got {sorted(shapes)}")
        self.n_members = len(members)
        self.names = [name for name, _ in layers[0]]  # the lone network's layer names
        with torch.no_grad():
            self.W = nn.ParameterList(
                torch.stack([found[i][1].W for found in layers]).clone() for i in range(len(self.names))
            )
            self.b = nn.ParameterList(
                torch.stack([found[i][1].b for found in layers]).clone() for i in range(len(self.names))
            )
        self.g = nn.ModuleList(dense.g for _, dense in layers[0])  # elementwise: the same for every member
        p = torch.tensor(list(dropout) if dropout is not None else [0.0] * self.n_members)
        self.register_buffer("p", p.view(-1, 1, 1), persistent=False)
        self.dropout = bool((p > 0).any())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.W) - 1
        for i, (W, b, g) in enumerate(zip(self.W, self.b, self.g, strict=True)):
            x = g(torch.baddbmm(b.unsqueeze(1), x, W))
            if i < last and self.dropout and self.training:
                keep = torch.rand_like(x) >= self.p  # member m keeps a unit with probability 1 - p[m]
                x = x * keep / (1 - self.p)
        return x

    def flatten_(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Put every weight in one ``[M, P]`` tensor, on the weights' current device, and every
        gradient in another; return both (the optimizer then updates all weights in one set of
        ops, not one per weight). The parameters stay leaves, viewing the flat tensor, and each
        one's ``.grad`` views the flat gradient, into which backward accumulates: call
        ``zero_grad_`` rather than ``zero_grad`` between steps. Call it after moving the module."""
        params = [*self.W, *self.b]
        flat = torch.cat([p.detach().reshape(self.n_members, -1) for p in params], dim=1)
        grad = torch.zeros_like(flat)
        start = 0
        with torch.no_grad():
            for group in (self.W, self.b):
                for i, p in enumerate(group):
                    size = p[0].numel()
                    group[i] = nn.Parameter(flat[:, start : start + size].view(p.shape))
                    group[i].grad = grad[:, start : start + size].view(p.shape)
                    start += size
        flat.requires_grad_(True)  # a leaf the optimizer steps; backward reaches it through the views' grads
        # Backward adds into those grads in place; torch warns that a view's strides are not
        # its "layout contract" (a speed hint for dense params), which does not apply here.
        warnings.filterwarnings("ignore", message="grad and param do not obey the gradient layout contract")
        flat.grad = grad
        self.flat, self.flat_grad = flat, grad
        return flat, grad

    def weights(self) -> torch.Tensor:
        """Every member's weights, ``flatten_``'s layout [M, P]: the flat tensor itself once
        flattened, else a copy gathered from the parameters."""
        if getattr(self, "flat", None) is not None and self.W[0].data_ptr() == self.flat.data_ptr():
            return self.flat
        return torch.cat([p.detach().reshape(self.n_members, -1) for p in (*self.W, *self.b)], dim=1)

    @torch.no_grad()
    def load_weights(self, weights: torch.Tensor) -> None:
        """Set every member's weights from ``weights`` [M, P] (``flatten_``'s layout)."""
        params = [*self.W, *self.b]
        for p, part in zip(params, weights.split([p[0].numel() for p in params], dim=1), strict=True):
            p.copy_(part.reshape(p.shape))

    def zero_grad_(self) -> None:
        """Zero the flat gradient (see ``flatten_``)."""
        self.flat_grad.zero_()

    def member_state(self, m: int) -> dict[str, torch.Tensor]:
        """Member ``m``'s weights as the lone network names them (``layers.0.W``, ...), detached copies."""
        state = {}
        for name, W, b in zip(self.names, self.W, self.b, strict=True):
            state[f"{name}.W"] = W[m].detach().clone()
            state[f"{name}.b"] = b[m].detach().clone()
        return state
