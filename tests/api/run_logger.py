"""Logging whole runs into a kiseki directory's store through ``LocalSink`` (for API tests)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import count
from pathlib import Path
from typing import Any

from kiseki.runlog.records import HistoryRow, RunFinished, RunStarted, SummaryChanged
from kiseki.sinks.local import LocalSink
from kiseki.store.applier import RunKey
from kiseki.store.database import StoreLocation

BASE_TIME = 1_700_000_000.0  # 2023-11-14T22:13:20Z


class RunLogger:
    """Logs whole runs into the store of a kiseki directory, as the SDK would."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.sink = LocalSink(StoreLocation.in_dir(directory))
        self._created = count()

    def log_run(
        self,
        run_id: str,
        *,
        project: str = "mnist",
        entity: str = "alice",
        config: dict[str, Any] | None = None,
        summary: dict[str, Any] | None = None,
        rows: Sequence[dict[str, Any]] = (),
        exit_code: int | None = 0,
        **fields: Any,
    ) -> RunKey:
        """Log a run (``fields``: name, tags, notes, group, job_type); ``exit_code=None``
        leaves it running."""
        key = RunKey(entity, project, run_id)
        created_at = BASE_TIME + 60.0 * next(self._created)
        records: list[Any] = [
            RunStarted(
                1,
                run_id,
                project,
                entity,
                fields.pop("name", run_id),
                created_at,
                config=config or {},
                **fields,
            )
        ]
        for step, values in enumerate(rows):
            records.append(HistoryRow(len(records) + 1, step, created_at + step, step / 2, values))
        if summary is not None:
            records.append(SummaryChanged(len(records) + 1, summary))
        if exit_code is not None:
            records.append(RunFinished(len(records) + 1, exit_code, created_at + 99, 99.0))
        self.sink.apply(key, records)
        return key
