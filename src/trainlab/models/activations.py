"""Activation functions by their course names.

Each name maps to a ``torch.nn`` module g(z):

- ``sigmoid``:    g(z) = 1 / (1 + e^-z),            g'(z) = g(z) (1 - g(z))
- ``tanh``:       g(z) = (e^z - e^-z) / (e^z + e^-z), g'(z) = 1 - g(z)^2
- ``relu``:       g(z) = max(0, z),                  g'(z) = 1[z > 0]
- ``identity``:   g(z) = z
- ``leaky_relu``: g(z) = max(0, z) + negative_slope * min(0, z)
- ``gelu``:       g(z) = z * Phi(z)

``ACTIVATIONS`` is the one list of names: the config's ``activation.name`` is checked against
it, and a name added here is an option once conf/activation/<name>.yaml names it (a schema of
its own only if it takes options, like leaky_relu's ``negative_slope``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from trainlab.config import options

ACTIVATIONS: dict[str, Callable[..., nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "identity": nn.Identity,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
}

options.check_registry("ACTIVATIONS", options.ACTIVATIONS, ACTIVATIONS)

Activation = str | nn.Module | Callable[[], nn.Module] | None


def activation(spec: Activation, **kwargs: Any) -> nn.Module:
    """Return a fresh activation module for ``spec``.

    ``spec`` is a name from ``ACTIVATIONS`` (``kwargs`` go to its constructor, e.g.
    ``negative_slope`` for ``leaky_relu``), an ``nn.Module`` (used as is), a callable
    that builds a module (``nn.SiLU``), or ``None`` for the identity.
    """
    if spec is None:
        return nn.Identity()
    if isinstance(spec, nn.Module):
        return spec
    if isinstance(spec, str):
        try:
            return ACTIVATIONS[spec](**kwargs)
        except KeyError:
            allowed = ", ".join(ACTIVATIONS)
            raise ValueError(f"unknown activation {spec!r}; allowed: {allowed}") from None
    return spec(**kwargs)
