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
  (``sqlite:///path.db``, ``postgresql+psycopg://...``, ``mysql+pymysql://...``), or
  ``journal:<file>`` (Optuna's JournalStorage over a JournalFileBackend: a file many
  processes append to). A URL is checked before any trial: SQLAlchemy knows its database,
  its driver is installed and synchronous (a URL without a driver, ``postgresql://``, gets
  SQLAlchemy's default where it is installed, else the first of ``FALLBACK_DRIVERS`` that
  is: SQLAlchemy 2.0's default is psycopg2, 2.1's psycopg), and a database in memory (one
  process's) is refused. Opening a server's database connects once first: a server that
  cannot be reached, or refuses the user or the database, is one ConfigError with the
  driver's reason. Errors show a URL's password as ``***``.
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
# A database URL without a driver: SQLAlchemy's default for it, else the first of these installed.
FALLBACK_DRIVERS = {"postgresql": ("psycopg", "psycopg2"), "mysql": ("mysqldb", "pymysql")}
# What to pip install for a driver SQLAlchemy names (its DBAPI module is missing).
DRIVER_PACKAGES = {
    "psycopg": "'psycopg[binary]'",
    "psycopg2": "psycopg2-binary",
    "mysqldb": "mysqlclient",
    "pymysql": "pymysql",
    "mysqlconnector": "mysql-connector-python",
    "mariadbconnector": "mariadb",
    "oracledb": "oracledb",
    "pyodbc": "pyodbc",
}
DATABASES = ("sqlite", "postgresql", "mysql", "mariadb", "oracle", "mssql")  # SQLAlchemy's own dialects


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
    dir, a URL (as given, once ``database_url`` accepts it), or ``journal:<absolute file>``."""
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
            "a database URL (sqlite:///file.db, postgresql+psycopg://..., mysql+pymysql://...), journal:<file>"
        )
    database_url(text)
    return text


def shown_url(text: str) -> str:
    """``text`` as a message shows it: a database URL's password as ``***``."""
    from sqlalchemy.engine import make_url

    try:
        url = make_url(text)
    except Exception:  # not a URL SQLAlchemy reads: nothing to hide in it
        return text
    return url.render_as_string(hide_password=True) if url.password else text


def database_url(text: str) -> Any:
    """The SQLAlchemy URL (``sqlalchemy.engine.URL``) that opens the database ``text``
    names, with a driver that is installed; ConfigError naming the key and what to do when
    SQLAlchemy cannot read it, knows no such database, its driver is missing or asynchronous,
    or it is a database in memory (it would live and die with one process)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    shown = shown_url(text)
    key = f"hydra.sweeper.storage={shown}"
    try:
        url = make_url(text)
    except (ArgumentError, ValueError) as error:
        raise ConfigError(f"{key}: not a database URL ({error}); e.g. postgresql+psycopg://user@host/db") from None
    backend = url.get_backend_name()
    try:
        dialect = url.get_dialect()
    except NoSuchModuleError:
        if backend not in DATABASES:
            close = difflib.get_close_matches(backend, DATABASES, n=1, cutoff=0.6)
            guess = f"did you mean {close[0]}://? " if close else ""
            allowed = ", ".join(DATABASES)
            raise ConfigError(f"{key}: SQLAlchemy knows no database {backend}; {guess}allowed: {allowed}") from None
        raise ConfigError(f"{key}: SQLAlchemy's {backend} has no driver {url.get_driver_name()}") from None
    if backend == "sqlite" and url.database in (None, "", ":memory:"):
        raise ConfigError(
            f"{key}: a database in memory lives in one process and ends with it; "
            f"name a file (sqlite:///optuna.db), or leave storage null (the sweep dir's {DB_FILE})"
        )
    if getattr(dialect, "is_async", False):
        raise ConfigError(
            f"{key}: {dialect.driver} is an asyncio driver, and Optuna's storage is synchronous; "
            f"name a synchronous one, e.g. {backend}+{FALLBACK_DRIVERS.get(backend, ('<driver>',))[0]}://..."
        )
    if _driver_installed(dialect):
        return url
    if "+" in url.drivername:  # the driver named is the one wanted
        package = DRIVER_PACKAGES.get(dialect.driver, dialect.driver)
        raise ConfigError(f"{key}: the {backend} driver {dialect.driver} is not installed; pip install {package}")
    for driver in FALLBACK_DRIVERS.get(backend, ()):  # none named: the first of the others installed
        other = url.set(drivername=f"{backend}+{driver}")
        try:
            if _driver_installed(other.get_dialect()):
                return other
        except NoSuchModuleError:  # an older SQLAlchemy without that dialect
            continue
    drivers = FALLBACK_DRIVERS.get(backend, (dialect.driver,))
    options = " or ".join(f"pip install {DRIVER_PACKAGES.get(d, d)}" for d in drivers)
    raise ConfigError(f"{key}: no {backend} driver is installed; {options}")


def _driver_installed(dialect: Any) -> bool:
    """Whether the DBAPI module of a SQLAlchemy dialect class imports."""
    try:
        dialect.import_dbapi()
    except ImportError:
        return False
    return True


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
    return _server_storage(url)


def _server_storage(url: str) -> Any:
    """An ``RDBStorage`` on a database server (PostgreSQL, MySQL, ...), after one connection
    that says whether the server takes this URL (ConfigError with the driver's reason if not).
    Its pool checks a connection before each use (``pool_pre_ping``): a trial can train for
    hours while a server or a firewall drops idle connections."""
    from optuna.storages import RDBStorage
    from sqlalchemy import create_engine
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.pool import NullPool

    engine_url = database_url(url)
    probe = create_engine(engine_url, poolclass=NullPool)
    try:
        with probe.connect():
            pass
    except DBAPIError as error:
        reason = " ".join(str(error.orig).split()) if error.orig is not None else type(error).__name__
        raise ConfigError(f"hydra.sweeper.storage={shown_url(url)}: cannot open the database: {reason}") from None
    finally:
        probe.dispose()
    return RDBStorage(engine_url.render_as_string(hide_password=False), engine_kwargs={"pool_pre_ping": True})


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
