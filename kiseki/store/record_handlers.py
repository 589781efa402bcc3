"""Appliers for run-log record types beyond the core ones (files, console, media, artifacts).

A feature module registers a handler for its record class with :func:`register`; the
:class:`~kiseki.store.applier.RecordApplier` calls it inside the same transaction as the rest
of the batch, once per record (records are applied exactly once per run and sequence number).
Handlers must use only the portable SQL of :class:`~kiseki.store.sql.SqlRunner` (they run on
stdlib sqlite3 in the SDK and on SQLAlchemy in the server).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiseki.store.sql import SqlRunner


@dataclass(frozen=True)
class RunContext:
    """The run a record belongs to, as the applier knows it."""

    run_pk: int
    project_id: int
    entity: str
    project: str
    run_id: str


RecordHandler = Callable[[SqlRunner, RunContext, Any, float], None]
"""``handler(db, run, record, now)``."""

_HANDLERS: dict[type, RecordHandler] = {}


def register(record_type: type, handler: RecordHandler) -> None:
    """Apply records of ``record_type`` with ``handler``."""
    _HANDLERS[record_type] = handler


def handler_for(record_type: type) -> RecordHandler | None:
    """The registered handler of ``record_type``, if any."""
    _load_builtin_handlers()
    return _HANDLERS.get(record_type)


_loaded = False


def _load_builtin_handlers() -> None:
    """Import the modules that register handlers (each registers at import)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    # Feature modules add one import line here, e.g.
    # import kiseki.store.run_files
    import kiseki.store.artifacts
    import kiseki.store.media
    import kiseki.store.run_data  # noqa: F401
