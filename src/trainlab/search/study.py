"""The study: created, or joined where another process (or an earlier sweep) made it."""

from __future__ import annotations

import time
from typing import Any

from trainlab.search.settings import open_storage


def create_or_load(url: str, name: str, sampler: Any, pruner: Any, direction: str, tries: int = 8) -> Any:
    """``optuna.create_study(..., load_if_exists=True)`` on the storage ``url``. Processes
    that start at once on a new SQLite file or an empty PostgreSQL database race to create its
    tables and the study (all but one get an IntegrityError: PostgreSQL's a unique violation in
    its catalog, ``pg_type_typname_nsp_index``, as several processes issue CREATE TABLE at
    once): the others try again, a moment later, and then find them. A journal file needs no
    retry (Optuna loads a study another process created meanwhile). A URL or a server that
    cannot work is a ConfigError (``settings.open_storage``), never retried."""
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    for attempt in range(tries):
        try:
            return optuna.create_study(
                storage=open_storage(url),
                study_name=name,
                sampler=sampler,
                pruner=pruner,
                direction=direction,
                load_if_exists=True,
            )
        except (SQLAlchemyError, optuna.exceptions.DuplicatedStudyError):
            if attempt == tries - 1:
                raise
            time.sleep(0.1 * (attempt + 1))
    raise AssertionError("unreachable")
