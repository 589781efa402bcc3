"""Stopping runs and recording dead ones: stop requests, ``killed`` and ``crashed`` runs.

* A run stopped from the web app or the API gets ``stop_requested``; its process learns of it
  from the answer to its next heartbeat or batch of records, finishes, and the finish is
  stored as ``killed`` (see :class:`kiseki.store.applier.RecordApplier`). A run whose
  heartbeats had already stopped is marked ``killed`` at once: no process is left to answer.
* The server's watchdog calls :func:`mark_crashed`, which stores ``crashed`` for ``running``
  runs whose last heartbeat is older than the timeout (readers already *read* such runs as
  ``crashed``; storing it makes the state visible to anyone querying the tables directly).
"""

from __future__ import annotations

import time

import sqlalchemy as sa

from kiseki.errors import NotFoundError, UsageError
from kiseki.store.queries import StoreQueries
from kiseki.store.schema import runs

LIVE_STATES = ("running", "crashed")
"""Stored states of a run that has not ended (a ``crashed`` run may still come back)."""


def request_stop(queries: StoreQueries, pk: int, label: str, now: float | None = None) -> str:
    """Ask run ``pk`` (called ``label`` in messages) to stop; returns what happened.

    ``"requested"``: the run is alive and will learn of it at its next heartbeat.
    ``"killed"``: its heartbeats had stopped, so it was marked ``killed`` at once.
    Raises :class:`UsageError` when the run has already ended.
    """
    now = time.time() if now is None else now
    with queries.writing() as conn:
        row = conn.execute(
            sa.select(runs.c.state, runs.c.heartbeat_at).where(runs.c.pk == pk)
        ).first()
        if row is None:
            raise NotFoundError(f"No run {label}.")
        state, heartbeat_at = row
        if state not in LIVE_STATES:
            raise UsageError(f"Run {label} has already ended ({state}): there is nothing to stop.")
        alive = state == "running" and heartbeat_at >= now - queries.heartbeat_timeout
        values: dict[str, object] = {"stop_requested": True, "updated_at": now}
        if not alive:
            values.update(state="killed", finished_at=now)
        conn.execute(runs.update().where(runs.c.pk == pk).values(**values))
    return "requested" if alive else "killed"


def mark_crashed(queries: StoreQueries, timeout: float, now: float | None = None) -> int:
    """Store ``crashed`` for running runs silent for more than ``timeout`` seconds; returns
    how many were marked."""
    now = time.time() if now is None else now
    with queries.writing() as conn:
        result = conn.execute(
            runs.update()
            .where(runs.c.state == "running", runs.c.heartbeat_at < now - timeout)
            .values(state="crashed", updated_at=now)
        )
    return int(result.rowcount or 0)
