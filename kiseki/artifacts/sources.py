"""Where logged artifacts are read from: the embedded store or a kiseki server.

Both sources answer the same questions (resolve ``name:alias``, list versions and types,
a version's manifest, lineage) and fetch a blob into a file, verified against its digest.
:class:`StoreArtifactSource` reads the store with SQLAlchemy and copies blobs from the local
blob store; :class:`RemoteArtifactSource` calls ``/api/v1/artifacts`` and
``/api/v1/blobs``.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any, Protocol

from kiseki.blobs.local import LocalBlobStore, copy_verified
from kiseki.errors import NotFoundError
from kiseki.store.artifact_queries import (
    ArtifactCollectionRecord,
    ArtifactQueries,
    ArtifactVersionRecord,
)
from kiseki.store.queries import RunRecord, StoreQueries

_DAMAGED_STORED_BLOB = "the stored blob is damaged; log the artifact again from its source files."


class ArtifactSource(Protocol):
    """What :class:`kiseki.Artifact` and the read API need from a store."""

    run_queries: Any
    """The run queries (``StoreQueries`` or the remote equivalent) for ``kiseki.api.Run``."""

    def resolve(self, entity: str, project: str, name: str, alias: str) -> ArtifactVersionRecord:
        """The version an alias names."""
        ...

    def versions(
        self, entity: str, project: str, name: str | None = None, artifact_type: str | None = None
    ) -> list[ArtifactVersionRecord]:
        """Versions, oldest first."""
        ...

    def collections(self, entity: str, project: str) -> list[ArtifactCollectionRecord]:
        """The artifacts of a project."""
        ...

    def types(self, entity: str, project: str) -> list[str]:
        """The artifact types of a project."""
        ...

    def manifest(self, record: ArtifactVersionRecord) -> list[dict[str, Any]]:
        """A version's entries."""
        ...

    def producer(self, record: ArtifactVersionRecord) -> RunRecord | None:
        """The run that logged a version."""
        ...

    def consumers(self, record: ArtifactVersionRecord) -> list[RunRecord]:
        """The runs that used a version."""
        ...

    def outputs(self, run: RunRecord) -> list[ArtifactVersionRecord]:
        """The versions a run logged."""
        ...

    def inputs(self, run: RunRecord) -> list[ArtifactVersionRecord]:
        """The versions a run used."""
        ...

    def fetch(self, digest: str, target: Path) -> None:
        """Write blob ``digest`` to ``target`` (verified; via a temporary file)."""
        ...

    def fetch_many(self, wanted: dict[str, list[Path]], sizes: dict[str, int]) -> None:
        """Write every blob of ``wanted`` (digest → files) to its files (verified; ``sizes``
        lets a server source batch the small ones)."""
        ...


class StoreArtifactSource:
    """Artifacts in a store reachable with SQLAlchemy, blobs in a local blob store."""

    def __init__(self, queries: StoreQueries, blobs: LocalBlobStore) -> None:
        self.run_queries = queries
        self.artifacts = ArtifactQueries(queries)
        self.blobs = blobs

    def resolve(self, entity: str, project: str, name: str, alias: str) -> ArtifactVersionRecord:
        """The version an alias names."""
        return self.artifacts.resolve(entity, project, name, alias)

    def versions(
        self, entity: str, project: str, name: str | None = None, artifact_type: str | None = None
    ) -> list[ArtifactVersionRecord]:
        """Versions, oldest first."""
        return self.artifacts.versions(entity, project, name, artifact_type)

    def collections(self, entity: str, project: str) -> list[ArtifactCollectionRecord]:
        """The artifacts of a project."""
        return self.artifacts.collections(entity, project)

    def types(self, entity: str, project: str) -> list[str]:
        """The artifact types of a project."""
        return self.artifacts.types(entity, project)

    def manifest(self, record: ArtifactVersionRecord) -> list[dict[str, Any]]:
        """A version's entries."""
        return self.artifacts.manifest(record.id)

    def producer(self, record: ArtifactVersionRecord) -> RunRecord | None:
        """The run that logged a version."""
        return None if record.run_pk is None else self.run_queries.run_by_pk(record.run_pk)

    def consumers(self, record: ArtifactVersionRecord) -> list[RunRecord]:
        """The runs that used a version."""
        found = (self.run_queries.run_by_pk(pk) for pk in self.artifacts.consumers(record.id))
        return [run for run in found if run is not None]

    def outputs(self, run: RunRecord) -> list[ArtifactVersionRecord]:
        """The versions a run logged."""
        return self.artifacts.logged_by_run(run.pk)

    def inputs(self, run: RunRecord) -> list[ArtifactVersionRecord]:
        """The versions a run used."""
        return self.artifacts.used_by_run(run.pk)

    def fetch(self, digest: str, target: Path) -> None:
        """Copy the blob from the local blob store (verified)."""
        try:
            stream = self.blobs.open(digest)
        except FileNotFoundError as exc:
            raise NotFoundError(
                f"The blob {digest} ({target.name}) is missing from {self.blobs.root}: it was "
                "deleted or never synced here."
            ) from exc
        with stream:
            copy_verified(stream, digest, target, _DAMAGED_STORED_BLOB)

    def fetch_many(self, wanted: dict[str, list[Path]], sizes: dict[str, int]) -> None:
        """Copy every blob of ``wanted`` to its files from the local blob store (verified)."""
        for digest, targets in wanted.items():
            for target in targets:
                self.fetch(digest, target)


