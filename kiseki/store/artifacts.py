"""Applying artifact records to the store, and which blobs artifacts keep alive.

``ArtifactLogged`` creates a version only here, when the store applies the record (the bytes
went to the blob store before the record was written), so a run that dies mid-upload leaves
no half version, and an offline run's artifacts appear when it is synced. Logging content
the artifact already has (same manifest digest) makes no new version; it only moves the
aliases named. ``latest`` always points at the newest version. ``ArtifactUsed`` records a
consumer of a version (lineage).

The handlers use the portable SQL of :class:`~kiseki.store.sql.SqlRunner`, so they run on
stdlib ``sqlite3`` in the SDK and on SQLAlchemy (SQLite or PostgreSQL) in the server.
"""

from __future__ import annotations

from kiseki import jsoncodec
from kiseki.runlog.records import ArtifactLogged, ArtifactUsed
from kiseki.store.record_handlers import RunContext, register
from kiseki.store.sql import SqlRunner

LATEST = "latest"


def _collection_id(
    db: SqlRunner, project_id: int, name: str, artifact_type: str, now: float
) -> int:
    db.execute(
        "INSERT INTO artifact_collections (project_id, name, type, created_at, updated_at) "
        "VALUES (:project_id, :name, :type, :now, :now) "
        "ON CONFLICT (project_id, name) DO NOTHING",
        {"project_id": project_id, "name": name, "type": artifact_type, "now": now},
    )
    rows = db.execute(
        "SELECT id FROM artifact_collections WHERE project_id = :project_id AND name = :name",
        {"project_id": project_id, "name": name},
    )
    return int(rows[0][0])


def point_alias(db: SqlRunner, collection_id: int, alias: str, version_id: int) -> None:
    """Make ``alias`` of the artifact point at ``version_id`` (moving it if it pointed
    elsewhere)."""
    db.execute(
        "INSERT INTO artifact_aliases (collection_id, alias, version_id) "
        "VALUES (:collection_id, :alias, :version_id) "
        "ON CONFLICT (collection_id, alias) DO UPDATE SET version_id = excluded.version_id",
        {"collection_id": collection_id, "alias": alias, "version_id": version_id},
    )


def apply_artifact_logged(
    db: SqlRunner, run: RunContext, record: ArtifactLogged, now: float
) -> None:
    """Create the version (unless one with the same content exists) and move its aliases."""
    collection_id = _collection_id(db, run.project_id, record.name, record.artifact_type, now)
    found = db.execute(
        "SELECT id FROM artifact_versions WHERE collection_id = :c AND digest = :d",
        {"c": collection_id, "d": record.digest},
    )
    if found:
        version_id = int(found[0][0])
    else:
        next_index = db.execute(
            "SELECT COALESCE(MAX(version_index), -1) + 1 FROM artifact_versions "
            "WHERE collection_id = :c",
            {"c": collection_id},
        )[0][0]
        version_id = int(
            db.execute(
                "INSERT INTO artifact_versions (collection_id, version_index, digest, "
                "description, metadata, size, file_count, run_pk, created_at) VALUES (:c, "
                f":index, :digest, :description, {db.json('metadata')}, :size, :count, :run_pk, "
                ":created_at) RETURNING id",
                {
                    "c": collection_id,
                    "index": int(next_index),
                    "digest": record.digest,
                    "description": record.description,
                    "metadata": jsoncodec.dumps(record.metadata or {}),
                    "size": sum(int(e["size"]) for e in record.manifest),
                    "count": len(record.manifest),
                    "run_pk": run.run_pk,
                    "created_at": record.created_at or now,
                },
            )[0][0]
        )
        db.executemany(
            "INSERT INTO artifact_files (version_id, path, digest, size, ref) "
            "VALUES (:version_id, :path, :digest, :size, :ref)",
            [
                {
                    "version_id": version_id,
                    "path": e["path"],
                    "digest": e["digest"],
                    "size": int(e["size"]),
                    "ref": e.get("ref"),
                }
                for e in record.manifest
            ],
        )
        point_alias(db, collection_id, LATEST, version_id)
    for alias in record.aliases:
        if alias != LATEST:
            point_alias(db, collection_id, alias, version_id)
    db.execute(
        "UPDATE artifact_collections SET updated_at = :now WHERE id = :c",
        {"now": now, "c": collection_id},
    )


def apply_artifact_used(db: SqlRunner, run: RunContext, record: ArtifactUsed, now: float) -> None:
    """Record the run as a consumer of the version (ignored when that version is unknown
    here, e.g. logged to another store)."""
    rows = db.execute(
        "SELECT v.id FROM artifact_versions v "
        "JOIN artifact_collections c ON c.id = v.collection_id "
        "JOIN projects p ON p.id = c.project_id "
        "WHERE p.entity = :entity AND p.name = :project AND c.name = :name AND v.digest = :d",
        {
            "entity": record.entity,
            "project": record.project,
            "name": record.name,
            "d": record.digest,
        },
    )
    if not rows:
        return
    db.execute(
        "INSERT INTO artifact_usage (version_id, run_pk, used_at) VALUES (:v, :run, :now) "
        "ON CONFLICT (version_id, run_pk) DO NOTHING",
        {"v": int(rows[0][0]), "run": run.run_pk, "now": now},
    )


register(ArtifactLogged, apply_artifact_logged)
register(ArtifactUsed, apply_artifact_used)
