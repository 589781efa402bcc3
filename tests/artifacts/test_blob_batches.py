"""Batched blob transfers against a real ``kiseki server`` (SQLite and PostgreSQL): many
small blobs per request up and down, verified frame by frame, private per reader."""

from __future__ import annotations

import hashlib
import http.client
import urllib.parse
from pathlib import Path

import pytest
from artifact_world import ArtifactServer, read_tree, use_server, write_files

import kiseki
from kiseki.blobs import LocalBlobStore
from kiseki.blobs.frames import frame_header
from kiseki.blobs.remote import RemoteBlobClient, batches
from kiseki.errors import NotFoundError

pytestmark = pytest.mark.slow


def post_frames(server: ArtifactServer, key: str | None, body: bytes) -> tuple[int, str]:
    """POST ``body`` to ``/api/v1/blobs/batch``; the status and the response text."""
    parsed = urllib.parse.urlsplit(server.url)
    connection = http.client.HTTPConnection(parsed.hostname or "", parsed.port, timeout=30)
    headers = {"Content-Type": "application/x-kiseki-blob-frames"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    try:
        connection.request("POST", "/api/v1/blobs/batch", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def frame(content: bytes, digest: str | None = None) -> bytes:
    """One frame holding ``content`` under ``digest`` (default: its own digest)."""
    return frame_header(digest or hashlib.sha256(content).hexdigest(), len(content)) + content


def stored_on(server: ArtifactServer) -> set[str]:
    """The digests of the blob files in the server's blob directory."""
    return {
        p.parent.name + p.name
        for p in (server.blobs / "sha256").rglob("*")
        if p.is_file() and len(p.name) == 62
    }


def test_batches_respect_the_count_and_byte_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kiseki.blobs.remote.BATCH_MAX_BLOBS", 3)
    monkeypatch.setattr("kiseki.blobs.remote.BATCH_MAX_BYTES", 100)
    blobs = [(f"{i:064x}", size) for i, size in enumerate([10, 10, 10, 10, 90, 200, 5])]
    assert [[size for _d, size in batch] for batch in batches(blobs)] == [
        [10, 10, 10],
        [10, 90],
        [200],
        [5],
    ]


def test_small_blobs_go_up_and_down_in_batches(
    artifact_server: ArtifactServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("kiseki.blobs.remote.BATCH_MAX_BLOBS", 7)  # several batches
    requests: list[str] = []
    exchange = RemoteBlobClient._exchange

    def counting(self: RemoteBlobClient, method: str, path: str, *args: object) -> object:
        requests.append(f"{method} {path.rsplit('/', 1)[-1][:8]}")
        return exchange(self, method, path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(RemoteBlobClient, "_exchange", counting)
    use_server(monkeypatch, artifact_server.url, artifact_server.keys["alice"])
    files: dict[str, str | bytes] = {f"d{i % 3}/f{i:02d}.txt": f"file {i}" for i in range(30)}
    files["copy/f00.txt"] = "file 0"  # one blob at two paths
    files["big.bin"] = bytes(range(256)) * 8192  # 2 MiB: streamed on its own
    write_files(tmp_path / "src", files)
    run = kiseki.init(project="proj")
    artifact = kiseki.Artifact("many", type="dataset")
    artifact.add_dir(tmp_path / "src")
    run.log_artifact(artifact)
    run.finish()
    assert requests.count("POST batch") >= 5  # 30 small blobs, 7 a request (+ the run's own)
    puts = [r for r in requests if r.startswith("PUT")]
    assert puts == ["PUT " + hashlib.sha256(files["big.bin"]).hexdigest()[:8]]  # only the big one

    requests.clear()
    root = Path(kiseki.Api().artifact("proj/many:latest").download(tmp_path / "out"))
    assert read_tree(root) == {k: v.encode() if isinstance(v, str) else v for k, v in files.items()}
    assert requests.count("POST fetch") == 5  # 31 files, 30 distinct small blobs
    gets = [r for r in requests if r.startswith("GET")]
    assert gets == ["GET " + hashlib.sha256(files["big.bin"]).hexdigest()[:8]]


def test_a_damaged_frame_is_refused_and_nothing_of_it_is_kept(
    artifact_server: ArtifactServer,
) -> None:
    key = artifact_server.keys["alice"]
    good, bad, after = b"first good blob", b"damaged blob", b"after the damage"
    wrong = hashlib.sha256(b"what the client meant to send").hexdigest()
    status, text = post_frames(artifact_server, key, frame(good) + frame(bad, wrong) + frame(after))
    assert status == 400 and "hash to" in text and wrong in text
    stored = stored_on(artifact_server)
    assert hashlib.sha256(good).hexdigest() in stored  # each blob is stored on its own
    assert wrong not in stored and hashlib.sha256(bad).hexdigest() not in stored
    assert hashlib.sha256(after).hexdigest() not in stored
    leftovers = [p for p in artifact_server.blobs.rglob(".upload-*")]
    assert leftovers == []

    truncated = frame(b"cut short")[:-3]
    status, text = post_frames(artifact_server, key, truncated)
    assert status == 400 and "ended 3 bytes before" in text
    assert hashlib.sha256(b"cut short").hexdigest() not in stored_on(artifact_server)

    not_a_digest = frame_header("Z" * 64, 1) + b"x"
    status, text = post_frames(artifact_server, key, not_a_digest)
    assert status == 400 and "not a SHA-256 digest" in text

    status, text = post_frames(artifact_server, None, frame(b"anonymous"))
    assert status == 401 and "Sign in" in text

    status, text = post_frames(artifact_server, key, frame(good) + frame(b"new one"))
    assert status == 201 and '"present"' in text
    assert hashlib.sha256(b"new one").hexdigest() in stored_on(artifact_server)


def test_a_batch_fetch_returns_only_blobs_the_reader_may_read(
    artifact_server: ArtifactServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_server(monkeypatch, artifact_server.url, artifact_server.keys["alice"])
    write_files(tmp_path / "secret", {"a.txt": "alice secret", "b.txt": "alice other"})
    run = kiseki.init(project="proj")
    artifact = kiseki.Artifact("private", type="dataset")
    artifact.add_dir(tmp_path / "secret")
    run.log_artifact(artifact)
    run.finish()
    use_server(monkeypatch, artifact_server.url, artifact_server.keys["bob"])
    write_files(tmp_path / "own", {"mine.txt": "bob's own"})
    run = kiseki.init(project="bobs")
    artifact = kiseki.Artifact("own", type="dataset")
    artifact.add_dir(tmp_path / "own")
    run.log_artifact(artifact)
    run.finish()

    secret, other, own = (
        hashlib.sha256(c).hexdigest() for c in (b"alice secret", b"alice other", b"bob's own")
    )
    out = tmp_path / "fetched"

    def wanted(*digests: str) -> dict[str, list[Path]]:
        return {d: [out / d[:8]] for d in digests}

    bob = RemoteBlobClient(artifact_server.url, artifact_server.keys["bob"])
    with pytest.raises(NotFoundError, match=secret):
        bob.fetch_batch([own, secret], wanted(own, secret))
    assert not out.exists() or list(out.iterdir()) == []  # all or nothing
    bob.fetch_batch([own], wanted(own))
    assert (out / own[:8]).read_bytes() == b"bob's own"
    bob.close()
    anonymous = RemoteBlobClient(artifact_server.url, None)
    with pytest.raises(NotFoundError):
        anonymous.fetch_batch([other], wanted(other))
    anonymous.close()
    alice = RemoteBlobClient(artifact_server.url, artifact_server.keys["alice"])
    alice.fetch_batch([secret, other], wanted(secret, other))
    assert (out / other[:8]).read_bytes() == b"alice other"
    alice.close()


def test_blobs_the_local_store_lacks_are_reported_not_sent(
    artifact_server: ArtifactServer, tmp_path: Path
) -> None:
    local = LocalBlobStore(tmp_path / "blobs")
    present = local.put_bytes(b"here")
    gone = local.put_bytes(b"gone")
    local.delete(gone)
    client = RemoteBlobClient(artifact_server.url, artifact_server.keys["alice"])
    report = client.upload_missing([present, gone], local)
    assert (report.sent, report.bytes_sent, report.unavailable) == (1, 4, [gone])
    assert client.missing([present, gone]) == [gone]
    client.close()
