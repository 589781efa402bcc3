"""Artifacts logged and used by the official client, mapped onto kiseki's artifact records.

Logging is a conversation: ``createArtifact`` opens a pending artifact, ``createArtifactFiles``
hands out signed upload URLs for its files, ``createArtifactManifest`` one for the client's
manifest, and ``commitArtifact`` turns what arrived into one
:class:`~kiseki.runlog.records.ArtifactLogged` record (file bytes in the blob store by SHA-256;
kiseki's store creates the version or finds the one with the same content, and moves the
aliases). Pending artifacts are kept in a directory all workers of the server share
(:mod:`kiseki.wandb_compat.shared_state`) until committed.
``useArtifact`` becomes an :class:`~kiseki.runlog.records.ArtifactUsed` record.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiseki import jsoncodec
from kiseki.artifacts.manifest import ArtifactEntry, manifest_digest
from kiseki.errors import NotFoundError, UsageError
from kiseki.runlog.records import ArtifactLogged, ArtifactUsed
from kiseki.store.applier import RunKey
from kiseki.store.artifact_queries import ArtifactVersionRecord
from kiseki.wandb_compat.read_api import iso_time
from kiseki.wandb_compat.shared_state import remove_older_than, write_atomically

PENDING_LIFETIME_S = 24 * 3600.0
"""How long an artifact may stay uncommitted before it is forgotten."""


def version_node_id(version_id: int) -> str:
    """The client's id of a stored artifact version."""
    return base64.b64encode(f"Artifact:{version_id}".encode()).decode()


def version_id_of(node_id: str) -> int | None:
    """The version a :func:`version_node_id` names (``None`` for another id)."""
    try:
        kind, _, number = base64.b64decode(node_id.encode()).decode().partition(":")
    except ValueError:
        return None
    return int(number) if kind == "Artifact" and number.isdigit() else None


@dataclass
class PendingArtifact:
    """An artifact the client is uploading."""

    id: str
    key: RunKey
    name: str
    type: str
    aliases: list[str]
    description: str | None
    metadata: dict[str, Any]
    created_at: float
    files: dict[str, tuple[str, int]] = field(default_factory=dict)
    manifest: dict[str, Any] | None = None
    committed_version: int | None = None


class PendingArtifacts:
    """The artifacts being uploaded, kept under a directory all server workers share (one
    sub-directory per artifact: ``artifact.json``, ``manifest.json``, ``committed.json`` and
    ``files/<n>.json``), so any worker can take any of the client's requests."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, artifact_id: str) -> Path:
        return self.root / hashlib.sha256(artifact_id.encode()).hexdigest()[:40]

    def open(self, key: RunKey, data: dict[str, Any]) -> PendingArtifact:
        """Start a pending artifact from ``createArtifact``'s input."""
        name = data.get("artifactCollectionName")
        if not isinstance(name, str) or not name:
            raise UsageError("createArtifact needs input.artifactCollectionName.")
        aliases = [
            str(a.get("alias"))
            for a in data.get("aliases") or []
            if isinstance(a, dict) and a.get("alias")
        ]
        metadata = data.get("metadata")
        if isinstance(metadata, str):
            metadata = jsoncodec.loads(metadata) if metadata else {}
        raw_id = f"Artifact:pending-{secrets.token_hex(12)}"
        pending = PendingArtifact(
            id=base64.b64encode(raw_id.encode()).decode(),
            key=key,
            name=name,
            type=str(data.get("artifactTypeName") or "unspecified"),
            aliases=aliases,
            description=data.get("description"),
            metadata=dict(metadata or {}),
            created_at=time.time(),
        )
        remove_older_than(self.root, PENDING_LIFETIME_S)
        head = {
            "id": pending.id,
            "key": [key.entity, key.project, key.run_id],
            "name": pending.name,
            "type": pending.type,
            "aliases": pending.aliases,
            "description": pending.description,
            "metadata": pending.metadata,
            "created_at": pending.created_at,
        }
        write_atomically(self._dir(pending.id) / "artifact.json", jsoncodec.dumps(head).encode())
        return pending

    def get(self, artifact_id: str) -> PendingArtifact:
        """The pending artifact ``artifact_id``; :class:`NotFoundError` when unknown."""
        folder = self._dir(artifact_id)
        try:
            head = jsoncodec.loads((folder / "artifact.json").read_bytes())
        except FileNotFoundError:
            raise NotFoundError(
                f"No artifact {artifact_id!r} is being uploaded to this server: "
                "log the artifact again."
            ) from None
        pending = PendingArtifact(
            id=head["id"],
            key=RunKey(*head["key"]),
            name=head["name"],
            type=head["type"],
            aliases=list(head["aliases"]),
            description=head["description"],
            metadata=dict(head["metadata"]),
            created_at=float(head["created_at"]),
        )
        for path in sorted((folder / "files").glob("*.json")):
            entry = jsoncodec.loads(path.read_bytes())
            pending.files[entry["name"]] = (entry["digest"], int(entry["size"]))
        manifest = folder / "manifest.json"
        if manifest.exists():
            pending.manifest = jsoncodec.loads(manifest.read_bytes())
        committed = folder / "committed.json"
        if committed.exists():
            pending.committed_version = int(jsoncodec.loads(committed.read_bytes()))
        return pending

    def add_file(self, artifact_id: str, name: str, digest: str, size: int) -> None:
        """Record an uploaded file of a pending artifact."""
        self.get(artifact_id)
        entry = {"name": name, "digest": digest, "size": size}
        file_key = hashlib.sha256(name.encode()).hexdigest()
        target = self._dir(artifact_id) / "files" / f"{file_key}.json"
        write_atomically(target, jsoncodec.dumps(entry).encode())

    def set_manifest(self, artifact_id: str, manifest: dict[str, Any]) -> None:
        """Record the client's manifest of a pending artifact."""
        self.get(artifact_id)
        target = self._dir(artifact_id) / "manifest.json"
        write_atomically(target, jsoncodec.dumps(manifest).encode())

    def set_committed(self, artifact_id: str, version_id: int) -> None:
        """Record the stored version a pending artifact became (a repeated commit answers it)."""
        target = self._dir(artifact_id) / "committed.json"
        write_atomically(target, jsoncodec.dumps(version_id).encode())


