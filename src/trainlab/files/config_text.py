"""config.yaml's and overrides.yaml's text: ``OmegaConf.to_yaml``'s, byte for byte, written fast.

A sweep of a thousand jobs writes a thousand configs; OmegaConf's dumper (PyYAML's Python
emitter) was most of that time. ``config_yaml`` gives the same text from libyaml's C emitter
wherever the two emit alike, and falls back to OmegaConf's own elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any


def config_yaml(plain: Any, to_yaml: Callable[[], str]) -> str:
    """``to_yaml()``: ``OmegaConf.to_yaml`` of a config whose ``OmegaConf.to_container(...,
    enum_to_str=True)`` is ``plain`` (None: not known). The same text, byte for byte, from
    libyaml's C emitter where it writes ``plain`` as PyYAML's Python emitter (OmegaConf's) does
    (``_emitted_alike``); else ``to_yaml()`` itself.

    The C dumper takes OmegaConf's dumper's representers (its ``str`` representer quotes a
    string YAML would read as a bool or a number: ``'1e-3'``, ``'yes'``) and its options
    (``trainlab.internals.omegaconf_dumper``: not public API); tests/test_rundir.py holds the
    texts equal on trainlab's configs and awkward values.

    A block mapping's (or sequence's) entries are written one after another, each from the
    start of a line, so the text of a dict is the texts of its one-entry dicts in order. Each
    top-level entry's text is kept (``_ENTRY_TEXTS``) by its key and its value's ``repr`` (which
    tells these values apart as YAML does: ``1``, ``1.0``, ``True``, ``'1'``): a sweep's configs
    share most sections, and the Python representer, not the emitter, is most of a dump's time.
    """
    dumper = _libyaml_dumper()
    if dumper is None or not isinstance(plain, dict | list) or not plain:
        return to_yaml()
    pairs = list(plain.items()) if isinstance(plain, dict) else [(None, value) for value in plain]
    texts = []
    for key, value in pairs:
        kept = (type(plain), key, repr(value))
        text = _ENTRY_TEXTS.get(kept)
        if text is None:
            entry = {key: value} if isinstance(plain, dict) else [value]
            if not _emitted_alike(entry):
                return to_yaml()
            text = _dump(entry, dumper)
            if len(_ENTRY_TEXTS) >= _ENTRY_TEXTS_KEPT:
                _ENTRY_TEXTS.clear()
            _ENTRY_TEXTS[kept] = text
        texts.append(text)
    return "".join(texts)


def section_yaml(name: str, section: dict[str, Any]) -> str:
    """``OmegaConf.to_yaml`` of a config that is one section ``{name: section}`` of plain values
    (Hydra's .hydra/hydra.yaml), byte for byte. The section's entries are written one after
    another, each indented under ``name:``, so the text is ``name:`` and each entry's lines;
    each entry's are kept by its key and value's ``repr`` (a sweep's jobs share all but a few:
    their number, overrides, directory), from libyaml where it emits them alike, else from
    OmegaConf's dumper (Hydra's help texts hold line breaks)."""
    head = f"{name}:\n"
    if not section or _ALIKE_TEXT.fullmatch(name) is None or not 0 < len(name) <= _ALIKE_KEY_LENGTH:
        return _dump({name: section}, _omegaconf_dumper())
    texts = [head]
    for key, value in section.items():
        kept = (name, key, repr(value))
        text = _SECTION_TEXTS.get(kept)
        if text is None:
            entry = {name: {key: value}}
            dumper = _libyaml_dumper() if _emitted_alike(entry) else None
            text = _dump(entry, dumper or _omegaconf_dumper())
            if not text.startswith(head):  # not a block mapping under its name: the whole, as OmegaConf
                return _dump({name: section}, _omegaconf_dumper())
            text = text[len(head) :]
            if len(_SECTION_TEXTS) >= _ENTRY_TEXTS_KEPT:
                _SECTION_TEXTS.clear()
            _SECTION_TEXTS[kept] = text
        texts.append(text)
    return "".join(texts)


def omegaconf_yaml(cfg: Any) -> str:
    """``OmegaConf.to_yaml(cfg)`` (interpolations as written), through ``config_yaml``."""
    from omegaconf import OmegaConf

    plain = OmegaConf.to_container(cfg, resolve=False, enum_to_str=True)
    return config_yaml(plain, lambda: OmegaConf.to_yaml(cfg))


def _omegaconf_dumper() -> type:
    from trainlab.internals import omegaconf_dumper

    dumper: type = omegaconf_dumper()
    return dumper


_SECTION_TEXTS: dict[tuple[str, Any, str], str] = {}  # (section, key, repr(value)) -> its lines under the section
_ENTRY_TEXTS: dict[tuple[type, Any, str], str] = {}  # (dict or list, key, repr(value)) -> its YAML lines
_ENTRY_TEXTS_KEPT = 4096  # a 1000-job sweep's configs have a few hundred distinct entries


def _dump(plain: dict[Any, Any] | list[Any], dumper: type) -> str:
    import yaml

    text: str = yaml.dump(plain, Dumper=dumper, default_flow_style=False, allow_unicode=True, sort_keys=False)
    return text


@cache
def _libyaml_dumper() -> type | None:
    """A dumper on libyaml's emitter with OmegaConf's dumper's representers; None without libyaml."""
    import yaml

    from trainlab.internals import omegaconf_dumper as dumper_of_omegaconf

    if not yaml.__with_libyaml__:
        return None
    omegaconf_dumper = dumper_of_omegaconf()

    class LibyamlConfigDumper(yaml.CDumper):
        pass

    for kind, representer in omegaconf_dumper.yaml_representers.items():
        LibyamlConfigDumper.add_representer(kind, representer)
    for kind, representer in omegaconf_dumper.yaml_multi_representers.items():
        LibyamlConfigDumper.add_multi_representer(kind, representer)
    return LibyamlConfigDumper


_ALIKE_TEXT = re.compile(r"[ -~]*")  # printable ASCII: no line break, tab, non-ASCII or control character
_ALIKE_KEY_LENGTH = 60  # a key of 123 to 128 characters (with a space) is a simple key to libyaml only


def _emitted_alike(plain: Any) -> bool:
    """Whether libyaml's emitter writes ``plain`` as PyYAML's Python emitter does: dicts with
    string keys of 1 to 60 printable ASCII characters, lists, None, bools, ints, floats and
    strings of printable ASCII. The two were compared on random values (tests/test_rundir.py
    keeps a sample): they differ on an empty key, a key of 123 to 128 characters, and a
    string with a line break, a tab, a control or a non-ASCII character (libyaml escapes
    characters beyond the BMP, and folds double-quoted strings elsewhere)."""
    if isinstance(plain, dict):
        return all(
            isinstance(k, str) and 0 < len(k) <= _ALIKE_KEY_LENGTH and _ALIKE_TEXT.fullmatch(k) and _emitted_alike(v)
            for k, v in plain.items()
        )
    if isinstance(plain, list):
        return all(_emitted_alike(v) for v in plain)
    if isinstance(plain, str):
        return _ALIKE_TEXT.fullmatch(plain) is not None
    return plain is None or type(plain) in (bool, int, float)
