"""Applying ingested records, heartbeats and stop answers to the server's store.

One transaction per request, through the same :class:`~kiseki.store.applier.RecordApplier`
the embedded SDK uses, so a record is applied exactly once per ``(run, seq)`` however often
a client re-sends it.

SQLite allows one writer at a time; rather than letting the request threads of a process
poll SQLite's lock, they queue on one in-process lock (:class:`WriteGate`); processes queue
on SQLite's own lock. On PostgreSQL requests of different runs write in parallel and a run's
row is locked (``SELECT ... FOR UPDATE``) for the length of its transaction.

The applier keeps each run's open history chunks in memory between batches. With several
server processes a run's batches may land on different processes, so every transaction first
compares the run's stored cursor with the one this process last wrote, and reloads the
run's state from the store when another process has written since.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from kiseki.errors import NotFoundError, StoreError
from kiseki.runlog.records import RunFinished, RunStarted
from kiseki.server.errors import ConflictError
from kiseki.store.applier import RecordApplier, RunKey
from kiseki.store.sql import SqlAlchemyRunner

_RUN_ROW = (
    "SELECT r.pk, r.applied_seq, r.stop_requested, r.state FROM runs r "
    "JOIN projects p ON p.id = r.project_id "
    "WHERE p.entity = :entity AND p.name = :project AND r.run_id = :run_id"
)


@dataclass(frozen=True)
class Ack:
    """The answer to a batch or a heartbeat: the run's applied cursor and whether it should
    stop."""

    applied_seq: int
    stop_requested: bool

    def to_json(self) -> dict[str, Any]:
        """``{"applied_seq": n, "stop_requested": bool}``."""
        return {"applied_seq": self.applied_seq, "stop_requested": self.stop_requested}


class WriteGate:
    """Serialises this process's write transactions on SQLite; a no-op on PostgreSQL.

    Re-entrant: the ingest endpoint holds it while it decodes a request too, because decoding
    is CPU work that one process does on one core anyway (the GIL), and threads taking turns
    whole requests at a time do not keep the write lock waiting while they decode.
    """

    def __init__(self, serialise: bool) -> None:
        self._lock: threading.RLock | None = threading.RLock() if serialise else None

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the gate for one transaction."""
        if self._lock is None:
            yield
            return
        with self._lock:
            yield


class IngestService:
    """Writes records and heartbeats of runs into the store."""

    def __init__(self, engine: sa.Engine, gate: WriteGate) -> None:
        self.engine = engine
        self.gate = gate
        self._applier = RecordApplier()
        self._cursors: dict[RunKey, int] = {}
        self._run_locks: dict[RunKey, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    @contextmanager
    def _transaction(self, key: RunKey) -> Iterator[sa.Connection]:
        with self._locks_guard:
            run_lock = self._run_locks.setdefault(key, threading.Lock())
        try:
            with run_lock, self.gate.held(), self.engine.begin() as conn:
                yield conn
        except sa.exc.DBAPIError as exc:
            self._applier.forget(key)
            self._cursors.pop(key, None)
            raise StoreError(
                f"The store could not take the records of {_path(key)}: {exc.orig}. Retry "
                "later; records already acknowledged are safe."
            ) from exc
        except BaseException:
            self._applier.forget(key)
            self._cursors.pop(key, None)
            raise

    def _run_row(self, conn: sa.Connection, key: RunKey) -> Any:
        sql = _RUN_ROW + (" FOR UPDATE OF r" if conn.dialect.name == "postgresql" else "")
        return conn.execute(
            sa.text(sql), {"entity": key.entity, "project": key.project, "run_id": key.run_id}
        ).first()

    def apply(self, key: RunKey, records: Sequence[Any]) -> Ack:
        """Apply ``records`` (checked, in rising ``seq`` order) of run ``key`` in one
        transaction; records at or below the run's cursor are skipped."""
        with self._transaction(key) as conn:
            row = self._run_row(conn, key)
            if row is None:
                self._applier.forget(key)
                if records and type(records[0]) is not RunStarted:
                    raise ConflictError(
                        f"Run {_path(key)} does not exist on the server and the records sent do "
                        f"not start it (the first is seq {records[0].seq}): send the run's log "
                        "from its RunStarted record (kiseki sync <run dir>)."
                    )
            elif self._cursors.get(key) != row.applied_seq:
                self._applier.forget(key)  # another process wrote this run since
            now = time.time()
            applied = (
                self._applier.apply(SqlAlchemyRunner(conn), key, records, now)
                if records
                else (row.applied_seq if row is not None else 0)
            )
            if (
                row is not None
                and row.state == "crashed"
                and not any(type(r) is RunFinished for r in records)
            ):
                conn.execute(
                    sa.text(
                        "UPDATE runs SET state = 'running' WHERE pk = :pk AND state = 'crashed'"
                    ),
                    {"pk": row.pk},
                )
            stop = conn.execute(sa.text(_RUN_ROW), _params(key)).first()
            self._cursors[key] = applied
        return Ack(applied, bool(stop.stop_requested) if stop is not None else False)

    def heartbeat(self, key: RunKey) -> Ack:
        """Record that the run is alive (a ``crashed`` run comes back as ``running``)."""
        with self._transaction(key) as conn:
            row = self._run_row(conn, key)
            if row is None:
                raise NotFoundError(
                    f"No run {_path(key)}: send its records (starting with RunStarted) first."
                )
            conn.execute(
                sa.text(
                    "UPDATE runs SET heartbeat_at = :now, state = CASE WHEN state = 'crashed' "
                    "THEN 'running' ELSE state END WHERE pk = :pk AND state IN "
                    "('running', 'crashed')"
                ),
                {"now": time.time(), "pk": row.pk},
            )
        return Ack(int(row.applied_seq), bool(row.stop_requested))

    def forget(self, key: RunKey | None = None) -> None:
        """Drop cached state (after the store was changed behind this process's back)."""
        self._applier.forget(key)
        if key is None:
            self._cursors.clear()
        else:
            self._cursors.pop(key, None)


def _params(key: RunKey) -> dict[str, str]:
    return {"entity": key.entity, "project": key.project, "run_id": key.run_id}


def _path(key: RunKey) -> str:
    return f"{key.entity}/{key.project}/{key.run_id}"
