"""Turning what the official client sends into kiseki run-log records, applied by ingest.

The client knows nothing of kiseki's sequence numbers: each change it sends becomes records
numbered after the run's applied cursor, applied through
:class:`~kiseki.server.ingest.IngestService` (the same path as kiseki's own SDK). A per-run lock
(shared by the worker processes of a server) keeps the numbering of concurrent requests of one
run apart. Repeated requests change nothing:
history lines are appended by line index (a line below the run's stored row count is skipped),
system samples likewise by their stored count. Console lines are written at their offset: the
client re-sends a line at a stored offset to redraw it (a progress bar), which replaces it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from kiseki import jsoncodec
from kiseki.errors import NotFoundError, UsageError
from kiseki.runlog.records import (
    ConfigChanged,
    ConsoleLines,
    FileSaved,
    HistoryRow,
    MetadataCaptured,
    RunFinished,
    RunStarted,
    RunUpdated,
    SummaryChanged,
    SystemSampled,
)
from kiseki.sdk.names import generate_run_name
from kiseki.server.ingest import Ack, IngestService
from kiseki.store.applier import RunKey
from kiseki.wandb_compat.shared_state import RunLocks
from kiseki.wandb_compat.values import (
    history_values,
    system_values,
    user_summary,
)

HISTORY_FILE = "wandb-history.jsonl"
SUMMARY_FILE = "wandb-summary.json"
EVENTS_FILE = "wandb-events.jsonl"
OUTPUT_FILE = "output.log"

_RUN_STATE = (
    "SELECT r.pk, r.applied_seq, r.history_rows, r.created_at, r.runtime, r.state, "
    "(SELECT COALESCE(MAX(c.line_no) + 1, 0) FROM run_console c WHERE c.run_pk = r.pk) "
    "AS console_lines, "
    "(SELECT COUNT(*) FROM run_system_samples s WHERE s.run_pk = r.pk) AS system_samples "
    "FROM runs r JOIN projects p ON p.id = r.project_id "
    "WHERE p.entity = :entity AND p.name = :project AND r.run_id = :run_id"
)


@dataclass
class RunChanges:
    """What one ``UpsertBucket`` asks for; ``None`` means "leave as it is"."""

    display_name: str | None = None
    notes: str | None = None
    tags: list[str] | None = None
    group: str | None = None
    job_type: str | None = None
    config: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Stored:
    exists: bool
    applied_seq: int = 0
    history_rows: int = 0
    created_at: float = 0.0
    runtime: float = 0.0
    state: str = "running"
    console_lines: int = 0
    system_samples: int = 0


class WandbRunWriter:
    """Writes the runs of the official client through kiseki's ingest path."""

    def __init__(self, ingest: IngestService, lock_dir: Path | None = None) -> None:
        self.ingest = ingest
        self._locks = RunLocks(lock_dir)

    def _lock(self, key: RunKey) -> AbstractContextManager[None]:
        return self._locks.hold(f"{key.entity}/{key.project}/{key.run_id}")

    def _stored(self, key: RunKey) -> _Stored:
        with self.ingest.engine.connect() as conn:
            row = conn.execute(
                sa.text(_RUN_STATE),
                {"entity": key.entity, "project": key.project, "run_id": key.run_id},
            ).first()
        if row is None:
            return _Stored(False)
        return _Stored(
            True,
            int(row.applied_seq),
            int(row.history_rows),
            float(row.created_at),
            float(row.runtime or 0.0),
            str(row.state),
            int(row.console_lines),
            int(row.system_samples),
        )

    def _start_record(
        self, key: RunKey, seq: int, author: str | None, changes: RunChanges
    ) -> RunStarted:
        name = changes.display_name
        if not name:
            with self.ingest.engine.connect() as conn:
                count = conn.scalar(
                    sa.text(
                        "SELECT COUNT(*) FROM runs r JOIN projects p ON p.id = r.project_id "
                        "WHERE p.entity = :entity AND p.name = :project"
                    ),
                    {"entity": key.entity, "project": key.project},
                )
            name = generate_run_name(int(count or 0) + 1)
        return RunStarted(
            seq,
            key.run_id,
            key.project,
            key.entity,
            name,
            time.time(),
            notes=changes.notes,
            tags=list(changes.tags or []),
            group=changes.group,
            job_type=changes.job_type,
            config=dict(changes.config or {}),
            author=author,
        )

    def upsert(self, key: RunKey, author: str | None, changes: RunChanges) -> bool:
        """Create run ``key`` or change it as ``changes`` says; returns whether it was new."""
        with self._lock(key):
            stored = self._stored(key)
            seq = stored.applied_seq + 1
            records: list[Any] = []
            if not stored.exists:
                records.append(self._start_record(key, seq, author, changes))
            else:
                fields = {
                    name: value
                    for name, value in (
                        ("name", changes.display_name),
                        ("notes", changes.notes),
                        ("tags", changes.tags),
                        ("group", changes.group),
                        ("job_type", changes.job_type),
                    )
                    if value is not None
                }
                if fields:
                    records.append(RunUpdated(seq, fields))
                if changes.config is not None:
                    records.append(ConfigChanged(seq + len(records), changes.config))
            if changes.metadata:
                records.append(MetadataCaptured(seq + len(records), changes.metadata))
            if changes.summary is not None:
                records.append(SummaryChanged(seq + len(records), changes.summary))
            if records:
                self.ingest.apply(key, records)
            return not stored.exists

    def stream(self, key: RunKey, author: str | None, body: dict[str, Any]) -> Ack:
        """Apply one ``file_stream`` request (see :mod:`kiseki.wandb_compat.routes`)."""
        files = body.get("files") or {}
        complete = bool(body.get("complete"))
        if not files and not complete:
            with self._lock(key):
                if not self._stored(key).exists:
                    self.ingest.apply(key, [self._start_record(key, 1, author, RunChanges())])
                return self.ingest.heartbeat(key)
        with self._lock(key):
            stored = self._stored(key)
            records: list[Any] = []
            if not stored.exists:
                records.append(self._start_record(key, 1, author, RunChanges()))
                stored = _Stored(True, 0, 0, time.time())
            next_seq = [stored.applied_seq + 1 + len(records)]

            def seq() -> int:
                value = next_seq[0]
                next_seq[0] += 1
                return value

            runtime = stored.runtime
            history = files.get(HISTORY_FILE)
            if isinstance(history, dict):
                for index, line in _lines(history):
                    if index < stored.history_rows:
                        continue
                    row = _json_line(HISTORY_FILE, index, line)
                    step = int(row.get("_step", index))
                    runtime = float(row.get("_runtime", runtime) or 0.0)
                    timestamp = float(row.get("_timestamp", time.time()) or 0.0)
                    records.append(HistoryRow(seq(), step, timestamp, runtime, history_values(row)))
            summary = files.get(SUMMARY_FILE)
            if isinstance(summary, dict) and summary.get("content"):
                whole = _json_line(SUMMARY_FILE, 0, summary["content"][-1])
                runtime = float(whole.get("_runtime", runtime) or runtime)
                records.append(SummaryChanged(seq(), user_summary(whole)))
            events = files.get(EVENTS_FILE)
            if isinstance(events, dict):
                for index, line in _lines(events):
                    if index < stored.system_samples:
                        continue
                    row = _json_line(EVENTS_FILE, index, line)
                    records.append(
                        SystemSampled(
                            seq(),
                            float(row.get("_timestamp", time.time()) or 0.0),
                            float(row.get("_runtime", 0.0) or 0.0),
                            system_values(row),
                        )
                    )
            output = files.get(OUTPUT_FILE)
            if isinstance(output, dict):
                numbered = _lines(output)
                lines = [console_line(line) for _, line in numbered]
                if lines and numbered[0][0] == stored.console_lines:
                    records.append(ConsoleLines(seq(), lines))
                elif lines:  # a redraw (or a gap): the lines go where the offset says
                    records.append(ConsoleLines(seq(), lines, first_line=numbered[0][0]))
            if complete:
                exit_code = int(body.get("exitcode") or 0)
                now = time.time()
                if runtime <= 0:
                    runtime = max(0.0, now - stored.created_at)
                records.append(RunFinished(seq(), exit_code, now, runtime))
            return self.ingest.apply(key, records)

    def append(self, key: RunKey, build: Callable[[int], list[Any]]) -> None:
        """Apply the records ``build(first_seq)`` makes for existing run ``key``."""
        with self._lock(key):
            stored = self._stored(key)
            if not stored.exists:
                raise NotFoundError(
                    f"No run {key.entity}/{key.project}/{key.run_id}: start it (wandb.init) first."
                )
            self.ingest.apply(key, build(stored.applied_seq + 1))

    def save_file(self, key: RunKey, path: str, data: bytes, digest: str) -> None:
        """Record that the run saved file ``path`` (bytes ``data``, already in the blob store
        as ``digest``). An ``output.log`` of a run that streamed no console lines (``wandb
        sync`` of older clients uploads it whole) also becomes the run's console lines."""
        with self._lock(key):
            stored = self._stored(key)
            if not stored.exists:
                return
            now = time.time()
            records: list[Any] = [FileSaved(stored.applied_seq + 1, path, digest, len(data), now)]
            if path == OUTPUT_FILE and stored.console_lines == 0:
                text = data.decode("utf-8", errors="replace")
                lines = [_file_line(now, line) for line in text.splitlines() if line.strip()]
                if lines:
                    records.append(ConsoleLines(stored.applied_seq + 2, lines))
            self.ingest.apply(key, records)


