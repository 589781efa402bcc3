"""Reading artifacts from a store: versions, aliases, manifests, lineage, alias moves.

:class:`ArtifactQueries` works on the engine of a :class:`~kiseki.store.queries.StoreQueries`
(SQLite or PostgreSQL) and returns plain :class:`ArtifactVersionRecord` values; the public
:class:`kiseki.Artifact` objects and the server's ``/api/v1/artifacts`` routes are built on it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from kiseki import jsoncodec
from kiseki.errors import NotFoundError
from kiseki.store.privacy import Audience, owns_entity, run_visible
from kiseki.store.queries import StoreQueries
from kiseki.store.schema import (
    artifact_aliases,
    artifact_collections,
    artifact_files,
    artifact_usage,
    artifact_versions,
    projects,
    run_blobs,
    runs,
)


@dataclass
class ArtifactVersionRecord:
    """One artifact version as stored; ``version`` reads ``v<version_index>``."""

    id: int
    entity: str
    project: str
    name: str
    type: str
    version_index: int
    digest: str
    description: str | None
    metadata: dict[str, Any]
    size: int
    file_count: int
    created_at: float
    run_pk: int | None
    aliases: list[str] = field(default_factory=list)

    @property
    def version(self) -> str:
        """``v0``, ``v1``, …"""
        return f"v{self.version_index}"

    def to_json(self) -> dict[str, Any]:
        """The JSON form the server answers with."""
        return {
            "entity": self.entity,
            "project": self.project,
            "name": self.name,
            "type": self.type,
            "version": self.version,
            "version_index": self.version_index,
            "digest": self.digest,
            "description": self.description,
            "metadata": self.metadata,
            "size": self.size,
            "file_count": self.file_count,
            "created_at": self.created_at,
            "aliases": list(self.aliases),
        }


@dataclass(frozen=True)
class ArtifactCollectionRecord:
    """An artifact (all its versions): name, type and how many versions it has."""

    entity: str
    project: str
    name: str
    type: str
    version_count: int
    updated_at: float


def _versions_query() -> sa.Select[Any]:
    return sa.select(
        artifact_versions.c.id,
        projects.c.entity,
        projects.c.name.label("project"),
        artifact_collections.c.name,
        artifact_collections.c.type,
        artifact_versions.c.version_index,
        artifact_versions.c.digest,
        artifact_versions.c.description,
        artifact_versions.c.metadata,
        artifact_versions.c.size,
        artifact_versions.c.file_count,
        artifact_versions.c.created_at,
        artifact_versions.c.run_pk,
    ).select_from(
        artifact_versions.join(
            artifact_collections, artifact_collections.c.id == artifact_versions.c.collection_id
        ).join(projects, projects.c.id == artifact_collections.c.project_id)
    )


def _record(row: Any) -> ArtifactVersionRecord:
    metadata = row.metadata
    if isinstance(metadata, str):
        metadata = jsoncodec.loads(metadata)
    return ArtifactVersionRecord(
        id=row.id,
        entity=row.entity,
        project=row.project,
        name=row.name,
        type=row.type,
        version_index=row.version_index,
        digest=row.digest,
        description=row.description,
        metadata=metadata or {},
        size=int(row.size),
        file_count=int(row.file_count),
        created_at=float(row.created_at),
        run_pk=row.run_pk,
    )


def visible_project_ids(
    connection: sa.Connection, audience: Audience, project_ids: Collection[int]
) -> set[int]:
    """The projects among ``project_ids`` that ``audience`` may see (their entity's, public
    ones, and those holding a run they may see): artifacts follow their project's privacy."""
    if audience.is_admin:
        return set(project_ids)
    rows = connection.execute(
        sa.select(projects.c.id, projects.c.entity, projects.c.visibility).where(
            projects.c.id.in_(sorted(project_ids))
        )
    ).all()
    seen = {
        row.id for row in rows if row.visibility == "public" or owns_entity(audience, row.entity)
    }
    rest = set(project_ids) - seen
    if rest:
        condition = run_visible(audience)
        query = (
            sa.select(runs.c.project_id)
            .select_from(runs.join(projects, projects.c.id == runs.c.project_id))
            .where(runs.c.project_id.in_(sorted(rest)))
            .distinct()
        )
        if condition is not None:
            query = query.where(condition)
        seen.update(connection.scalars(query))
    return seen


