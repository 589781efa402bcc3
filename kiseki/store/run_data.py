"""Applying console lines, saved files and system-metric samples to a store (issue 9).

Registered with :mod:`kiseki.store.record_handlers`; each handler runs inside the applier's
transaction, once per record (the applier skips records already applied), with the portable
SQL of :class:`~kiseki.store.sql.SqlRunner`. Console lines and system samples are numbered
from 0 per run in the order they are applied; a saved file keeps its latest version per path
and lists its blob in ``run_blobs`` (so blob garbage collection keeps it).
"""

from __future__ import annotations

from typing import Any

from kiseki import jsoncodec
from kiseki.runlog.records import ConsoleLines, FileSaved, SystemSampled
from kiseki.store.record_handlers import RunContext, register
from kiseki.store.sql import SqlRunner


def _next_number(db: SqlRunner, table: str, column: str, run_pk: int) -> int:
    rows = db.execute(
        f"SELECT COALESCE(MAX({column}), -1) + 1 FROM {table} WHERE run_pk = :pk", {"pk": run_pk}
    )
    return int(rows[0][0])


def apply_console_lines(db: SqlRunner, run: RunContext, record: ConsoleLines, now: float) -> None:
    """Append the record's lines to ``run_console`` (or, with ``first_line``, write them from
    that line on, replacing what is stored there)."""
    replacing = record.first_line is not None
    if replacing:
        first = int(record.first_line or 0)
    else:
        first = _next_number(db, "run_console", "line_no", run.run_pk)
    db.executemany(
        "INSERT INTO run_console (run_pk, line_no, timestamp, stream, text) "
        "VALUES (:run_pk, :line_no, :timestamp, :stream, :text) "
        + (
            "ON CONFLICT (run_pk, line_no) DO UPDATE SET timestamp = excluded.timestamp, "
            "stream = excluded.stream, text = excluded.text"
            if replacing
            else "ON CONFLICT (run_pk, line_no) DO NOTHING"
        ),
        [
            {
                "run_pk": run.run_pk,
                "line_no": first + i,
                "timestamp": float(timestamp),
                "stream": str(stream),
                "text": str(text),
            }
            for i, (timestamp, stream, text) in enumerate(record.lines)
        ],
    )


def apply_file_saved(db: SqlRunner, run: RunContext, record: FileSaved, now: float) -> None:
    """Keep the file's latest version in ``run_files`` and its blob in ``run_blobs``."""
    params = {
        "run_pk": run.run_pk,
        "path": record.path,
        "digest": record.digest,
        "size": int(record.size),
        "mtime": float(record.mtime),
        "kind": record.kind,
        "now": now,
    }
    db.execute(
        "INSERT INTO run_files (run_pk, path, digest, size, mtime, kind, saved_at, versions) "
        "VALUES (:run_pk, :path, :digest, :size, :mtime, :kind, :now, 1) "
        "ON CONFLICT (run_pk, path) DO UPDATE SET digest = excluded.digest, "
        "size = excluded.size, mtime = excluded.mtime, kind = excluded.kind, "
        "saved_at = excluded.saved_at, versions = run_files.versions + 1",
        params,
    )
    db.execute(
        "INSERT INTO run_blobs (run_pk, digest, kind) VALUES (:run_pk, :digest, :kind) "
        "ON CONFLICT (run_pk, digest) DO NOTHING",
        {"run_pk": run.run_pk, "digest": record.digest, "kind": record.kind},
    )


def apply_system_sample(db: SqlRunner, run: RunContext, record: SystemSampled, now: float) -> None:
    """Add the sample to ``run_system_samples`` with the run's next sample number."""
    values: dict[str, Any] = record.values
    db.execute(
        "INSERT INTO run_system_samples (run_pk, sample_no, timestamp, runtime, vals) "
        "VALUES (:run_pk, :sample_no, :timestamp, :runtime, :vals) "
        "ON CONFLICT (run_pk, sample_no) DO NOTHING",
        {
            "run_pk": run.run_pk,
            "sample_no": _next_number(db, "run_system_samples", "sample_no", run.run_pk),
            "timestamp": float(record.timestamp),
            "runtime": float(record.runtime),
            "vals": jsoncodec.dumps(values),
        },
    )


register(ConsoleLines, apply_console_lines)
register(FileSaved, apply_file_saved)
register(SystemSampled, apply_system_sample)
