"""The embedded store as a sink: records applied to a SQLite file in the training process."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from kiseki.store.applier import RecordApplier, RunKey
from kiseki.store.database import StoreLocation, connect_sqlite, ensure_schema
from kiseki.store.sql import Sqlite3Runner


class LocalSink:
    """Applies records to the embedded SQLite store, one short transaction per batch.

    Safe to use from one thread at a time (the SDK's writer thread). Many processes may write
    to the same store at once: each batch takes SQLite's write lock with ``BEGIN IMMEDIATE``
    and waits its turn.
    """

    def __init__(self, location: StoreLocation) -> None:
        assert location.sqlite_path is not None, "LocalSink needs a SQLite store"
        ensure_schema(location)
        self.location = location
        self._connection = connect_sqlite(location.sqlite_path)
        self._db = Sqlite3Runner(self._connection)
        self._applier = RecordApplier()
        self.stop_requested = False

    def apply(self, key: RunKey, records: Sequence[Any]) -> int:
        """Apply ``records`` of one run in one transaction; return the run's applied cursor."""
        self._connection.execute("BEGIN IMMEDIATE")
        try:
            applied = self._applier.apply(self._db, key, records, time.time())
            self._connection.execute("COMMIT")
            self._check_stop(key)
        except BaseException:
            self._applier.forget(key)
            self._rollback()
            raise
        return applied

    def applied_seq(self, key: RunKey) -> int:
        """The highest sequence number of run ``key`` already in the store."""
        return self._applier.applied_seq(self._db, key)

    def heartbeat(self, key: RunKey) -> None:
        """Refresh the run's ``heartbeat_at``."""
        self._connection.execute("BEGIN IMMEDIATE")
        try:
            self._applier.heartbeat(self._db, key, time.time())
            self._connection.execute("COMMIT")
            self._check_stop(key)
        except BaseException:
            self._rollback()
            raise

    def _check_stop(self, key: RunKey) -> None:
        """Learn whether someone stopped the run (``kiseki ui``'s stop button)."""
        if self.stop_requested:
            return
        row = self._connection.execute(
            "SELECT r.stop_requested FROM runs r JOIN projects p ON p.id = r.project_id "
            "WHERE p.entity = ? AND p.name = ? AND r.run_id = ?",
            (key.entity, key.project, key.run_id),
        ).fetchone()
        self.stop_requested = bool(row and row[0])

    def _rollback(self) -> None:
        if self._connection.in_transaction:
            self._connection.execute("ROLLBACK")

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()