def logged_record(pending: PendingArtifact, seq: int) -> ArtifactLogged:
    """The :class:`ArtifactLogged` record of a complete pending artifact; a
    :class:`UsageError` names a file whose bytes never arrived."""
    if pending.manifest is None:
        raise UsageError(f"Artifact {pending.name}: its manifest was not uploaded; log it again.")
    entries: list[ArtifactEntry] = []
    for path, entry in sorted((pending.manifest.get("contents") or {}).items()):
        ref = entry.get("ref")
        if ref:
            entries.append(
                ArtifactEntry(path, str(entry.get("digest")), int(entry.get("size") or 0), ref)
            )
            continue
        uploaded = pending.files.get(path)
        if uploaded is None:
            raise UsageError(
                f"Artifact {pending.name}: the bytes of {path!r} were not uploaded; log it again."
            )
        entries.append(ArtifactEntry(path, uploaded[0], uploaded[1]))
    return ArtifactLogged(
        seq,
        pending.name,
        pending.type,
        manifest_digest(entries),
        [e.to_json() for e in entries],
        aliases=[a for a in pending.aliases if a != "latest"],
        description=pending.description,
        metadata=pending.metadata,
        created_at=pending.created_at,
    )


def used_record(version: ArtifactVersionRecord, seq: int) -> ArtifactUsed:
    """The :class:`ArtifactUsed` record of using ``version``."""
    return ArtifactUsed(seq, version.entity, version.project, version.name, version.digest)


def split_name(name: str) -> tuple[str, str]:
    """``"dataset:v3"`` -> ``("dataset", "v3")``; no alias means ``latest``."""
    base, _, alias = name.partition(":")
    return base, alias or "latest"


def artifact_node(
    version: ArtifactVersionRecord,
    manifest_url: str,
    files: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    """A stored artifact version as the client reads it; ``files`` answers its paged file
    connection (names and signed download URLs)."""
    node_id = version_node_id(version.id)
    project = {
        "__typename": "Project",
        "id": f"{version.entity}/{version.project}",
        "internalId": f"{version.entity}/{version.project}",
        "name": version.project,
        "entityName": version.entity,
        "entity": {"id": version.entity, "name": version.entity},
    }
    collection = {
        "__typename": "ArtifactSequence",
        "id": f"{version.entity}/{version.project}/{version.name}",
        "name": version.name,
        "project": project,
        "latestArtifact": {"id": node_id, "versionIndex": version.version_index},
    }
    return {
        "__typename": "Artifact",
        "id": node_id,
        "name": f"{version.name}:v{version.version_index}",
        "versionIndex": version.version_index,
        "digest": version.digest,
        "description": version.description,
        "metadata": jsoncodec.dumps(version.metadata or {}),
        "state": "COMMITTED",
        "size": version.size,
        "fileCount": version.file_count,
        "commitHash": version.digest[:20],
        "createdAt": iso_time(version.created_at),
        "updatedAt": iso_time(version.created_at),
        "ttlDurationSeconds": -1,
        "ttlIsInherited": True,
        "tags": [],
        "historyStep": None,
        "aliases": [
            {
                "__typename": "ArtifactAlias",
                "id": f"{node_id}:{alias}",
                "alias": alias,
                "artifactCollectionName": version.name,
                "artifactCollection": collection,
            }
            for alias in version.aliases
        ],
        "artifactType": {"id": version.type, "name": version.type},
        "artifactSequence": collection,
        "artifactCollection": collection,
        "files": files,
        "currentManifest": {
            "id": node_id,
            "file": {"id": node_id, "directUrl": manifest_url, "url": manifest_url},
        },
    }


def membership_node(artifact: dict[str, Any]) -> dict[str, Any]:
    """An artifact version as a member of its collection (``artifactCollectionMembership``)."""
    return {
        "__typename": "ArtifactCollectionMembership",
        "id": artifact["id"],
        "versionIndex": artifact["versionIndex"],
        "createdAt": artifact["createdAt"],
        "aliases": artifact["aliases"],
        "artifactCollection": artifact["artifactCollection"],
        "artifact": artifact,
        "files": artifact["files"],
    }


def client_manifest(entries: list[dict[str, Any]], md5s: dict[str, str]) -> dict[str, Any]:
    """A stored version's files as the client's manifest (``wandb-storage-policy-v1``), with
    the base64 MD5 of each stored file (``md5s``: SHA-256 -> MD5) as the client expects."""
    contents: dict[str, Any] = {}
    for entry in entries:
        digest = entry["digest"] if entry.get("ref") else md5s[entry["digest"]]
        item: dict[str, Any] = {"digest": digest, "size": entry["size"]}
        if entry.get("ref"):
            item["ref"] = entry["ref"]
        contents[entry["path"]] = item
    return {
        "version": 1,
        "storagePolicy": "wandb-storage-policy-v1",
        "storagePolicyConfig": {"storageLayout": "V2"},
        "contents": contents,
    }
