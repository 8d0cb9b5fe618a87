"""A config as dotted keys: the one flattener (the stack's grouping, resume's comparison, TensorBoard's HPARAMS)."""

from __future__ import annotations

from typing import Any


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` as ``{"a.b": 1}`` (a plain container, e.g. ``OmegaConf.to_container``'s);
    an empty dict stays a value, lists are values."""
    if not isinstance(node, dict) or not node:
        return {prefix: node}
    flat: dict[str, Any] = {}
    for key, value in node.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat
