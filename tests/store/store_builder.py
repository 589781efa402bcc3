"""Filling a store through the record applier, exactly as the SDK fills it (for store tests)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from itertools import count
from typing import Any

from kiseki.runlog.records import HistoryRow, RunFinished, RunStarted, SummaryChanged
from kiseki.sinks.local import LocalSink
from kiseki.store.applier import RecordApplier, RunKey
from kiseki.store.database import StoreLocation, create_store_engine, ensure_schema
from kiseki.store.queries import StoreQueries
from kiseki.store.schema import runs
from kiseki.store.sql import SqlAlchemyRunner

BASE_TIME = 1_700_000_000.0  # 2023-11-14T22:13:20Z


class StoreBuilder:
    """Logs runs into a store and reads them back with :class:`StoreQueries`."""

    def __init__(self, location: StoreLocation) -> None:
        self.location = location
        ensure_schema(location)
        self.engine = create_store_engine(location)
        self.queries = StoreQueries(self.engine, heartbeat_timeout=60.0)
        self._sink = LocalSink(location) if location.is_sqlite else None
        self._applier = RecordApplier()
        self._created = count()

    def apply(self, key: RunKey, records: Sequence[Any]) -> None:
        """Apply records as a sink would."""
        if self._sink is not None:
            self._sink.apply(key, records)
            return
        with self.engine.begin() as conn:
            self._applier.apply(SqlAlchemyRunner(conn), key, records, time.time())

    def log_run(
        self,
        run_id: str,
        *,
        project: str = "mnist",
        entity: str = "alice",
        name: str | None = None,
        config: dict[str, Any] | None = None,
        summary: dict[str, Any] | None = None,
        tags: Sequence[str] = (),
        group: str | None = None,
        job_type: str | None = None,
        notes: str | None = None,
        created_at: float | None = None,
        rows: Sequence[dict[str, Any]] = (),
        exit_code: int | None = 0,
    ) -> RunKey:
        """Log a whole run: rows at steps 0, 1, ...; ``exit_code=None`` leaves it running."""
        key = RunKey(entity, project, run_id)
        if created_at is None:
            created_at = BASE_TIME + 60.0 * next(self._created)
        records: list[Any] = [
            RunStarted(
                1,
                run_id,
                project,
                entity,
                name or run_id,
                created_at,
                notes=notes,
                tags=list(tags),
                group=group,
                job_type=job_type,
                config=config or {},
                author="alice",
            )
        ]
        for step, values in enumerate(rows):
            records.append(
                HistoryRow(len(records) + 1, step, created_at + step, float(step), values)
            )
        if summary is not None:
            records.append(SummaryChanged(len(records) + 1, summary))
        if exit_code is not None:
            records.append(
                RunFinished(len(records) + 1, exit_code, created_at + len(rows), float(len(rows)))
            )
        self.apply(key, records)
        return key

    def set_heartbeat(self, run_id: str, at: float) -> None:
        """Pretend run ``run_id`` last sent a heartbeat at ``at``."""
        with self.engine.begin() as conn:
            conn.execute(runs.update().where(runs.c.run_id == run_id).values(heartbeat_at=at))

    def pk(self, key: RunKey) -> int:
        """The store's primary key of run ``key``."""
        record = self.queries.run(key.entity, key.project, key.run_id)
        assert record is not None
        return record.pk

    def close(self) -> None:
        """Release connections."""
        if self._sink is not None:
            self._sink.close()
        self.engine.dispose()
