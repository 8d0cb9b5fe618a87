"""A composed config as plain values (``OmegaConf.to_container(cfg, resolve=True)``), once per config.

A sweep's job is read as plain values by its checks, its grouping, its config.yaml and its
TensorBoard hyperparameters; converting an OmegaConf config takes about half a millisecond,
five times per job, most of a thousand-job sweep's set-up. A config made read-only
(``frozen``: a sweep's jobs, once composed) cannot change, so its plain values are kept
with it and handed out again; any other config is converted at each call.

The plain values are shared: read them, never change them.
"""

from __future__ import annotations

import copy
import marshal
import re
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from omegaconf import DictConfig, OmegaConf

_KEPT: dict[int, tuple[weakref.ref[DictConfig], dict[str, Any]]] = {}
_DERIVED: dict[int, dict[str, Any]] = {}  # what was computed from a frozen config's values, by name


def plain(cfg: DictConfig) -> dict[str, Any]:
    """``cfg`` resolved to plain dicts, lists and values (kept for a ``frozen`` config).
    Raises what ``OmegaConf.to_container`` raises for a value that cannot be resolved."""
    kept = _KEPT.get(id(cfg))
    if kept is not None and kept[0]() is cfg:
        return kept[1]
    values: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    if OmegaConf.is_readonly(cfg):
        keep(cfg, values)
    return values


def kept(cfg: DictConfig) -> dict[str, Any] | None:
    """``cfg``'s plain values when they are kept (a frozen config whose values were derived or
    asked for), else None: for reads that are cheaper on ``cfg`` itself than converting it."""
    found = _KEPT.get(id(cfg))
    return found[1] if found is not None and found[0]() is cfg else None


def readable(cfg: DictConfig) -> Any:
    """``cfg``'s kept plain values (a sweep's job, frozen), else ``cfg`` itself: for reads by
    item (``r["data"]["seed"]``, ``r["trainer"].get("devices", 1)``), which both answer alike,
    without OmegaConf's 8 to 17 microseconds per read on each of a thousand jobs. Lists read
    from it are lists or ListConfigs: iterate them, or copy them with ``list``."""
    values = kept(cfg)
    return cfg if values is None else values


def lookup(values: dict[str, Any], key: str, default: Any = None) -> Any:
    """The value of the dotted ``key`` in plain ``values`` (``OmegaConf.select``'s), or ``default``."""
    found, value = _get(values, key)
    return value if found else default


def once(cfg: DictConfig, name: str, make: Callable[[], Any]) -> Any:
    """``make()``, kept under ``name`` for a frozen config (computed again for any other):
    for what is read from a config's values many times (``selected_regularization``)."""
    if not OmegaConf.is_readonly(cfg):
        return make()
    plain(cfg)  # kept with it: forgotten when it is
    derived = _DERIVED.setdefault(id(cfg), {})
    if name not in derived:
        derived[name] = make()
    return derived[name]


def _forget(key: int) -> None:
    _KEPT.pop(key, None)
    _DERIVED.pop(key, None)


def keep(cfg: DictConfig, values: dict[str, Any]) -> None:
    """Make ``cfg`` read-only and keep ``values`` as its plain values (the caller vouches that
    they are ``OmegaConf.to_container(cfg, resolve=True)``)."""
    OmegaConf.set_readonly(cfg, True)
    key = id(cfg)
    _KEPT[key] = weakref.ref(cfg, lambda _, key=key: _forget(key)), values


def frozen(cfgs: Iterable[DictConfig]) -> None:
    """Make each config read-only (a change raises), so its plain values can be kept."""
    for cfg in cfgs:
        OmegaConf.set_readonly(cfg, True)


_MISSING = object()  # OmegaConf.select's answer for a missing value (``???``)
_SIMPLE = re.compile(r"^\$\{([A-Za-z_][\w.]*)\}$")  # a whole value that is another key's: ${seed}


