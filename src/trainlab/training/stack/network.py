"""M copies of one network architecture as one module: every weight gets a leading member axis.

``StackedNetwork`` is built from M lone networks of the same spec (an ``MLP`` or a
``Perceptron``, each initialised under its own seed) and computes, for inputs x of shape
[M, B, in], member m's forward pass on x[m]: for each Dense layer,
z[m] = x[m] @ W[m] + b[m] (one ``baddbmm`` for all members), then the layer's activation,
then dropout with member m's own probability p[m] (its own random masks). Nothing mixes
members: member m's outputs and gradients depend on member m's weights and inputs alone.
``member_state(m)`` gives member m's weights under the lone network's parameter names, so a
lone network (``from_spec``) loads them and predicts exactly as the stack did.

**Shrinking.** ``keep_only(members)`` gathers the network down to some of its members (their
indices in the full stack of ``width``): from then on it computes ``n_members`` = len(members)
of them, inputs [n_members, B, in], and the dropped members' weights are kept as they were
(``full_weights()``, [width, P], scatters the computed rows into them). ``grow()`` computes
every member again. Whatever is shrunk, ``state_dict()`` (a post-hook), ``member_state(m)`` and
``full_weights()`` hold all ``width`` members, so a checkpoint keeps its full-width form.
Dropout draws its uniform numbers for all ``width`` members and keeps the computed members'
rows: each member's masks are those it draws in the unshrunk stack (the same calls on the
same random stream), so a survivor's numbers do not depend on the width.
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
        self.n_members = self.width = len(members)
        self.members: torch.Tensor | None = None  # the computed members' indices; None: all of them
        self.kept: torch.Tensor | None = None  # [width, P]: every member's weights when last shrunk
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
        self.register_buffer("p_all", p.view(-1, 1, 1), persistent=False)
        self.register_buffer("p", p.view(-1, 1, 1).clone(), persistent=False)
        self.dropout = bool((p > 0).any())
        self.register_state_dict_post_hook(_full_width_state)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.W) - 1
        for i, (W, b, g) in enumerate(zip(self.W, self.b, self.g, strict=True)):
            x = g(torch.baddbmm(b.unsqueeze(1), x, W))
            if i < last and self.dropout and self.training:
                uniform = torch.rand((self.width, *x.shape[1:]), dtype=x.dtype, device=x.device)  # as unshrunk
                if self.members is not None:
                    uniform = uniform[self.members]
                keep = uniform >= self.p  # member m keeps a unit with probability 1 - p[m]
                x = x * keep / (1 - self.p)
        return x

    def flatten_(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Put every weight in one ``[M, P]`` tensor, on the weights' current device, and every
        gradient in another; return both (the optimizer then updates all weights in one set of
        ops, not one per weight). The parameters stay leaves, viewing the flat tensor, and each
        one's ``.grad`` views the flat gradient, into which backward accumulates: call
        ``zero_grad_`` rather than ``zero_grad`` between steps. Call it after moving the module."""
        params = [*self.W, *self.b]
        return self._adopt(torch.cat([p.detach().reshape(self.n_members, -1) for p in params], dim=1))

    def _adopt(self, flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Make ``flat`` [n, P] (``flatten_``'s layout, n members) the weights, each parameter a
        view of it, with a fresh zero flat gradient; n becomes ``n_members``."""
        flat = flat.detach()
        self.n_members = flat.shape[0]
        grad = torch.zeros_like(flat)
        start = 0
        with torch.no_grad():
            for group in (self.W, self.b):
                for i, p in enumerate(group):
                    shape = (self.n_members, *p.shape[1:])
                    size = p[0].numel()
                    group[i] = nn.Parameter(flat[:, start : start + size].view(shape))
                    group[i].grad = grad[:, start : start + size].view(shape)
                    start += size
        flat.requires_grad_(True)  # a leaf the optimizer steps; backward reaches it through the views' grads
        # Backward adds into those grads in place; torch warns that a view's strides are not
        # its "layout contract" (a speed hint for dense params), which does not apply here.
        warnings.filterwarnings("ignore", message="grad and param do not obey the gradient layout contract")
        flat.grad = grad
        self.flat, self.flat_grad = flat, grad
        return flat, grad

    # ----- shrinking (see the module doc) -----

    def full_weights(self) -> torch.Tensor:
        """All ``width`` members' weights [width, P]: ``weights()`` while nothing is dropped, else
        a new tensor, the dropped members' kept rows and the computed members' current ones."""
        if self.members is None:
            return self.weights()
        return self.kept.index_copy(0, self.members, self.weights().detach())

    @torch.no_grad()
    def keep_only(self, members: torch.Tensor) -> torch.Tensor:
        """Compute only ``members`` (indices into the full stack, ascending, each computed now);
        return their positions among the members computed until now, to gather along the member
        axis whatever else has one (the optimizer's state, the data's rows). Flattened again:
        the new flat weights and gradient replace the old ones (``flat``, ``flat_grad``)."""
        current = self._computed(self.flat.device)
        where = torch.full((self.width,), -1, dtype=torch.long, device=current.device)
        where[current] = torch.arange(len(current), device=current.device)
        positions = where[members.to(current.device)]
        if bool((positions < 0).any()):
            raise ValueError("keep_only: a member that is not computed now cannot come back this way; grow() first")
        self.kept = self.full_weights().detach().clone()
        self._adopt(self.flat.detach()[positions].clone())
        self.members = None if len(members) == self.width else members.to(current.device).clone()
        self.p = self.p_all[self.members] if self.members is not None else self.p_all.clone()
        return positions

    @torch.no_grad()
    def grow(self) -> None:
        """Compute every member again, from ``full_weights()`` (flattened anew)."""
        if self.members is None:
            return
        self._adopt(self.full_weights().clone())
        self.members, self.kept, self.p = None, None, self.p_all.clone()

    def _computed(self, device: torch.device) -> torch.Tensor:
        """The computed members' indices in the full stack."""
        if self.members is not None:
            return self.members
        return torch.arange(self.width, device=device)

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
        """Member ``m``'s weights (``m`` counts the full stack, computed or dropped) as the lone
        network names them (``layers.0.W``, ...), detached copies."""
        if self.members is None:
            W, b, row = list(self.W), list(self.b), m
        else:
            (W, b), row = self._split(self._shrunk_row(m).detach()), 0
        state = {}
        for name, w, bias in zip(self.names, W, b, strict=True):
            state[f"{name}.W"] = w[row].detach().clone()
            state[f"{name}.b"] = bias[row].detach().clone()
        return state

    def _shrunk_row(self, m: int) -> torch.Tensor:
        """A shrunk network's member ``m`` (counting the full stack): its weights [1, P]."""
        computed = self.members.tolist()
        return self.weights()[computed.index(m)].unsqueeze(0) if m in computed else self.kept[m : m + 1]

    def _split(self, weights: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """``weights`` [n, P] (``flatten_``'s layout) as the layers' W [n, in, out] and b [n, out]."""
        params = [*self.W, *self.b]
        parts = weights.split([p[0].numel() for p in params], dim=1)
        shaped = [part.reshape(len(weights), *p.shape[1:]) for p, part in zip(params, parts, strict=True)]
        return shaped[: len(self.W)], shaped[len(self.W) :]


def _full_width_state(module: StackedNetwork, state: dict[str, torch.Tensor], prefix: str, metadata: object) -> None:
    """``state_dict``'s post-hook: a shrunk network's weights, every member's (see the module doc)."""
    if module.members is None:
        return
    W, b = module._split(module.full_weights().detach())
    for name, tensors in (("W", W), ("b", b)):
        for i, tensor in enumerate(tensors):
            state[f"{prefix}{name}.{i}"] = tensor