class ArtifactQueries:
    """Artifact reads (and alias moves) on one store."""

    def __init__(self, queries: StoreQueries) -> None:
        self.queries = queries

    def _with_aliases(
        self, connection: sa.Connection, records: list[ArtifactVersionRecord]
    ) -> list[ArtifactVersionRecord]:
        if not records:
            return records
        by_id = {record.id: record for record in records}
        rows = connection.execute(
            sa.select(artifact_aliases.c.version_id, artifact_aliases.c.alias)
            .where(artifact_aliases.c.version_id.in_(sorted(by_id)))
            .order_by(artifact_aliases.c.alias)
        ).all()
        for version_id, alias in rows:
            by_id[version_id].aliases.append(alias)
        for record in records:  # "latest" first, then the user's aliases
            record.aliases.sort(key=lambda a: (a != "latest", a))
        return records

    def _select(self, query: sa.Select[Any]) -> list[ArtifactVersionRecord]:
        with self.queries.reading() as connection:
            return self._with_aliases(connection, [_record(r) for r in connection.execute(query)])

    def resolve(self, entity: str, project: str, name: str, alias: str) -> ArtifactVersionRecord:
        """The version ``alias`` (``latest``, ``best``, ``v3``) of ``entity/project/name``;
        :class:`NotFoundError` naming the versions and aliases that exist."""
        query = _versions_query().where(
            projects.c.entity == entity,
            projects.c.name == project,
            artifact_collections.c.name == name,
        )
        if alias.startswith("v") and alias[1:].isdigit():
            query = query.where(artifact_versions.c.version_index == int(alias[1:]))
        else:
            query = query.join(
                artifact_aliases, artifact_aliases.c.version_id == artifact_versions.c.id
            ).where(artifact_aliases.c.alias == alias)
        found = self._select(query)
        if found:
            return found[0]
        existing = self.versions(entity, project, name)
        if not existing:
            raise NotFoundError(
                f"No artifact {entity}/{project}/{name}: log it with run.log_artifact(), or "
                "list the project's artifacts with `kiseki artifact ls`."
            )
        names = sorted({a for r in existing for a in r.aliases} | {r.version for r in existing})
        raise NotFoundError(
            f"Artifact {entity}/{project}/{name} has no version or alias {alias!r}; it has: "
            f"{', '.join(names)}."
        )

    def by_id(self, version_id: int) -> ArtifactVersionRecord | None:
        """One version by its primary key."""
        found = self._select(_versions_query().where(artifact_versions.c.id == version_id))
        return found[0] if found else None

    def versions(
        self, entity: str, project: str, name: str | None = None, artifact_type: str | None = None
    ) -> list[ArtifactVersionRecord]:
        """Every version of artifact ``name`` (or of every artifact of ``artifact_type``, or
        of the project), oldest first."""
        query = _versions_query().where(projects.c.entity == entity, projects.c.name == project)
        if name is not None:
            query = query.where(artifact_collections.c.name == name)
        if artifact_type is not None:
            query = query.where(artifact_collections.c.type == artifact_type)
        return self._select(
            query.order_by(artifact_collections.c.name, artifact_versions.c.version_index)
        )

    def collections(self, entity: str, project: str) -> list[ArtifactCollectionRecord]:
        """The artifacts of a project, by name."""
        query = (
            sa.select(
                artifact_collections.c.name,
                artifact_collections.c.type,
                artifact_collections.c.updated_at,
                sa.func.count(artifact_versions.c.id).label("versions"),
            )
            .select_from(
                artifact_collections.join(
                    projects, projects.c.id == artifact_collections.c.project_id
                ).outerjoin(
                    artifact_versions,
                    artifact_versions.c.collection_id == artifact_collections.c.id,
                )
            )
            .where(projects.c.entity == entity, projects.c.name == project)
            .group_by(
                artifact_collections.c.name,
                artifact_collections.c.type,
                artifact_collections.c.updated_at,
            )
            .order_by(artifact_collections.c.name)
        )
        with self.queries.reading() as connection:
            rows = connection.execute(query).all()
        return [
            ArtifactCollectionRecord(entity, project, r.name, r.type, int(r.versions), r.updated_at)
            for r in rows
        ]

    def types(self, entity: str, project: str) -> list[str]:
        """The artifact types used in a project."""
        query = (
            sa.select(artifact_collections.c.type)
            .join(projects, projects.c.id == artifact_collections.c.project_id)
            .where(projects.c.entity == entity, projects.c.name == project)
            .distinct()
            .order_by(artifact_collections.c.type)
        )
        with self.queries.reading() as connection:
            return list(connection.scalars(query))

    def manifest(self, version_id: int) -> list[dict[str, Any]]:
        """The entries of a version: ``path``, ``digest``, ``size`` and ``ref``, by path."""
        query = (
            sa.select(
                artifact_files.c.path,
                artifact_files.c.digest,
                artifact_files.c.size,
                artifact_files.c.ref,
            )
            .where(artifact_files.c.version_id == version_id)
            .order_by(artifact_files.c.path)
        )
        with self.queries.reading() as connection:
            return [
                {"path": r.path, "digest": r.digest, "size": int(r.size), "ref": r.ref}
                for r in connection.execute(query)
            ]

    def consumers(self, version_id: int) -> list[int]:
        """The primary keys of the runs that used a version, in order of use."""
        query = (
            sa.select(artifact_usage.c.run_pk)
            .where(artifact_usage.c.version_id == version_id)
            .order_by(artifact_usage.c.used_at, artifact_usage.c.run_pk)
        )
        with self.queries.reading() as connection:
            return list(connection.scalars(query))

    def logged_by_run(self, run_pk: int) -> list[ArtifactVersionRecord]:
        """The versions a run logged (its outputs)."""
        query = _versions_query().where(artifact_versions.c.run_pk == run_pk)
        return self._select(query.order_by(artifact_versions.c.created_at))

    def used_by_run(self, run_pk: int) -> list[ArtifactVersionRecord]:
        """The versions a run used (its inputs)."""
        query = (
            _versions_query()
            .join(artifact_usage, artifact_usage.c.version_id == artifact_versions.c.id)
            .where(artifact_usage.c.run_pk == run_pk)
            .order_by(artifact_usage.c.used_at)
        )
        return self._select(query)

    def project_id_of(self, version_id: int) -> int:
        """The project a version belongs to."""
        query = (
            sa.select(artifact_collections.c.project_id)
            .join(artifact_versions, artifact_versions.c.collection_id == artifact_collections.c.id)
            .where(artifact_versions.c.id == version_id)
        )
        with self.queries.reading() as connection:
            return int(connection.scalar(query))

    def set_aliases(self, version_id: int, aliases: Iterable[str]) -> ArtifactVersionRecord:
        """Point each of ``aliases`` at the version (moving them from other versions);
        ``latest`` cannot be moved by hand."""
        from kiseki.errors import UsageError

        wanted = [a for a in aliases]
        if "latest" in wanted:
            raise UsageError("'latest' always points at the newest version; it cannot be moved.")
        with self.queries.writing() as connection:
            collection_id = connection.scalar(
                sa.select(artifact_versions.c.collection_id).where(
                    artifact_versions.c.id == version_id
                )
            )
            for alias in wanted:
                connection.execute(
                    sa.delete(artifact_aliases).where(
                        artifact_aliases.c.collection_id == collection_id,
                        artifact_aliases.c.alias == alias,
                    )
                )
                connection.execute(
                    sa.insert(artifact_aliases).values(
                        collection_id=collection_id, alias=alias, version_id=version_id
                    )
                )
        found = self.by_id(version_id)
        assert found is not None
        return found

    def unreferenced_blobs(self, stored: Iterable[str]) -> list[str]:
        """The digests among ``stored`` that no artifact version and no run refers to."""
        with self.queries.reading() as connection:
            kept = referenced_digests(connection)
        return [digest for digest in stored if digest not in kept]


