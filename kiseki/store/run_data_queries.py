"""Reading a run's saved files, console lines and system-metric samples from a store.

Each function takes an open SQLAlchemy connection and the run's ``pk``; the read API, the
server's ``/api/v1`` endpoints and the web app all call these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from kiseki import jsoncodec
from kiseki.errors import UsageError
from kiseki.store.schema import run_console, run_files, run_system_samples

MAX_CONSOLE_PAGE = 10_000
"""The most console lines one read returns."""
SYSTEM_AXES = ("_step", "_runtime", "_timestamp")
_SAMPLES_PER_QUERY = 500


@dataclass(frozen=True)
class FileRecord:
    """One saved file: its latest version."""

    path: str
    digest: str
    size: int
    mtime: float
    kind: str
    saved_at: float
    versions: int

    def to_dict(self) -> dict[str, Any]:
        """The file as plain JSON-able values."""
        return {
            "path": self.path,
            "digest": self.digest,
            "size": self.size,
            "mtime": self.mtime,
            "kind": self.kind,
            "saved_at": self.saved_at,
            "versions": self.versions,
        }


@dataclass(frozen=True)
class ConsoleLine:
    """One line the run printed: its number (from 0), time, stream and text."""

    line_no: int
    timestamp: float
    stream: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        """The line as plain JSON-able values."""
        return {
            "line_no": self.line_no,
            "timestamp": self.timestamp,
            "stream": self.stream,
            "text": self.text,
        }


_FILE_COLUMNS = (
    run_files.c.path,
    run_files.c.digest,
    run_files.c.size,
    run_files.c.mtime,
    run_files.c.kind,
    run_files.c.saved_at,
    run_files.c.versions,
)


def files(conn: sa.Connection, run_pk: int) -> list[FileRecord]:
    """Every file the run saved, by path."""
    query = sa.select(*_FILE_COLUMNS).where(run_files.c.run_pk == run_pk)
    return [FileRecord(*row) for row in conn.execute(query.order_by(run_files.c.path))]


def file(conn: sa.Connection, run_pk: int, path: str) -> FileRecord | None:
    """The saved file at ``path``, or ``None``."""
    query = sa.select(*_FILE_COLUMNS).where(run_files.c.run_pk == run_pk, run_files.c.path == path)
    row = conn.execute(query).first()
    return None if row is None else FileRecord(*row)


def console_lines(
    conn: sa.Connection,
    run_pk: int,
    after: int = -1,
    limit: int = 1000,
    search: str | None = None,
    stream: str | None = None,
) -> list[ConsoleLine]:
    """Up to ``limit`` lines numbered above ``after``, in order; ``search`` keeps the lines
    containing it (case-insensitive), ``stream`` those of ``stdout`` or ``stderr``."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_CONSOLE_PAGE:
        raise UsageError(f"limit must be an integer from 1 to {MAX_CONSOLE_PAGE}, not {limit!r}.")
    if stream not in (None, "stdout", "stderr"):
        raise UsageError(f"stream must be 'stdout' or 'stderr', not {stream!r}.")
    query = (
        sa.select(
            run_console.c.line_no,
            run_console.c.timestamp,
            run_console.c.stream,
            run_console.c.text,
        )
        .where(run_console.c.run_pk == run_pk, run_console.c.line_no > after)
        .order_by(run_console.c.line_no)
        .limit(limit)
    )
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(
            sa.func.lower(run_console.c.text).like(f"%{escaped.lower()}%", escape="\\")
        )
    if stream:
        query = query.where(run_console.c.stream == stream)
    return [ConsoleLine(*row) for row in conn.execute(query)]


def system_sample_count(conn: sa.Connection, run_pk: int) -> int:
    """How many system-metric samples the run has."""
    value = conn.scalar(
        sa.select(sa.func.max(run_system_samples.c.sample_no)).where(
            run_system_samples.c.run_pk == run_pk
        )
    )
    return 0 if value is None else int(value) + 1


def system_rows(
    conn: sa.Connection, run_pk: int, samples: int
) -> list[tuple[int, float, float, dict[str, Any]]]:
    """Up to ``samples`` samples spread evenly (first and last in): ``(sample_no, timestamp,
    runtime, values)`` in order."""
    count = system_sample_count(conn, run_pk)
    chosen = spread(list(range(count)), samples)
    out = []
    for start in range(0, len(chosen), _SAMPLES_PER_QUERY):
        batch = chosen[start : start + _SAMPLES_PER_QUERY]
        query = (
            sa.select(
                run_system_samples.c.sample_no,
                run_system_samples.c.timestamp,
                run_system_samples.c.runtime,
                run_system_samples.c.vals,
            )
            .where(run_system_samples.c.run_pk == run_pk)
            .where(run_system_samples.c.sample_no.in_(batch))
            .order_by(run_system_samples.c.sample_no)
        )
        for sample_no, timestamp, runtime, vals in conn.execute(query):
            out.append((sample_no, timestamp, runtime, jsoncodec.loads(vals)))
    return out


def system_sample(
    conn: sa.Connection,
    run_pk: int,
    samples: int,
    keys: Sequence[str] | None,
    x_axis: str,
) -> tuple[list[str], list[dict[str, Any]]] | None:
    """The system stream as ``HistoryReader.sample`` returns it, or ``None`` when the run has
    no samples. ``_step`` is the sample's number (the system stream's own counter)."""
    if system_sample_count(conn, run_pk) == 0:
        return None
    rows = []
    for sample_no, timestamp, runtime, values in system_rows(conn, run_pk, samples):
        row = {"_step": sample_no, **values, "_runtime": runtime, "_timestamp": timestamp}
        rows.append(row)
    if keys is None:
        present = sorted({k for row in rows for k in row if k not in SYSTEM_AXES})
        return ["_step", *present, "_runtime", "_timestamp"], rows
    wanted = [k for k in dict.fromkeys([*keys, x_axis]) if k != "_step"]
    columns = [*wanted, "_step"]
    return columns, [{c: row[c] for c in columns} for row in rows if all(k in row for k in wanted)]


def spread(items: list[int], samples: int) -> list[int]:
    """``samples`` of ``items`` evenly spaced, the first and the last always among them."""
    count = len(items)
    if count <= samples:
        return items
    if samples == 1:
        return [items[-1]]
    indices = sorted({round(i * (count - 1) / (samples - 1)) for i in range(samples)})
    return [items[i] for i in indices]