def _quote(*parts: str) -> str:
    return "/".join(urllib.parse.quote(part, safe="") for part in parts)


def version_from_json(data: dict[str, Any]) -> ArtifactVersionRecord:
    """A version record from the server's JSON."""
    return ArtifactVersionRecord(
        id=0,
        entity=data["entity"],
        project=data["project"],
        name=data["name"],
        type=data["type"],
        version_index=int(data["version_index"]),
        digest=data["digest"],
        description=data.get("description"),
        metadata=data.get("metadata") or {},
        size=int(data["size"]),
        file_count=int(data["file_count"]),
        created_at=float(data["created_at"]),
        run_pk=None,
        aliases=list(data.get("aliases") or []),
    )


class RemoteArtifactSource:
    """Artifacts on a kiseki server (``/api/v1/artifacts``, ``/api/v1/blobs``)."""

    def __init__(self, client: Any, api_key: str | None = None) -> None:
        from kiseki.api.remote import RemoteQueries
        from kiseki.blobs.remote import RemoteBlobClient

        self.client = client
        self.run_queries = RemoteQueries(client)
        self.blob_client = RemoteBlobClient(client.base_url, api_key or client.api_key)

    def _get(self, path: str) -> Any:
        return self.client.request("GET", "/api/v1/artifacts/" + path).data

    def _version_path(self, record: ArtifactVersionRecord) -> str:
        return _quote(record.entity, record.project, record.name, record.version)

    def resolve(self, entity: str, project: str, name: str, alias: str) -> ArtifactVersionRecord:
        """The version an alias names."""
        return version_from_json(self._get(_quote(entity, project, name, alias)))

    def versions(
        self, entity: str, project: str, name: str | None = None, artifact_type: str | None = None
    ) -> list[ArtifactVersionRecord]:
        """Versions, oldest first."""
        query = {k: v for k, v in (("name", name), ("type", artifact_type)) if v is not None}
        suffix = ("?" + urllib.parse.urlencode(query)) if query else ""
        data = self._get(_quote(entity, project) + "/versions" + suffix)
        return [version_from_json(item) for item in data["versions"]]

    def collections(self, entity: str, project: str) -> list[ArtifactCollectionRecord]:
        """The artifacts of a project."""
        data = self._get(_quote(entity, project))
        return [
            ArtifactCollectionRecord(
                entity, project, c["name"], c["type"], int(c["version_count"]), c["updated_at"]
            )
            for c in data["artifacts"]
        ]

    def types(self, entity: str, project: str) -> list[str]:
        """The artifact types of a project."""
        return list(self._get(_quote(entity, project) + "/types")["types"])

    def manifest(self, record: ArtifactVersionRecord) -> list[dict[str, Any]]:
        """A version's entries."""
        return list(self._get(self._version_path(record) + "/manifest")["entries"])

    def _lineage(self, record: ArtifactVersionRecord) -> dict[str, Any]:
        data: dict[str, Any] = self._get(self._version_path(record) + "/lineage")
        return data

    def producer(self, record: ArtifactVersionRecord) -> RunRecord | None:
        """The run that logged a version."""
        from kiseki.api.remote import _run_record

        found = self._lineage(record).get("logged_by")
        return None if found is None else _run_record(found)

    def consumers(self, record: ArtifactVersionRecord) -> list[RunRecord]:
        """The runs that used a version."""
        from kiseki.api.remote import _run_record

        return [_run_record(item) for item in self._lineage(record).get("used_by", [])]

    def _run_artifacts(self, run: RunRecord) -> dict[str, Any]:
        path = "/api/v1/runs/" + _quote(run.entity, run.project, run.run_id) + "/artifacts"
        data: dict[str, Any] = self.client.request("GET", path).data
        return data

    def outputs(self, run: RunRecord) -> list[ArtifactVersionRecord]:
        """The versions a run logged."""
        return [version_from_json(item) for item in self._run_artifacts(run)["logged"]]

    def inputs(self, run: RunRecord) -> list[ArtifactVersionRecord]:
        """The versions a run used."""
        return [version_from_json(item) for item in self._run_artifacts(run)["used"]]

    def fetch(self, digest: str, target: Path) -> None:
        """Stream the blob from the server (verified)."""
        self.blob_client.download_to(digest, target)

    def fetch_many(self, wanted: dict[str, list[Path]], sizes: dict[str, int]) -> None:
        """Download every blob of ``wanted`` to its files (verified): the small ones in
        batched requests, the large ones streamed one by one."""
        self.blob_client.download_many(wanted, sizes)


def source_for(queries: Any) -> ArtifactSource:
    """The artifact source beside a run-query object: the server's when ``queries`` talks to
    one, else the store's, with the blob store next to its SQLite file (``<KISEKI_DIR>/blobs``;
    for PostgreSQL, that of the ``KISEKI_DIR`` setting)."""
    from kiseki.api.remote import RemoteQueries

    if isinstance(queries, RemoteQueries):
        return RemoteArtifactSource(queries.client)
    database = queries.engine.url.database if queries.dialect == "sqlite" else None
    if database:
        root = Path(database).parent
    else:
        from kiseki.settings import resolve_settings

        root = Path(resolve_settings({}).kiseki_dir)
    return StoreArtifactSource(queries, LocalBlobStore(root / "blobs"))
