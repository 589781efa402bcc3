"""What ``run.log_artifact`` and ``run.use_artifact`` do.

Logging stores every added file in the local blob store (``<KISEKI_DIR>/blobs``) first, then
submits one ``ArtifactLogged`` record; the version appears when the store applies it (the
embedded store at once, a server after the sink uploaded the blobs). Using resolves the
reference synchronously (the embedded store, or the server's REST API), submits an
``ArtifactUsed`` record and returns the stored version.
"""

from __future__ import annotations

import time
from typing import Any

from kiseki.artifacts.artifact import Artifact
from kiseki.artifacts.names import check_alias, parse_artifact_ref
from kiseki.artifacts.sources import ArtifactSource
from kiseki.errors import NotFoundError, UsageError
from kiseki.runlog.records import ArtifactLogged, ArtifactUsed


def checked_aliases(aliases: Any) -> list[str]:
    """``aliases`` as a list of valid aliases (a single string is one alias)."""
    if aliases is None:
        return []
    if isinstance(aliases, str):
        aliases = [aliases]
    if not isinstance(aliases, list | tuple):
        raise UsageError(f"aliases must be a list of strings, not {type(aliases).__name__}.")
    return list(dict.fromkeys(check_alias(alias) for alias in aliases))


def log_artifact(
    settings: Any, submit: Any, entity: str, project: str, artifact: Any, aliases: Any
) -> Artifact:
    """Store the artifact's files locally and submit its record; returns the artifact."""
    if isinstance(artifact, str):
        raise UsageError(
            "log_artifact() takes a kiseki.Artifact: build one with "
            "kiseki.Artifact(name, type) and add files to it."
        )
    if not isinstance(artifact, Artifact):
        raise UsageError(f"log_artifact() takes a kiseki.Artifact, not {type(artifact).__name__}.")
    names = checked_aliases(aliases)
    if not artifact.manifest:
        raise UsageError(f"Artifact {artifact.name!r} is empty: add files before logging it.")
    if settings is not None and settings.mode != "disabled":
        from kiseki.blobs import local_blob_store

        artifact._store_blobs(local_blob_store(settings.kiseki_dir))
        submit(
            ArtifactLogged(
                seq=0,
                name=artifact.name,
                artifact_type=artifact.type,
                digest=artifact.digest,
                manifest=artifact.manifest,
                aliases=names,
                description=artifact.description,
                metadata=dict(artifact.metadata),
                created_at=time.time(),
            )
        )
    artifact._mark_logged(entity, project, names)
    if settings is None or settings.mode in ("offline", "disabled"):
        mode = "disabled" if settings is None else settings.mode
        artifact._unwaitable = (
            f"This run is {mode}, so artifact {artifact.name!r} gets its version only when "
            "the run is synced (kiseki sync): wait() works for online runs."
        )
    else:
        artifact._lookup = stored_version_lookup(
            settings, entity, project, artifact.name, artifact.digest
        )
    return artifact


def stored_version_lookup(settings: Any, entity: str, project: str, name: str, digest: str) -> Any:
    """A function that returns ``(record, source)`` of the stored version of artifact
    ``name`` with content ``digest``, or ``None`` while the store does not hold it yet."""
    sources: list[ArtifactSource] = []

    def lookup() -> tuple[Any, ArtifactSource] | None:
        if not sources:
            sources.append(artifact_source(settings))
        source = sources[0]
        try:
            versions = source.versions(entity, project, name)
        except NotFoundError:  # the project or artifact is not there yet
            return None
        found = [record for record in versions if record.digest == digest]
        return (found[-1], source) if found else None

    return lookup


def artifact_source(settings: Any) -> ArtifactSource:
    """Where this run reads artifacts: the server when one is configured, else the embedded
    store."""
    if settings.mode == "offline" or settings.mode == "disabled":
        raise UsageError(
            f"use_artifact() needs the store, but this run is {settings.mode}: run online "
            "(KISEKI_MODE=online) to read artifacts."
        )
    if settings.remote:
        from kiseki.artifacts.sources import RemoteArtifactSource
        from kiseki.httpclient import HttpClient

        return RemoteArtifactSource(HttpClient(settings.base_url, settings.api_key, timeout=60))
    from kiseki.artifacts.sources import StoreArtifactSource
    from kiseki.blobs import local_blob_store
    from kiseki.store.database import StoreLocation, create_store_engine, ensure_schema
    from kiseki.store.queries import StoreQueries

    location = StoreLocation.in_dir(settings.kiseki_dir)
    ensure_schema(location)
    queries = StoreQueries(create_store_engine(location), settings.heartbeat_timeout)
    return StoreArtifactSource(queries, local_blob_store(settings.kiseki_dir))


def use_artifact(
    source: ArtifactSource, submit: Any, entity: str, project: str, ref: Any, type: str | None
) -> Artifact:
    """Resolve ``ref`` (``"name:alias"``, ``"project/name:v3"``, ``"entity/project/name:best"``
    or a stored :class:`Artifact`), record the run as its consumer, return the version."""
    if isinstance(ref, Artifact):
        if ref.version is None or ref.entity is None or ref.project is None:
            raise UsageError(
                f"Artifact {ref.name!r} is not stored yet: log it first, or pass 'name:alias'."
            )
        ref = f"{ref.entity}/{ref.project}/{ref.name}:{ref.version}"
    parsed = parse_artifact_ref(ref)
    owner, where = parsed.entity or entity, parsed.project or project
    record = source.resolve(owner, where, parsed.name, parsed.alias)
    if type is not None and record.type != type:
        raise UsageError(
            f"Artifact {owner}/{where}/{parsed.name} has type {record.type!r}, not {type!r}."
        )
    submit(ArtifactUsed(seq=0, entity=owner, project=where, name=record.name, digest=record.digest))
    return Artifact._from_record(record, source)
