"""What a config key allows: a test, and the words a refusal uses to say so.

The schema (trainlab/config/schema/) declares each key as ``key(default, allowed)``, so a key's
type, default and allowed values sit on one line; ``trainlab.config.validate`` checks every key of
a composed config against its ``allowed``. The words complete trainlab's message
``{key}={value!r} is not allowed: {words}``. Imports neither Hydra, Lightning nor torch.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omegaconf import MISSING

METADATA = "allowed"  # the dataclass field metadata entry that holds a key's Allowed


@dataclass(frozen=True)
class Allowed:
    """The values a key accepts (``test(value)`` is true for them) and how to say which."""

    words: str
    test: Callable[[Any], bool]


def key(default: Any = MISSING, allowed: Allowed | None = None) -> Any:
    """A schema field: its default (MISSING: the YAML must set it) and what it allows.

    A list or dict default is copied for each instance, as dataclasses require.
    """
    metadata = {METADATA: allowed} if allowed is not None else {}
    if isinstance(default, list | dict):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def allowed_in(schema: type) -> dict[str, Allowed]:
    """Each key of the dataclass ``schema`` that declares what it allows.

    A subclass that only changes a default (``lr: float = 0.1``) keeps its base's Allowed,
    so a range is written once, where the key is first declared.
    """
    found: dict[str, Allowed] = {}
    for cls in reversed(schema.__mro__):
        for name, field in vars(cls).get("__dataclass_fields__", {}).items():
            if METADATA in field.metadata:
                found[name] = field.metadata[METADATA]
    return found


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _finish(words: str, test: Callable[[Any], bool], note: str, null: str | None) -> Allowed:
    """Add the note in parentheses; with ``null`` (what null means), also accept None."""
    if note:
        words += f" ({note})"
    if null is None:
        return Allowed(words, test)
    return Allowed(f"{words}, or null ({null})", lambda v: v is None or test(v))


def above(low: float, what: str = "a number", note: str = "", null: str | None = None) -> Allowed:
    """A number > ``low``, e.g. ``above(0, "a learning rate")``: 'a learning rate > 0'."""
    return _finish(f"{what} > {_text(low)}", lambda v: _is_number(v) and v > low, note, null)


def at_least(
    low: float, what: str | None = None, *, integer: bool = False, note: str = "", null: str | None = None
) -> Allowed:
    """A number (an integer with ``integer=True``) >= ``low``: 'an integer >= 1'."""
    kind = _is_int if integer else _is_number
    what = what or ("an integer" if integer else "a number")
    return _finish(f"{what} >= {_text(low)}", lambda v: kind(v) and v >= low, note, null)


def within(
    low: float,
    high: float,
    bounds: str = "[]",
    what: str | None = None,
    *,
    integer: bool = False,
    note: str = "",
    null: str | None = None,
) -> Allowed:
    """A number in the interval ``bounds`` ('[]', '[)', '(]' or '()') from ``low`` to ``high``:
    'a probability in [0, 1)'; integers say 'an integer from 32 to 2048'."""
    low_in, high_in = bounds[0] == "[", bounds[1] == "]"

    def test(v: Any) -> bool:
        if not (_is_int(v) if integer else _is_number(v)):
            return False
        return (low <= v if low_in else low < v) and (v <= high if high_in else v < high)

    if integer and bounds == "[]":
        words = f"{what or 'an integer'} from {_text(low)} to {_text(high)}"
    else:
        words = f"{what or 'a number'} in {bounds[0]}{_text(low)}, {_text(high)}{bounds[1]}"
    return _finish(words, test, note, null)


def one_of(*values: Any, words: str | None = None, null: str | None = None) -> Allowed:
    """One of ``values``: 'min or max', 'one of relu, tanh, gelu'."""
    names = [_text(v) for v in values]
    said = words or (" or ".join(names) if len(names) == 2 else f"one of {', '.join(names)}")
    # bool is an int in Python (True == 1): a flag must not pass for a number here.
    return _finish(said, lambda v: not isinstance(v, bool) and v in values, "", null)


def list_of(each: Allowed, words: str, *, length: int | None = None) -> Allowed:
    """A non-empty list (of exactly ``length`` items, when given) whose items ``each`` allows."""

    def test(v: Any) -> bool:
        if not isinstance(v, list | tuple) or not v or (length is not None and len(v) != length):
            return False
        return all(each.test(item) for item in v)

    return Allowed(words, test)


def either(*choices: Allowed, words: str) -> Allowed:
    """A value that any of ``choices`` allows."""
    return Allowed(words, lambda v: any(choice.test(v) for choice in choices))
