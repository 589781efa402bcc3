"""Applying run-log records to a store, exactly once per (run, sequence number).

:class:`RecordApplier` turns a batch of records for one run into a handful of statements:
numeric history goes into chunks (the open tail chunk of each series is kept in memory and
rewritten each batch, so a batch's values are queryable as soon as it commits), other values
into ``history_values``, and run-level changes into one ``UPDATE``. The caller owns the
transaction; if it rolls back, it must call :meth:`RecordApplier.forget` so the in-memory
chunk state is reloaded from the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kiseki import jsoncodec
from kiseki.errors import StoreError
from kiseki.runlog.records import (
    ConfigChanged,
    HistoryRow,
    MetadataCaptured,
    MetricDefined,
    RunFinished,
    RunStarted,
    RunUpdated,
    SummaryChanged,
)
from kiseki.store.chunks import CHUNK_SIZE, OpenChunk
from kiseki.store.record_handlers import RunContext, handler_for
from kiseki.store.sql import SqlRunner

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_RUN_FIELDS = {"name", "notes", "tags", "group", "job_type"}
_JSON_COLUMNS = {"tags", "config", "summary", "metadata", "metric_definitions"}


@dataclass(frozen=True)
class RunKey:
    """Identifies a run in a store: entity, project name and run id."""

    entity: str
    project: str
    run_id: str


@dataclass
class _RunState:
    pk: int
    project_id: int
    applied_seq: int
    last_step: int
    history_rows: int
    fresh: bool
    chunks: dict[str, OpenChunk] = field(default_factory=dict)
    metric_definitions: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


@dataclass
class _Batch:
    changes: dict[str, Any] = field(default_factory=dict)
    columns: dict[str, tuple[list[int], list[Any]]] = field(default_factory=dict)
    values: list[dict[str, Any]] = field(default_factory=list)


class RecordApplier:
    """Applies batches of records to a store; keeps per-run chunk state between batches."""

    def __init__(self) -> None:
        self._runs: dict[RunKey, _RunState] = {}

    def forget(self, key: RunKey | None = None) -> None:
        """Drop cached state (of one run, or of all) after a rolled-back transaction."""
        if key is None:
            self._runs.clear()
        else:
            self._runs.pop(key, None)

    def applied_seq(self, db: SqlRunner, key: RunKey) -> int:
        """The highest sequence number of ``key`` already in the store (0 when none)."""
        state = self._runs.get(key) or self._load(db, key)
        return state.applied_seq if state else 0

    def heartbeat(self, db: SqlRunner, key: RunKey, now: float) -> None:
        """Record that the run is alive at ``now``."""
        db.execute(
            "UPDATE runs SET heartbeat_at = :now WHERE pk = ("
            "SELECT r.pk FROM runs r JOIN projects p ON p.id = r.project_id "
            "WHERE p.entity = :entity AND p.name = :project AND r.run_id = :run_id)",
            {"now": now, "entity": key.entity, "project": key.project, "run_id": key.run_id},
        )

    def apply(self, db: SqlRunner, key: RunKey, records: Sequence[Any], now: float) -> int:
        """Apply ``records`` of run ``key`` inside the caller's transaction.

        Records whose ``seq`` is not above the run's applied cursor are skipped. Returns the
        cursor after the batch.
        """
        state = self._runs.get(key) or self._load(db, key)
        batch = _Batch()
        for record in records:
            if state is not None and record.seq <= state.applied_seq:
                continue
            if type(record) is HistoryRow:
                if state is None:
                    raise StoreError(_missing_start(key))
                self._history(db, state, record, batch)
            elif type(record) is RunStarted:
                state = self._start(db, key, record, now)
                self._runs[key] = state
            elif state is None:
                raise StoreError(_missing_start(key))
            else:
                self._run_level(db, state, record, batch, key, now)
            state.applied_seq = record.seq
        if state is None:
            return 0
        self._flush(db, state, batch, now)
        return state.applied_seq

    # -- loading -------------------------------------------------------------------------
    def _load(self, db: SqlRunner, key: RunKey) -> _RunState | None:
        rows = db.execute(
            "SELECT r.pk, r.project_id, r.applied_seq, r.last_step, r.history_rows "
            "FROM runs r JOIN projects p ON p.id = r.project_id "
            "WHERE p.entity = :entity AND p.name = :project AND r.run_id = :run_id",
            {"entity": key.entity, "project": key.project, "run_id": key.run_id},
        )
        if not rows:
            return None
        pk, project_id, applied_seq, last_step, history_rows = rows[0]
        state = _RunState(pk, project_id, applied_seq, last_step, history_rows, fresh=False)
        self._runs[key] = state
        return state

    def _open_chunk(self, db: SqlRunner, state: _RunState, key: str) -> OpenChunk:
        if not state.fresh:
            rows = db.execute(
                "SELECT chunk_no, count, kind, steps, vals FROM history_chunks "
                "WHERE run_pk = :pk AND key = :key ORDER BY chunk_no DESC LIMIT 1",
                {"pk": state.pk, "key": key},
            )
            if rows:
                chunk_no, count, kind, steps, vals = rows[0]
                if count < CHUNK_SIZE:
                    chunk = OpenChunk.from_parts(chunk_no, kind, steps, vals)
                else:
                    chunk = OpenChunk(chunk_no=chunk_no + 1)
                state.chunks[key] = chunk
                return chunk
        chunk = OpenChunk(chunk_no=0)
        state.chunks[key] = chunk
        return chunk

    # -- record handlers -----------------------------------------------------------------
    def _start(self, db: SqlRunner, key: RunKey, record: RunStarted, now: float) -> _RunState:
        project_id = db.execute(
            "INSERT INTO projects (entity, name, created_at, updated_at) "
            "VALUES (:entity, :project, :now, :now) "
            "ON CONFLICT (entity, name) DO UPDATE SET updated_at = excluded.updated_at "
            "RETURNING id",
            {"entity": key.entity, "project": key.project, "now": now},
        )[0][0]
        params = {
            "project_id": project_id,
            "run_id": key.run_id,
            "name": record.name,
            "notes": record.notes,
            "tags": jsoncodec.dumps(list(record.tags)),
            "group_name": record.group,
            "job_type": record.job_type,
            "author": record.author,
            "config": jsoncodec.dumps(record.config),
            "empty": "{}",
            "created_at": record.created_at,
            "now": now,
            "privacy": getattr(record, "privacy", None),
        }
        j = db.json
        row = db.execute(
            "INSERT INTO runs (project_id, run_id, name, notes, tags, group_name, job_type, "
            "state, author, config, summary, metadata, metric_definitions, created_at, "
            "updated_at, heartbeat_at, runtime, last_step, history_rows, applied_seq, privacy) "
            f"VALUES (:project_id, :run_id, :name, :notes, {j('tags')}, :group_name, :job_type, "
            f"'running', :author, {j('config')}, {j('empty')}, {j('empty')}, {j('empty')}, "
            ":created_at, :now, :now, 0, -1, 0, 0, COALESCE(:privacy, (SELECT visibility FROM "
            "projects WHERE id = :project_id), 'private')) "
            "ON CONFLICT (project_id, run_id) DO UPDATE SET state = 'running', "
            "exit_code = NULL, finished_at = NULL, heartbeat_at = excluded.heartbeat_at, "
            "updated_at = excluded.updated_at, stop_requested = FALSE, "
            "privacy = COALESCE(:privacy, runs.privacy) "
            "RETURNING pk, applied_seq, last_step, history_rows",
            params,
        )[0]
        pk, applied_seq, last_step, history_rows = row
        return _RunState(
            pk,
            project_id,
            applied_seq,
            last_step,
            history_rows,
            fresh=history_rows == 0 and not record.resumed,
        )

    def _history(self, db: SqlRunner, state: _RunState, record: HistoryRow, batch: _Batch) -> None:
        step = record.step
        columns = batch.columns
        for key, value in record.values.items():
            kind = type(value)
            if kind is float or (kind is int and _INT64_MIN <= value <= _INT64_MAX):
                column = columns.get(key)
                if column is None:
                    column = columns[key] = ([], [])
                column[0].append(step)
                column[1].append(value)
            else:
                batch.values.append(
                    {
                        "run_pk": state.pk,
                        "key": key,
                        "step": step,
                        "value": jsoncodec.dumps(value),
                    }
                )
        for key, value in (("_runtime", record.runtime), ("_timestamp", record.timestamp)):
            column = columns.get(key)
            if column is None:
                column = columns[key] = ([], [])
            column[0].append(step)
            column[1].append(value)
        if step > state.last_step:
            state.last_step = step
        state.history_rows += 1
        batch.changes["last_step"] = state.last_step
        batch.changes["history_rows"] = state.history_rows
        batch.changes["runtime"] = record.runtime

    def _chunk_rows(self, db: SqlRunner, state: _RunState, batch: _Batch) -> list[dict[str, Any]]:
        """Fold the batch's new points into the open chunks; return the rows to write."""
        rows = []
        for key, (steps, values) in batch.columns.items():
            chunk = state.chunks.get(key) or self._open_chunk(db, state, key)
            position = 0
            while position < len(steps):
                room = CHUNK_SIZE - len(chunk.steps)
                if room <= 0:
                    rows.append(chunk.to_row(state.pk, key))
                    chunk = state.chunks[key] = OpenChunk(chunk_no=chunk.chunk_no + 1)
                    continue
                chunk.steps.extend(steps[position : position + room])
                chunk.values.extend(values[position : position + room])
                position += room
            rows.append(chunk.to_row(state.pk, key))
        return rows

    def _run_level(
        self, db: SqlRunner, state: _RunState, record: Any, batch: _Batch, key: RunKey, now: float
    ) -> None:
        changes = batch.changes
        kind = type(record)
        if kind is SummaryChanged:
            changes["summary"] = record.summary
        elif kind is ConfigChanged:
            changes["config"] = record.config
        elif kind is RunUpdated:
            for name, value in record.fields.items():
                if name in _RUN_FIELDS:
                    changes["group_name" if name == "group" else name] = value
        elif kind is MetricDefined:
            if state.metric_definitions is None:
                state.metric_definitions = self._json_column(db, state, "metric_definitions")
            state.metric_definitions[record.definition["name"]] = record.definition
            changes["metric_definitions"] = state.metric_definitions
        elif kind is MetadataCaptured:
            if state.metadata is None:
                state.metadata = self._json_column(db, state, "metadata")
            state.metadata.update(record.metadata)
            changes["metadata"] = state.metadata
        elif kind is RunFinished:
            changes["state"] = "finished" if record.exit_code == 0 else "failed"
            changes["exit_code"] = record.exit_code
            changes["finished_at"] = record.finished_at
            changes["runtime"] = record.runtime
        else:
            handler = handler_for(kind)
            if handler is None:
                raise StoreError(
                    f"Run {key.entity}/{key.project}/{key.run_id}: record type {kind.__name__} "
                    "has no applier; upgrade kiseki where this store is written."
                )
            context = RunContext(state.pk, state.project_id, key.entity, key.project, key.run_id)
            handler(db, context, record, now)

    def _json_column(self, db: SqlRunner, state: _RunState, column: str) -> dict[str, Any]:
        rows = db.execute(f"SELECT {column} FROM runs WHERE pk = :pk", {"pk": state.pk})
        value = rows[0][0] if rows else None
        if isinstance(value, str):
            value = jsoncodec.loads(value)
        return dict(value or {})

    # -- writing -------------------------------------------------------------------------
    def _flush(self, db: SqlRunner, state: _RunState, batch: _Batch, now: float) -> None:
        chunk_rows = self._chunk_rows(db, state, batch)
        db.executemany(
            "INSERT INTO history_chunks (run_pk, key, chunk_no, first_step, last_step, count, "
            "vmin, vmax, kind, steps, vals) VALUES (:run_pk, :key, :chunk_no, :first_step, "
            ":last_step, :count, :vmin, :vmax, :kind, :steps, :vals) "
            "ON CONFLICT (run_pk, key, chunk_no) DO UPDATE SET last_step = excluded.last_step, "
            "first_step = excluded.first_step, count = excluded.count, vmin = excluded.vmin, "
            "vmax = excluded.vmax, kind = excluded.kind, steps = excluded.steps, "
            "vals = excluded.vals",
            chunk_rows,
        )
        db.executemany(
            "INSERT INTO history_values (run_pk, key, step, value) "
            "VALUES (:run_pk, :key, :step, :value) "
            "ON CONFLICT (run_pk, key, step) DO UPDATE SET value = excluded.value",
            batch.values,
        )
        params: dict[str, Any] = {"pk": state.pk, "now": now, "applied_seq": state.applied_seq}
        assignments = ["applied_seq = :applied_seq", "updated_at = :now"]
        if batch.changes.get("state") is None:
            assignments.append("heartbeat_at = :now")
        for column, value in batch.changes.items():
            if column == "state":  # a run stopped from the web app or the API ends as killed
                params[column] = value
                assignments.append("state = CASE WHEN stop_requested THEN 'killed' ELSE :state END")
            elif column in _JSON_COLUMNS:
                params[column] = jsoncodec.dumps(value)
                assignments.append(f"{column} = {db.json(column)}")
            else:
                params[column] = value
                assignments.append(f"{column} = :{column}")
        db.execute(f"UPDATE runs SET {', '.join(assignments)} WHERE pk = :pk", params)
        if batch.changes:
            db.execute(
                "UPDATE projects SET updated_at = :now WHERE id = :id",
                {"now": now, "id": state.project_id},
            )


def _missing_start(key: RunKey) -> str:
    return (
        f"Run {key.entity}/{key.project}/{key.run_id} is not in the store and the records "
        "to apply do not start it. Sync the run's whole run log (kiseki sync <run dir>)."
    )
