"""The artifact root fields of ``POST /graphql``: logging (create, files, manifest, commit),
using and reading artifact versions. See :mod:`kiseki.wandb_compat.artifacts`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiseki.errors import NotFoundError, UsageError
from kiseki.server.api_ingest import require_writer
from kiseki.store.applier import RunKey
from kiseki.store.artifact_queries import ArtifactQueries, ArtifactVersionRecord
from kiseki.wandb_compat.artifacts import (
    PendingArtifacts,
    artifact_node,
    logged_record,
    membership_node,
    split_name,
    used_record,
    version_id_of,
    version_node_id,
)
from kiseki.wandb_compat.context import WandbContext

Resolver = Callable[[dict[str, Any]], Any]


def pending_artifacts(ctx: WandbContext) -> PendingArtifacts:
    """The app's registry of artifacts being uploaded."""
    registry: PendingArtifacts = ctx.app_state.wandb_artifacts
    return registry


def artifact_queries(ctx: WandbContext) -> ArtifactQueries:
    """Artifact reads on the app's store."""
    return ArtifactQueries(ctx.service.queries)


def _run_key(ctx: WandbContext, data: dict[str, Any]) -> RunKey:
    return RunKey(
        ctx.entity_or_default(data.get("entityName")),
        str(data.get("projectName") or "uncategorized"),
        str(data.get("runName") or ""),
    )


def _visible_version(ctx: WandbContext, version_id: int | None) -> ArtifactVersionRecord | None:
    if version_id is None:
        return None
    version = artifact_queries(ctx).by_id(version_id)
    if version is None:
        return None
    try:
        ctx.service.project(ctx.viewer, version.entity, version.project)
    except LookupError:
        return None
    return version


def manifest_url(ctx: WandbContext, version_id: int) -> str:
    """The signed URL of a stored version's manifest."""
    return ctx.signer.sign(ctx.base_url, "GET", f"/wandb-files/manifest/{version_id}")


