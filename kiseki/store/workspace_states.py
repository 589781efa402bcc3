"""Saved web-app workspaces: one JSON state per user and project (table ``workspace_states``).

The web app's workspace (hidden runs, colours, filters, grouping, sort, how many runs are
drawn, x axis, smoothing, collapsed sections, runs-table columns) is saved here for signed-in
users. Who may read or write a state is decided by
:class:`kiseki.server.service.TrackerService`; these functions only store it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson
import sqlalchemy as sa

from kiseki.errors import NotFoundError, StoreError, UsageError
from kiseki.store.queries import StoreQueries
from kiseki.store.schema import projects, workspace_states

MAX_STATE_BYTES = 256 * 1024
"""The largest workspace state (as JSON) a user may save."""


def _project_id(conn: sa.Connection, entity: str, project: str) -> int:
    found = conn.scalar(
        sa.select(projects.c.id).where(projects.c.entity == entity, projects.c.name == project)
    )
    if found is None:
        raise NotFoundError(f"No project {entity}/{project}.")
    return int(found)


def checked_state(state: Any) -> dict[str, Any]:
    """``state`` if it is a JSON object of at most :data:`MAX_STATE_BYTES`, else UsageError."""
    if not isinstance(state, Mapping):
        raise UsageError(
            'A workspace state must be a JSON object such as {"hidden": [], "n": 10}; '
            f"got {type(state).__name__}."
        )
    try:
        size = len(orjson.dumps(dict(state)))
    except TypeError as exc:
        raise UsageError(f"A workspace state must be plain JSON: {exc}.") from exc
    if size > MAX_STATE_BYTES:
        raise UsageError(
            f"This workspace state is {size} bytes; at most {MAX_STATE_BYTES} can be saved. "
            "Show fewer hidden runs or colours (reset the workspace to start afresh)."
        )
    return dict(state)


def load_state(
    queries: StoreQueries, username: str, entity: str, project: str
) -> tuple[dict[str, Any] | None, float | None]:
    """``username``'s saved workspace of a project and when it was saved (``None, None``
    when they saved none)."""
    with queries.reading() as conn:
        project_id = _project_id(conn, entity, project)
        row = conn.execute(
            sa.select(workspace_states.c.state, workspace_states.c.updated_at).where(
                workspace_states.c.username == username,
                workspace_states.c.project_id == project_id,
            )
        ).first()
    if row is None:
        return None, None
    return dict(row[0]), float(row[1])


def save_state(
    queries: StoreQueries, username: str, entity: str, project: str, state: Mapping[str, Any]
) -> float:
    """Save (replace) ``username``'s workspace of a project; returns when it was saved."""
    value = checked_state(state)
    now = time.time()
    try:
        _write(queries, username, entity, project, value, now)
    except StoreError:  # two first saves at once: the other inserted; now it is an update
        _write(queries, username, entity, project, value, now)
    return now


def _write(
    queries: StoreQueries, username: str, entity: str, project: str, value: Any, now: float
) -> None:
    with queries.writing() as conn:
        project_id = _project_id(conn, entity, project)
        key = (
            workspace_states.c.username == username,
            workspace_states.c.project_id == project_id,
        )
        changed = conn.execute(
            workspace_states.update().where(*key).values(state=value, updated_at=now)
        ).rowcount
        if not changed:
            conn.execute(
                workspace_states.insert().values(
                    username=username, project_id=project_id, state=value, updated_at=now
                )
            )


def delete_state(queries: StoreQueries, username: str, entity: str, project: str) -> bool:
    """Forget ``username``'s saved workspace of a project; whether there was one."""
    with queries.writing() as conn:
        project_id = _project_id(conn, entity, project)
        gone = conn.execute(
            workspace_states.delete().where(
                workspace_states.c.username == username,
                workspace_states.c.project_id == project_id,
            )
        ).rowcount
    return bool(gone)