# -- which blobs are referenced --------------------------------------------------------------
def referenced_digests(connection: sa.Connection) -> set[str]:
    """Every blob digest an artifact version's manifest or the ``run_blobs`` table names
    (what blob garbage collection must keep)."""
    kept = set(
        connection.scalars(
            sa.select(artifact_files.c.digest).where(artifact_files.c.ref.is_(None)).distinct()
        )
    )
    kept.update(connection.scalars(sa.select(run_blobs.c.digest).distinct()))
    return kept


def blob_visible(queries: Any, audience: Audience, digest: str) -> bool:
    """Whether ``audience`` may read blob ``digest``: it belongs to an artifact version in a
    project they may see, or to a run they may see."""
    if audience.is_admin:
        return True
    condition = run_visible(audience)
    with queries.reading() as connection:
        in_artifact = connection.execute(
            sa.select(artifact_collections.c.project_id, projects.c.entity, projects.c.visibility)
            .join(artifact_versions, artifact_versions.c.collection_id == artifact_collections.c.id)
            .join(artifact_files, artifact_files.c.version_id == artifact_versions.c.id)
            .join(projects, projects.c.id == artifact_collections.c.project_id)
            .where(artifact_files.c.digest == digest)
        ).all()
        if any(
            row.visibility == "public" or owns_entity(audience, row.entity) for row in in_artifact
        ):
            return True  # the common case, in one query: the caller's own or a public project
        project_ids = {row[0] for row in in_artifact}
        if project_ids and visible_project_ids(connection, audience, project_ids):
            return True
        query = (
            sa.select(runs.c.pk)
            .join(run_blobs, run_blobs.c.run_pk == runs.c.pk)
            .join(projects, projects.c.id == runs.c.project_id)
            .where(run_blobs.c.digest == digest)
            .limit(1)
        )
        if condition is not None:
            query = query.where(condition)
        return connection.execute(query).first() is not None
