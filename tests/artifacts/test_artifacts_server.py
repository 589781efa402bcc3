"""Artifacts against a real ``kiseki server`` (SQLite and PostgreSQL): upload, versions,
aliases, download, lineage, privacy, resumable and verified uploads, offline sync."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from artifact_world import ArtifactServer, read_tree, use_server, write_files
from click.testing import CliRunner

import kiseki
from kiseki.blobs import BlobCorruptError, LocalBlobStore
from kiseki.blobs.remote import RemoteBlobClient
from kiseki.cli.main import cli
from kiseki.errors import ApiError, AuthError, NotFoundError

pytestmark = pytest.mark.slow


def dataset(root: Path, files: dict[str, str | bytes], aliases: list[str] | None = None) -> str:
    """Log ``files`` as artifact ``ds`` of project ``proj`` from a new run; its id."""
    write_files(root, files)
    run = kiseki.init(project="proj")
    artifact = kiseki.Artifact("ds", type="dataset", metadata={"rows": len(files)})
    artifact.add_dir(root)
    run.log_artifact(artifact, aliases=aliases)
    run.finish()
    return run.id


def server_blob_path(blobs: Path, content: bytes) -> Path:
    digest = hashlib.sha256(content).hexdigest()
    return blobs / "sha256" / digest[:2] / digest[2:]


def test_versions_aliases_download_and_lineage_through_the_server(
    artifact_server: ArtifactServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_server(monkeypatch, artifact_server.url, artifact_server.keys["alice"])
    first = dataset(tmp_path / "one", {"a.txt": "alpha", "sub/b.txt": "beta"}, ["best"])
    second = dataset(tmp_path / "two", {"a.txt": "alpha", "sub/b.txt": "beta"})  # same content
    third = dataset(tmp_path / "three", {"a.txt": "alpha", "sub/b.txt": "BETA"}, ["best"])

    api = kiseki.Api()
    versions = api.artifacts("dataset", "proj/ds")
    assert [(v.version, v.aliases) for v in versions] == [("v0", []), ("v1", ["latest", "best"])]
    assert versions[1].metadata == {"rows": 2} and versions[1].size == 9
    assert api.artifact_types("proj") == ["dataset"]
    ours = [server_blob_path(artifact_server.blobs, c) for c in (b"alpha", b"beta", b"BETA")]
    assert all(path.is_file() for path in ours)  # each content once, whichever versions hold it

    consumer = kiseki.init(project="proj")
    used = consumer.use_artifact("ds:v0", type="dataset")
    root = Path(used.download(tmp_path / "download"))
    assert read_tree(root) == {"a.txt": b"alpha", "sub/b.txt": b"beta"}
    used.verify(root)
    consumer.finish()

    v0 = api.artifact("proj/ds:v0")
    assert v0.logged_by().id == first
    assert [run.id for run in v0.used_by()] == [consumer.id]
    assert [a.version for a in api.run(f"proj/{consumer.id}").used_artifacts()] == ["v0"]
    assert [a.version for a in api.run(f"proj/{first}").logged_artifacts()] == ["v0"]
    assert api.run(f"proj/{second}").logged_artifacts() == []
    assert [a.version for a in api.run(f"proj/{third}").logged_artifacts()] == ["v1"]

    # a blob damaged on the server is caught by the client's digest check
    server_blob_path(artifact_server.blobs, b"beta").write_bytes(b"bent")
    (root / "sub" / "b.txt").unlink()
    with pytest.raises(BlobCorruptError, match="damaged"):
        api.artifact("proj/ds:v0").download(root)
    assert not (root / "sub" / "b.txt").exists()


def test_private_artifacts_follow_their_project(
    artifact_server: ArtifactServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_server(monkeypatch, artifact_server.url, artifact_server.keys["alice"])
    dataset(tmp_path / "files", {"secret.txt": "s3cr3t"})
    bob = kiseki.Api(base_url=artifact_server.url, api_key=artifact_server.keys["bob"])
    with pytest.raises(NotFoundError):
        bob.artifact("alice/proj/ds:latest")
    client = RemoteBlobClient(artifact_server.url, artifact_server.keys["bob"])
    with pytest.raises(NotFoundError):
        client.download_to(hashlib.sha256(b"s3cr3t").hexdigest(), tmp_path / "stolen")
    client.close()
    alice = kiseki.Api()
    assert alice.artifact("proj/ds:latest").version == "v0"


def test_blob_uploads_are_verified_resumable_and_need_a_user(
    artifact_server: ArtifactServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = LocalBlobStore(tmp_path / "blobs")
    digests = [local.put_bytes(b"one"), local.put_bytes(b"two")]
    client = RemoteBlobClient(artifact_server.url, artifact_server.keys["alice"])
    assert sorted(client.missing(digests)) == sorted(digests)
    assert client.upload_missing(digests[:1], local).sent == 1  # interrupted after one
    report = client.upload_missing(digests, local)  # resumed: only the other one is sent
    assert (report.sent, report.unavailable) == (1, [])
    assert client.missing(digests) == [] and client.has(digests[0])

    # a long upload reports progress (the sink sends heartbeats from it)
    monkeypatch.setattr("kiseki.blobs.remote.PROGRESS_INTERVAL_S", 0.0)
    calls: list[int] = []
    big = local.put_bytes(b"z" * 3_000_000)
    client.upload_missing([big], local, lambda: calls.append(1))
    assert calls and client.has(big)

    wrong = hashlib.sha256(b"something else").hexdigest()
    local.path(digests[0]).rename(local.path(digests[0]).with_name("x"))
    target = local.path(wrong)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"not it")
    with pytest.raises(ApiError, match="hash to"):
        client.upload(wrong, local)
    assert not client.has(wrong)
    client.close()

    anonymous = RemoteBlobClient(artifact_server.url, None)
    with pytest.raises(AuthError, match="Sign in"):
        anonymous.missing(digests)
    anonymous.close()


def test_an_offline_run_uploads_its_artifact_when_synced(
    artifact_server: ArtifactServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_server(monkeypatch, artifact_server.url, artifact_server.keys["alice"])
    monkeypatch.setenv("KISEKI_MODE", "offline")
    dataset(tmp_path / "files", {"model.bin": bytes(range(256)) * 100})
    api = kiseki.Api()
    with pytest.raises(NotFoundError):
        api.artifact("proj/ds:latest")
    monkeypatch.delenv("KISEKI_MODE")
    result = CliRunner().invoke(cli, ["sync"])
    assert result.exit_code == 0, result.output
    root = Path(api.artifact("proj/ds:latest").download(tmp_path / "out"))
    assert read_tree(root) == {"model.bin": bytes(range(256)) * 100}