def _json_line(name: str, index: int, line: Any) -> dict[str, Any]:
    try:
        value = jsoncodec.loads(line) if isinstance(line, str) else None
    except ValueError as exc:
        raise UsageError(f"{name} line {index} is not JSON ({exc}): nothing was applied.") from exc
    if not isinstance(value, dict):
        raise UsageError(f"{name} line {index} must be a JSON object: nothing was applied.")
    return value


def _lines(spec: dict[str, Any]) -> list[tuple[int, str]]:
    offset = int(spec.get("offset") or 0)
    content = spec.get("content") or []
    return [(offset + i, line) for i, line in enumerate(content) if isinstance(line, str)]


def _file_line(now: float, line: str) -> list[Any]:
    if line.startswith("ERROR "):
        return [now, "stderr", line[6:]]
    return [now, "stdout", line]


def console_line(line: str) -> list[Any]:
    """``[timestamp, stream, text]`` of one ``output.log`` line (``<ISO time> text``, stderr
    lines prefixed ``ERROR``)."""
    stream = "stdout"
    line = line.rstrip("\r\n")
    if line.startswith("ERROR "):
        stream, line = "stderr", line[6:]
    stamp, _, text = line.partition(" ")
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return [time.time(), stream, line]
    if text.startswith("ERROR "):
        stream, text = "stderr", text[6:]
    return [when, stream, text]