class Derived:
    """A composition's plain values, from which those of its copies with a few keys set are
    derived without converting each copy (``compose_jobs``: a sweep's jobs).

    Derivable when every interpolation in the composition is a whole value naming another key
    (``${seed}``, ``${monitor}``): those are looked up again in each copy's values. Any other
    interpolation (a resolver, a relative or embedded one) makes ``derive`` return None for a
    copy setting a key it mentions, and the copy is converted as any config is.
    """

    def __init__(self, base: DictConfig) -> None:
        self.values: dict[str, Any] = OmegaConf.to_container(base, resolve=True)  # type: ignore[assignment]
        try:
            self._marshalled: bytes | None = marshal.dumps(self.values)
        except ValueError:  # a value marshal cannot hold (an Enum)
            self._marshalled = None
        raw = OmegaConf.to_container(base, resolve=False)
        try:
            self._raw: bytes | None = marshal.dumps(raw)
        except ValueError:
            self._raw = None
        self.links: list[tuple[str, str]] = []  # (the key whose value is another's, that key)
        self.other: list[str] = []  # every other interpolation's text
        for key, value in _leaves(raw, ""):
            if isinstance(value, str) and "${" in value:
                match = _SIMPLE.match(value)
                if match:
                    self.links.append((key, match.group(1)))
                else:
                    self.other.append(value)

    def _copy(self) -> dict[str, Any]:
        """A deep copy of the composition's values: through ``marshal`` (a tenth of
        ``copy.deepcopy``'s time) when they are plain dicts, lists and scalars, as they are
        unless a structured config holds an Enum."""
        if self._marshalled is None:
            return copy.deepcopy(self.values)
        return marshal.loads(self._marshalled)

    def written(self, values: dict[str, Any], keys: Iterable[str]) -> dict[str, Any] | None:
        """A copy's values as written (``OmegaConf.to_container(cfg, resolve=False)``, its
        interpolations as text: Hydra's .hydra/config.yaml) from its plain ``values``
        (``derive``'s): the composition's, with each of ``keys`` set to its value there. The
        caller vouches that no key was set to an interpolation (whose text the plain values do
        not hold). None where the composition holds an Enum, or a key's place is not found."""
        if self._raw is None:
            return None
        raw = marshal.loads(self._raw)
        for key in keys:
            found, value = _get(values, key)
            if isinstance(value, dict):  # merged into the composition's node, whose interpolations stay text
                _, before = _get(raw, key)
                if any(isinstance(v, str) and "${" in v for _, v in _leaves(before, "")):
                    return None
            if not found or not _put(raw, key, value):
                return None
        return raw

    def derive(self, cfg: DictConfig, keys: Iterable[str]) -> dict[str, Any] | None:
        """The plain values of ``cfg``: the composition with ``keys`` set (each read from
        ``cfg``, where OmegaConf has converted it to its type); None where not derivable."""
        keys = list(keys)
        if any(part in text for key in keys for part in key.split(".") for text in self.other):
            return None
        values = self._copy()
        for key in keys:
            value = OmegaConf.select(cfg, key, default=_MISSING)
            if value is _MISSING:  # a missing value (``???``), as OmegaConf.to_container gives it
                value = "???"
            if OmegaConf.is_config(value):
                value = OmegaConf.to_container(value, resolve=True)
            if not _put(values, key, value):
                return None
        links = [(k, s) for k, s in self.links if not any(k == key or k.startswith(f"{key}.") for key in keys)]
        for _ in links:  # chains (${a} naming a key that is ${b}) settle within len(links) passes
            changed = False
            for key, source in links:
                found, value = _get(values, source)
                if not found:
                    return None
                old_found, old = _get(values, key)
                if not old_found or old != value or type(old) is not type(value):
                    changed = _put(values, key, copy.deepcopy(value)) or changed
            if not changed:
                break
        return values


def leaves(values: Any, key: str) -> Iterator[tuple[str, Any]]:
    """The dotted key and value of each leaf of plain ``values`` found at ``key`` (``key``
    itself for a leaf), in order."""
    return _leaves(values, f"{key}.")


def named_keys(values: dict[str, Any], key: str) -> list[tuple[str, Any]]:
    """``key`` and its value in plain ``values`` (unresolved: as written), then each key that a
    value which is a whole interpolation names in turn (``data.seed`` is ``${seed}``: ``seed``),
    while that key is there and not seen before; none where ``key`` is not there."""
    found, value = _get(values, key)
    chain = [(key, value)] if found else []
    while chain and isinstance(chain[-1][1], str):
        named = _SIMPLE.match(chain[-1][1])
        if named is None or any(k == named[1] for k, _ in chain):
            break
        found, value = _get(values, named[1])
        if not found:
            break
        chain.append((named[1], value))
    return chain


def reads_hydra(text: str) -> bool:
    """Whether a value as written reads Hydra's resolver (``${hydra:...}``), as typed or in
    Hydra's escaped form (``$\\{hydra\\:job.num\\}``)."""
    return "${hydra:" in "".join(text.split()).replace("\\", "")


def _leaves(node: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, f"{prefix}{key}.")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, f"{prefix}{i}.")
    else:
        yield prefix[:-1], node


def _get(values: dict[str, Any], key: str) -> tuple[bool, Any]:
    node: Any = values
    for part in key.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, None
    return True, node


def _put(values: dict[str, Any], key: str, value: Any) -> bool:
    *parents, last = key.split(".")
    found, node = _get(values, ".".join(parents)) if parents else (True, values)
    if not found:
        return False
    if isinstance(node, dict):
        node[last] = value
        return True
    if isinstance(node, list) and last.isdigit() and int(last) < len(node):
        node[int(last)] = value
        return True
    return False
