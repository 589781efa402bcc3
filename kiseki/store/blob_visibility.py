"""Which of many blobs a reader may download, answered with a few queries (the batched
form of :func:`kiseki.store.artifact_queries.blob_visible`, for ``POST /api/v1/blobs/fetch``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from kiseki.store.artifact_queries import visible_project_ids
from kiseki.store.privacy import Audience, owns_entity, run_visible
from kiseki.store.schema import (
    artifact_collections,
    artifact_files,
    artifact_versions,
    projects,
    run_blobs,
    runs,
)

QUERY_CHUNK = 500


def visible_blobs(queries: Any, audience: Audience, digests: Iterable[str]) -> set[str]:
    """The digests among ``digests`` that ``audience`` may read: each belongs to an artifact
    version in a project they may see, or to a run they may see (the same rule as the single
    ``GET /api/v1/blobs/{digest}``)."""
    wanted = sorted(set(digests))
    if audience.is_admin:
        return set(wanted)
    visible: set[str] = set()
    condition = run_visible(audience)
    with queries.reading() as connection:
        for start in range(0, len(wanted), QUERY_CHUNK):
            chunk = wanted[start : start + QUERY_CHUNK]
            rows = connection.execute(
                sa.select(
                    artifact_files.c.digest,
                    artifact_collections.c.project_id,
                    projects.c.entity,
                    projects.c.visibility,
                )
                .join(
                    artifact_versions,
                    artifact_versions.c.collection_id == artifact_collections.c.id,
                )
                .join(artifact_files, artifact_files.c.version_id == artifact_versions.c.id)
                .join(projects, projects.c.id == artifact_collections.c.project_id)
                .where(artifact_files.c.digest.in_(chunk))
            ).all()
            by_project: dict[int, set[str]] = {}
            for row in rows:
                if row.visibility == "public" or owns_entity(audience, row.entity):
                    visible.add(row.digest)
                else:
                    by_project.setdefault(row.project_id, set()).add(row.digest)
            if by_project:
                for project_id in visible_project_ids(connection, audience, by_project):
                    visible.update(by_project[project_id])
            rest = [d for d in chunk if d not in visible]
            if rest:
                query = (
                    sa.select(run_blobs.c.digest)
                    .join(runs, run_blobs.c.run_pk == runs.c.pk)
                    .join(projects, projects.c.id == runs.c.project_id)
                    .where(run_blobs.c.digest.in_(rest))
                    .distinct()
                )
                if condition is not None:
                    query = query.where(condition)
                visible.update(connection.scalars(query))
    return visible
