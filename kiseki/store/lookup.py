"""Fast look-ups the SDK needs at ``init`` time, with the standard library's ``sqlite3``.

``kiseki.init()`` must take milliseconds, so it cannot import SQLAlchemy; these few read-only
queries are all it asks of the embedded store.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from kiseki import jsoncodec


@dataclass
class StoredRun:
    """What ``init`` needs to know about a run already in the store (to resume it)."""

    name: str
    state: str
    last_step: int
    runtime: float
    applied_seq: int
    summary: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)


def find_run(conn: sqlite3.Connection, entity: str, project: str, run_id: str) -> StoredRun | None:
    """The stored run ``entity/project/run_id``, or ``None``."""
    row = conn.execute(
        "SELECT r.name, r.state, r.last_step, r.runtime, r.applied_seq, r.summary, r.config "
        "FROM runs r JOIN projects p ON p.id = r.project_id "
        "WHERE p.entity = ? AND p.name = ? AND r.run_id = ?",
        (entity, project, run_id),
    ).fetchone()
    if row is None:
        return None
    name, state, last_step, runtime, applied_seq, summary, config = row
    return StoredRun(
        name=name,
        state=state,
        last_step=last_step,
        runtime=runtime or 0.0,
        applied_seq=applied_seq,
        summary=jsoncodec.loads(summary) if summary else {},
        config=jsoncodec.loads(config) if config else {},
    )


def count_runs(conn: sqlite3.Connection, entity: str, project: str) -> int:
    """How many runs the project ``entity/project`` holds (0 when it does not exist)."""
    row = conn.execute(
        "SELECT COUNT(*) FROM runs r JOIN projects p ON p.id = r.project_id "
        "WHERE p.entity = ? AND p.name = ?",
        (entity, project),
    ).fetchone()
    return int(row[0]) if row else 0
