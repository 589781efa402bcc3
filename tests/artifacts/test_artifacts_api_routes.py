"""The artifact and blob routes of the server app, in process: validation, limits, privacy,
alias moves (the live-server tests cover the SDK's use of them)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from artifact_world import make_world, run_records

from kiseki.runlog.records import ArtifactLogged, ArtifactUsed
from kiseki.server.config import Limits


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Any]:
    """The app with a blob limit of 64 bytes, users and a team."""
    yield from make_world(str(tmp_path / "server.db"), limits=Limits(max_blob_bytes=64))


def put_blob(world: Any, user: str | None, content: bytes, digest: str | None = None) -> Any:
    digest = digest or hashlib.sha256(content).hexdigest()
    return world.client.put(f"/api/v1/blobs/{digest}", content=content, headers=world.auth(user))


def logged(seq: int, content: bytes, aliases: list[str], path: str = "f.txt") -> ArtifactLogged:
    digest = hashlib.sha256(content).hexdigest()
    manifest = [{"path": path, "digest": digest, "size": len(content), "ref": None}]
    return ArtifactLogged(
        seq, "ds", "dataset", hashlib.sha256(digest.encode()).hexdigest(), manifest, aliases
    )


def test_blob_uploads_are_verified_limited_and_need_a_user(world: Any) -> None:
    answer = put_blob(world, "alice", b"hello")
    assert answer.status_code == 201 and answer.json()["stored"] is True
    assert put_blob(world, "alice", b"hello").json()["stored"] is False
    wrong = put_blob(world, "alice", b"hello", hashlib.sha256(b"other").hexdigest())
    assert wrong.status_code == 400 and "hash to" in wrong.json()["error"]
    big = put_blob(world, "alice", b"x" * 65)
    assert big.status_code == 413 and "limit of 64 bytes" in big.json()["error"]
    assert put_blob(world, None, b"anonymous").status_code == 401
    assert world.client.put("/api/v1/blobs/not-a-digest", content=b"x").status_code == 422
    head = world.client.head(
        f"/api/v1/blobs/{hashlib.sha256(b'hello').hexdigest()}", headers=world.auth("alice")
    )
    assert head.status_code == 200 and head.headers["content-length"] == "5"
    missing = world.client.post(
        "/api/v1/blobs/missing",
        json={"digests": [hashlib.sha256(b"hello").hexdigest(), "0" * 64]},
        headers=world.auth("alice"),
    )
    assert missing.json() == {"missing": ["0" * 64]}


def test_records_with_escaping_paths_are_refused_whole(world: Any) -> None:
    records = run_records("r1", rows=0)
    bad = logged(2, b"x", [], path="../../etc/passwd")
    answer = world.post("alice", "alice/mnist/r1", [*records, bad])
    assert answer.status_code == 400 and "leaves the artifact" in answer.json()["error"]
    assert world.get("alice", "artifacts/alice/mnist/ds/latest").status_code == 404


def test_versions_aliases_lineage_and_privacy_over_the_api(world: Any) -> None:
    put_blob(world, "alice", b"one")
    put_blob(world, "alice", b"two")
    records = [*run_records("r1", rows=0), logged(2, b"one", ["best"]), logged(3, b"two", [])]
    assert world.post("alice", "alice/mnist/r1", records).status_code == 200
    use = ArtifactUsed(2, "alice", "mnist", "ds", logged(0, b"one", []).digest)
    assert (
        world.post("alice", "alice/mnist/r2", [*run_records("r2", rows=0)[:1], use]).status_code
        == 200
    )

    versions = world.get("alice", "artifacts/alice/mnist/versions", name="ds").json()["versions"]
    assert [(v["version"], v["aliases"]) for v in versions] == [
        ("v0", ["best"]),
        ("v1", ["latest"]),
    ]
    assert world.get("alice", "artifacts/alice/mnist/types").json() == {"types": ["dataset"]}
    lineage = world.get("alice", "artifacts/alice/mnist/ds/best/lineage").json()
    assert lineage["logged_by"]["run_id"] == "r1"
    assert [r["run_id"] for r in lineage["used_by"]] == ["r2"]
    outputs = world.get("alice", "runs/alice/mnist/r2/artifacts").json()
    assert outputs["logged"] == [] and [v["version"] for v in outputs["used"]] == ["v0"]
    manifest = world.get("alice", "artifacts/alice/mnist/ds/v1/manifest").json()["entries"]
    assert [e["path"] for e in manifest] == ["f.txt"]

    moved = world.client.put(
        "/api/v1/artifacts/alice/mnist/ds/v1/aliases",
        json={"aliases": ["best"]},
        headers=world.auth("alice"),
    )
    assert moved.status_code == 200 and moved.json()["aliases"] == ["latest", "best"]
    assert world.get("alice", "artifacts/alice/mnist/ds/best").json()["version"] == "v1"
    refused = world.client.put(
        "/api/v1/artifacts/alice/mnist/ds/v0/aliases",
        json={"aliases": ["latest"]},
        headers=world.auth("alice"),
    )
    assert refused.status_code == 400

    # bob sees neither the private project's artifacts nor their blobs
    assert world.get("bob", "artifacts/alice/mnist/ds/latest").status_code == 404
    assert world.get("bob", f"blobs/{hashlib.sha256(b'one').hexdigest()}").status_code == 404
    assert world.get("alice", f"blobs/{hashlib.sha256(b'one').hexdigest()}").content == b"one"
    stolen = world.client.put(
        "/api/v1/artifacts/alice/mnist/ds/v0/aliases",
        json={"aliases": ["mine"]},
        headers=world.auth("bob"),
    )
    assert stolen.status_code == 404

    # once alice makes the project public, its artifacts are visible to everyone
    public = world.client.put(
        "/api/v1/projects/alice/mnist", json={"visibility": "public"}, headers=world.auth("alice")
    )
    assert public.status_code == 200, public.text
    assert world.get("bob", "artifacts/alice/mnist/ds/latest").json()["version"] == "v1"
    assert world.get(None, f"blobs/{hashlib.sha256(b'one').hexdigest()}").content == b"one"
