"""``hydra.sweeper.*`` of ``hydra/sweeper=optuna``: their names, and the objects they name.

- ``sampler``: an Optuna sampler by class name, case-insensitive, with or without its
  "Sampler" (``TPESampler``, ``tpe``, ``RandomSampler``, ``CmaEsSampler``, ...);
  ``sampler_args`` its keyword arguments; ``seed`` (default: the run's ``seed``; null:
  random) goes to the samplers that take one. A process whose first trial is number k > 0
  (it joined a study others work on) seeds ``seed + k``: workers draw different values.
- ``pruner``: an Optuna pruner by class name, likewise, spaces, ``_`` and ``-`` ignored
  (``median``, ``percentile``, ``successive_halving``, ``hyperband``, ``threshold``, ...;
  ``none`` prunes nothing); ``pruner_args`` its arguments, Optuna's own (``percentile``
  needs ``{percentile: 25.0}``). A trial is judged at each epoch's end, alone or as a stack's
  member (``trainlab.training.callbacks.pruning``).
- ``storage``: null (``sqlite:///<sweep dir>/optuna.db``), any SQLAlchemy URL
  (``sqlite:///path.db``, ``postgresql://...``, ``mysql://...``), or ``journal:<file>``
  (Optuna's JournalStorage over a JournalFileBackend: a file many processes append to).
- ``heartbeat_seconds`` (default 30): how often a worker records that its running trials
  live; another worker fails a trial with no heartbeat for 3x that (``trainlab.search.heartbeat``).
"""

from __future__ import annotations

import difflib
import importlib.util
import inspect
from pathlib import Path
from typing import Any

from trainlab.errors import ConfigError

KEYS = (
    "n_trials",
    "n_jobs",
    "sampler",
    "sampler_args",
    "seed",
    "pruner",
    "pruner_args",
    "storage",
    "study_name",
    "params",
    "heartbeat_seconds",
)
# Samplers and pruners that work from their keyword arguments alone, on one objective.
SAMPLERS = (
    "TPESampler",
    "RandomSampler",
    "CmaEsSampler",
    "GPSampler",
    "QMCSampler",
    "NSGAIISampler",
    "NSGAIIISampler",
    "BruteForceSampler",
)
PRUNERS = (
    "MedianPruner",
    "HyperbandPruner",
    "SuccessiveHalvingPruner",
    "PercentilePruner",
    "ThresholdPruner",
    "NopPruner",
)
# What a sampler imports only when it first samples: checked before any trial starts.
_NEEDS = {"CmaEsSampler": ("cmaes",), "GPSampler": ("scipy",), "QMCSampler": ("scipy",)}
DB_FILE = "optuna.db"
JOURNAL = "journal:"


def _class_name(key: str, given: str, allowed: tuple[str, ...], suffix: str) -> str:
    """The class ``given`` names (``tpe``, ``TPE``, ``TPESampler``), or ConfigError naming
    ``key`` and the allowed names."""
    wanted = "".join(c for c in str(given).strip().lower() if c not in " _-")  # successive_halving, ...
    for name in allowed:
        if wanted in (name.lower(), name.lower().removesuffix(suffix.lower())):
            return name
    names = [*allowed, "none"] if suffix == "Pruner" else list(allowed)
    forms = {form: name for name in names for form in (name.lower(), name.lower().removesuffix(suffix.lower()))}
    close = difflib.get_close_matches(wanted, list(forms), n=1, cutoff=0.6)
    guess = f"did you mean {forms[close[0]]}? " if close else ""
    raise ConfigError(
        f"hydra.sweeper.{key}={given}: not an Optuna {suffix.lower()}; {guess}allowed: {', '.join(names)}"
    )


def sampler_name(given: str) -> str:
    return _class_name("sampler", given, SAMPLERS, "Sampler")


def pruner_name(given: str | None) -> str:
    if given is None or str(given).strip().lower() in ("none", "null", "nop", ""):
        return "NopPruner"
    return _class_name("pruner", given, PRUNERS, "Pruner")


def _build(kind: str, name: str, args: dict[str, Any]) -> Any:
    import optuna

    cls = getattr(optuna.samplers if kind == "sampler" else optuna.pruners, name)
    try:
        return cls(**args)
    except (TypeError, ValueError) as error:
        shown = ", ".join(f"{k}={v!r}" for k, v in args.items()) or "no arguments"
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"hydra.sweeper.{kind}_args: {name} refuses {shown}: {first}") from None


