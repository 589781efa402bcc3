"""Reading a run's media for the web app: the media references of its history, and whether
a blob is one of its media (so that whoever may see the run may download it)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from kiseki.store.media import MEDIA_BLOB_KIND
from kiseki.store.schema import history_values, run_blobs

MEDIA_VALUE_PREFIX = '{"_type":'
"""How a stored media reference starts (history values are compact JSON; logged dicts are
always flattened, so only media references are JSON objects)."""


def media_steps(connection: Any, run_pk: int) -> dict[str, list[int]]:
    """The steps, ascending, at which each key of a run's history holds a media reference."""
    rows = connection.execute(
        sa.select(history_values.c.key, history_values.c.step)
        .where(history_values.c.run_pk == run_pk)
        .where(history_values.c.value.startswith(MEDIA_VALUE_PREFIX, autoescape=True))
        .order_by(history_values.c.key, history_values.c.step)
    ).all()
    steps: dict[str, list[int]] = {}
    for key, step in rows:
        steps.setdefault(str(key), []).append(int(step))
    return steps


def media_values(connection: Any, run_pk: int, key: str, steps: list[int]) -> list[tuple[int, str]]:
    """``(step, JSON text)`` of ``key`` at ``steps`` (those holding a value), by step."""
    found: list[tuple[int, str]] = []
    for start in range(0, len(steps), 500):  # bounded IN lists
        rows = connection.execute(
            sa.select(history_values.c.step, history_values.c.value)
            .where(history_values.c.run_pk == run_pk)
            .where(history_values.c.key == key)
            .where(history_values.c.step.in_(steps[start : start + 500]))
        ).all()
        found.extend((int(step), str(value)) for step, value in rows)
    return sorted(found)


def run_has_media_blob(connection: Any, run_pk: int, digest: str) -> bool:
    """Whether the run lists ``digest`` among its media blobs."""
    found = connection.execute(
        sa.select(run_blobs.c.digest)
        .where(run_blobs.c.run_pk == run_pk)
        .where(run_blobs.c.digest == digest)
        .where(run_blobs.c.kind == MEDIA_BLOB_KIND)
        .limit(1)
    ).first()
    return found is not None
