"""Applying records through SQLAlchemy: the path for PostgreSQL stores and the server."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from kiseki.store.applier import RecordApplier, RunKey
from kiseki.store.database import StoreLocation, create_store_engine, ensure_schema
from kiseki.store.sql import SqlAlchemyRunner


class StoreWriter:
    """Applies run-log records to any store (SQLite or PostgreSQL), one transaction per batch.

    The embedded SDK uses :class:`kiseki.sinks.local.LocalSink` (standard-library ``sqlite3``,
    no SQLAlchemy import); this class is for PostgreSQL and for the server.
    """

    def __init__(self, location: StoreLocation) -> None:
        ensure_schema(location)
        self.location = location
        self.engine = create_store_engine(location)
        self._applier = RecordApplier()

    def apply(self, key: RunKey, records: Sequence[Any]) -> int:
        """Apply ``records`` of one run; return the run's applied cursor."""
        try:
            with self.engine.begin() as connection:
                return self._applier.apply(SqlAlchemyRunner(connection), key, records, time.time())
        except BaseException:
            self._applier.forget(key)
            raise

    def applied_seq(self, key: RunKey) -> int:
        """The highest sequence number of run ``key`` already in the store."""
        with self.engine.connect() as connection:
            return self._applier.applied_seq(SqlAlchemyRunner(connection), key)

    def heartbeat(self, key: RunKey) -> None:
        """Refresh the run's ``heartbeat_at``."""
        with self.engine.begin() as connection:
            self._applier.heartbeat(SqlAlchemyRunner(connection), key, time.time())

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()