def version_files(
    ctx: WandbContext, version: ArtifactVersionRecord
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The paged ``files`` connection of a version: names and signed download URLs."""

    def resolve(args: dict[str, Any]) -> dict[str, Any]:
        entries = [e for e in artifact_queries(ctx).manifest(version.id) if not e.get("ref")]
        names = args.get("names")
        if isinstance(names, list) and names:
            entries = [e for e in entries if e["path"] in names]
        first = args.get("first")
        limit = first if isinstance(first, int) and first > 0 else 5000
        after = args.get("after")
        offset = int(after) if isinstance(after, str) and after.isdigit() else 0
        page = entries[offset : offset + limit]
        edges = []
        for entry in page:
            url = ctx.signer.sign(ctx.base_url, "GET", f"/wandb-files/blob/{entry['digest']}")
            node = {
                "__typename": "File",
                "id": f"{version.id}/{entry['path']}",
                "name": entry["path"],
                "displayName": entry["path"],
                "directUrl": url,
                "url": url,
                "sizeBytes": entry["size"],
                "mimetype": "application/octet-stream",
                "digest": entry["digest"],
            }
            edges.append({"__typename": "FileEdge", "node": node})
        return {
            "__typename": "FileConnection",
            "edges": edges,
            "pageInfo": {
                "__typename": "PageInfo",
                "endCursor": str(offset + len(page)),
                "hasNextPage": offset + len(page) < len(entries),
            },
        }

    return resolve


def version_answer(ctx: WandbContext, version: ArtifactVersionRecord) -> dict[str, Any]:
    """A stored version as the client reads it."""
    return artifact_node(version, manifest_url(ctx, version.id), version_files(ctx, version))


def _membership(ctx: WandbContext, entity: str, project: str, name: str, alias: str) -> Any:
    try:
        ctx.service.project(ctx.viewer, entity, project)
        version = artifact_queries(ctx).resolve(entity, project, name, alias)
    except LookupError:
        return None
    return membership_node(version_answer(ctx, version))


def artifact_collection(ctx: WandbContext, entity: str, project: str) -> Resolver:
    """``project { artifactCollection(name) { artifactMembership(aliasName) } }``."""

    def resolve(args: dict[str, Any]) -> dict[str, Any] | None:
        name = args.get("name")
        if not isinstance(name, str):
            return None
        return {
            "__typename": "ArtifactSequence",
            "id": name,
            "name": name,
            "artifactMembership": lambda a: _membership(
                ctx, entity, project, name, str(a.get("aliasName") or "latest")
            ),
        }

    return resolve


def collection_membership(ctx: WandbContext, entity: str, project: str) -> Resolver:
    """``project { artifactCollectionMembership(name: "name:alias") }``."""

    def resolve(args: dict[str, Any]) -> Any:
        full = args.get("name")
        if not isinstance(full, str) or not full:
            return None
        name, alias = split_name(full)
        return _membership(ctx, entity, project, name, alias)

    return resolve


def create_artifact(ctx: WandbContext, request: Any) -> Resolver:
    """``createArtifact(input)``: open a pending artifact (the client uploads it next)."""

    def resolve(args: dict[str, Any]) -> dict[str, Any]:
        data = args.get("input") or {}
        key = _run_key(ctx, data)
        require_writer(request, ctx.require_user(), key)
        pending = pending_artifacts(ctx).open(key, data)
        return {
            "artifact": {
                "id": pending.id,
                "state": "PENDING",
                "digest": data.get("digest"),
                "artifactSequence": {"id": pending.name, "latestArtifact": None},
            }
        }

    return resolve


def create_artifact_manifest(ctx: WandbContext) -> Resolver:
    """``createArtifactManifest``/``updateArtifactManifest``: the manifest's upload URL."""

    def resolve(args: dict[str, Any]) -> dict[str, Any]:
        data = args.get("input") or {}
        ctx.require_user()
        artifact_id = str(data.get("artifactID") or data.get("artifactManifestID") or "")
        pending = pending_artifacts(ctx).get(artifact_id)
        path = f"/wandb-files/artifact/{pending.id}/manifest"
        url = ctx.signer.sign(ctx.base_url, "PUT", path)
        return {
            "artifactManifest": {
                "id": pending.id,
                "file": {
                    "id": pending.id,
                    "name": "wandb_manifest.json",
                    "displayName": "wandb_manifest.json",
                    "uploadUrl": url,
                    "uploadHeaders": [],
                },
            }
        }

    return resolve


def create_artifact_files(ctx: WandbContext) -> Resolver:
    """``createArtifactFiles``: one signed upload URL per file."""

    def resolve(args: dict[str, Any]) -> dict[str, Any]:
        data = args.get("input") or {}
        ctx.require_user()
        edges = []
        for spec in data.get("artifactFiles") or []:
            pending = pending_artifacts(ctx).get(str(spec.get("artifactID") or ""))
            name = str(spec.get("name") or "")
            path = f"/wandb-files/artifact/{pending.id}/file/{name}"
            edges.append(
                {
                    "node": {
                        "id": f"{pending.id}/{name}",
                        "name": name,
                        "displayName": name,
                        "uploadUrl": ctx.signer.sign(ctx.base_url, "PUT", path),
                        "uploadHeaders": [],
                        "uploadMultipartUrls": None,
                        "storagePath": f"{pending.id}/{name}",
                        "artifact": {"id": pending.id},
                    }
                }
            )
        return {"files": {"edges": edges}}

    return resolve


def commit_artifact(ctx: WandbContext, request: Any) -> Resolver:
    """``commitArtifact(input)``: the pending artifact becomes a kiseki artifact version."""

    def resolve(args: dict[str, Any]) -> dict[str, Any]:
        data = args.get("input") or {}
        viewer = ctx.require_user()
        pending = pending_artifacts(ctx).get(str(data.get("artifactID") or ""))
        require_writer(request, viewer, pending.key)
        if pending.committed_version is None:
            records: list[Any] = []

            def build(seq: int) -> list[Any]:
                records.append(logged_record(pending, seq))
                return records

            ctx.writer.append(pending.key, build)
            version = artifact_queries(ctx).resolve(
                pending.key.entity, pending.key.project, pending.name, "latest"
            )
            found = [
                v
                for v in artifact_queries(ctx).versions(
                    pending.key.entity, pending.key.project, pending.name
                )
                if v.digest == records[0].digest
            ]
            pending.committed_version = (found[0] if found else version).id
            pending_artifacts(ctx).set_committed(pending.id, pending.committed_version)
        return {
            "artifact": {
                "id": version_node_id(pending.committed_version),
                "digest": pending.id,
                "state": "COMMITTED",
            }
        }

    return resolve


def use_artifact(ctx: WandbContext, request: Any) -> Resolver:
    """``useArtifact(input)``: the run used an artifact version (lineage)."""

    def resolve(args: dict[str, Any]) -> dict[str, Any]:
        data = args.get("input") or {}
        key = _run_key(ctx, data)
        require_writer(request, ctx.require_user(), key)
        version = _visible_version(ctx, version_id_of(str(data.get("artifactID") or "")))
        if version is None:
            raise NotFoundError(f"No artifact {data.get('artifactID')!r} on this server.")
        ctx.writer.append(key, lambda seq: [used_record(version, seq)])
        return {"artifact": version_answer(ctx, version)}

    return resolve


def artifact_by_id(ctx: WandbContext) -> Resolver:
    """``artifact(id)``: a stored version by its id."""

    def resolve(args: dict[str, Any]) -> dict[str, Any] | None:
        version = _visible_version(ctx, version_id_of(str(args.get("id") or "")))
        return None if version is None else version_answer(ctx, version)

    return resolve


def project_artifact(ctx: WandbContext, entity: str, project: str) -> Resolver:
    """``project { artifact(name: "name:alias") }``."""

    def resolve(args: dict[str, Any]) -> dict[str, Any] | None:
        full = args.get("name")
        if not isinstance(full, str) or not full:
            raise UsageError("artifact(name:) needs 'name:alias', e.g. 'dataset:latest'.")
        name, alias = split_name(full)
        try:
            ctx.service.project(ctx.viewer, entity, project)
            version = artifact_queries(ctx).resolve(entity, project, name, alias)
        except LookupError:
            return None
        return version_answer(ctx, version)

    return resolve


def artifact_roots(ctx: WandbContext, request: Any) -> dict[str, Resolver]:
    """The artifact root fields."""
    manifest = create_artifact_manifest(ctx)
    return {
        "createArtifact": create_artifact(ctx, request),
        "createArtifactManifest": manifest,
        "updateArtifactManifest": manifest,
        "createArtifactFiles": create_artifact_files(ctx),
        "commitArtifact": commit_artifact(ctx, request),
        "useArtifact": use_artifact(ctx, request),
        "artifact": artifact_by_id(ctx),
    }