def make_sampler(given: str, args: dict[str, Any] | None = None, seed: int | None = None) -> Any:
    """The sampler ``given`` names, built with ``args`` (and ``seed`` where it takes one and
    ``args`` does not set it)."""
    import optuna

    name = sampler_name(given)
    missing = [m for m in _NEEDS.get(name, ()) if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(
            f"hydra.sweeper.sampler={given}: {name} needs {', '.join(missing)}: pip install {' '.join(missing)}"
        )
    args = dict(args or {})
    if seed is not None and "seed" in inspect.signature(getattr(optuna.samplers, name)).parameters:
        args.setdefault("seed", int(seed))
    return _build("sampler", name, args)


def make_pruner(given: str | None, args: dict[str, Any] | None = None) -> Any:
    """The pruner ``given`` names (``none``: Optuna's NopPruner), built with ``args``."""
    return _build("pruner", pruner_name(given), dict(args or {}))


def storage_url(storage: str | None, sweep_dir: Path) -> str:
    """The storage as the sweep and its jobs name it: the default SQLite file in the sweep
    dir, a URL, or ``journal:<absolute file>``."""
    if storage is None or str(storage).strip() == "":
        return f"sqlite:///{(sweep_dir / DB_FILE).resolve()}"
    text = str(storage).strip()
    if text.startswith(JOURNAL):
        path = text[len(JOURNAL) :]
        if not path:
            raise ConfigError(f"hydra.sweeper.storage={text}: name the journal file, e.g. journal:optuna.log")
        return JOURNAL + str(Path(path).expanduser().resolve())
    if "://" not in text:
        raise ConfigError(
            f"hydra.sweeper.storage={text}: not a storage; allowed: null (sqlite:///<sweep dir>/{DB_FILE}), "
            "a database URL (sqlite:///file.db, postgresql://..., mysql://...), journal:<file>"
        )
    return text


def open_storage(url: str) -> Any:
    """What ``optuna.create_study(storage=...)`` takes for ``url`` (see ``storage_url``)."""
    if url.startswith(JOURNAL):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        path = Path(url[len(JOURNAL) :])
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    if url.startswith("sqlite:///"):
        from optuna.storages import RDBStorage

        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        # Several processes write one file: each waits for the others' locks (a busy machine
        # holds them longer than SQLite's 5 s default) instead of failing "database is locked".
        return RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 120}})
    return url


def check_settings(values: dict[str, Any]) -> None:
    """ConfigError for an unknown ``hydra.sweeper`` key, a count below 1, or a sampler,
    pruner or storage that cannot be made (``values``: key -> value, as given)."""
    for key in values:
        if key not in KEYS and key != "_target_":
            close = difflib.get_close_matches(key, KEYS, n=1, cutoff=0.6)
            guess = f"did you mean {close[0]}? " if close else ""
            raise ConfigError(
                f"hydra.sweeper.{key}: hydra/sweeper=optuna has no key {key}; {guess}allowed: {', '.join(KEYS)}"
            )
    for key in ("n_trials", "n_jobs"):
        if key in values:
            value = values[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"hydra.sweeper.{key}={value}: allowed: an integer >= 1")
    beat = values.get("heartbeat_seconds")
    if beat is not None and (isinstance(beat, bool) or not isinstance(beat, int | float) or not 0 < beat < 1e6):
        raise ConfigError(f"hydra.sweeper.heartbeat_seconds={beat}: allowed: a number of seconds > 0, e.g. 30")
    for key in ("sampler_args", "pruner_args", "params"):
        if values.get(key) is not None and not isinstance(values[key], dict):
            raise ConfigError(f"hydra.sweeper.{key}={values[key]}: allowed: a dict, e.g. {{n_startup_trials: 5}}")
    seed = values.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ConfigError(f"hydra.sweeper.seed={seed}: allowed: an integer or null")
    make_sampler(
        values.get("sampler", "TPESampler"), values.get("sampler_args"), seed if isinstance(seed, int) else None
    )
    make_pruner(values.get("pruner", "MedianPruner"), values.get("pruner_args"))
    if values.get("storage") is not None:
        storage_url(values["storage"], Path("."))
