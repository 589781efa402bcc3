"""The S3-compatible blob store, against a real S3 API on loopback (moto in server mode)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from artifact_world import LiveServer, create_users, free_port, read_tree, use_server, write_files
from moto.server import ThreadedMotoServer

import kiseki
from kiseki.blobs import BlobCorruptError, local_blob_store
from kiseki.blobs.s3 import S3BlobStore, open_blob_store
from kiseki.errors import ConfigError

pytestmark = pytest.mark.slow
BUCKET = "kiseki-blobs"


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto S3 server on a free loopback port with an empty bucket; AWS variables set."""

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


def test_the_s3_store_has_the_local_store_interface(s3_endpoint: str, tmp_path: Path) -> None:
    store = open_blob_store(f"s3://{BUCKET}/team", s3_endpoint, tmp_path / "unused")
    assert isinstance(store, S3BlobStore)
    digest = store.put_bytes(b"hello s3")
    assert digest == hashlib.sha256(b"hello s3").hexdigest()
    assert store.has(digest) and store.size(digest) == 8
    assert store.read_bytes(digest) == b"hello s3" and store.verify(digest)
    (tmp_path / "f.bin").write_bytes(b"file body")
    file_digest, size = store.put_file(tmp_path / "f.bin")
    assert size == 9 and sorted(store.digests()) == sorted([digest, file_digest])
    key = f"team/sha256/{digest[:2]}/{digest[2:]}"
    raw = boto3.client("s3", endpoint_url=s3_endpoint).get_object(Bucket=BUCKET, Key=key)
    assert raw["Body"].read() == b"hello s3"
    with pytest.raises(BlobCorruptError):
        store.put_stream(io.BytesIO(b"not it"), expected_digest=digest.replace("a", "b", 1))
    store.delete(digest)
    assert not store.has(digest)
    with pytest.raises(FileNotFoundError):
        store.open(digest)
    with pytest.raises(ConfigError, match="s3://bucket"):
        S3BlobStore("s3:///nobucket")


def test_a_server_keeps_artifacts_in_s3(
    s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = str(tmp_path / "server.db")
    keys = create_users(store, "alice")
    live = LiveServer(
        store,
        tmp_path,
        extra_args=["--blob-store", f"s3://{BUCKET}/prod", "--s3-endpoint-url", s3_endpoint],
    ).start()
    try:
        use_server(monkeypatch, live.url, keys["alice"])
        source = write_files(tmp_path / "model", {"w.bin": b"\x01" * 300_000, "cfg.json": "{}"})
        run = kiseki.init(project="s3")
        artifact = kiseki.Artifact("net", type="model")
        artifact.add_dir(source)
        run.log_artifact(artifact, aliases=["prod"])
        run.finish()

        objects = boto3.client("s3", endpoint_url=s3_endpoint).list_objects_v2(
            Bucket=BUCKET, Prefix="prod/sha256/"
        )
        keys = {o["Key"].rpartition("/sha256/")[2].replace("/", "") for o in objects["Contents"]}
        assert {e["digest"] for e in artifact.manifest} <= keys  # (runs may store other blobs)
        assert not (tmp_path / "blobs").exists()
        stored = kiseki.Api().artifact("s3/net:prod")
        root = Path(stored.download(tmp_path / "out"))
        assert read_tree(root) == {"cfg.json": b"{}", "w.bin": b"\x01" * 300_000}
    finally:
        live.stop()


def test_s3_references_are_tracked_by_etag_not_copied(
    s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kiseki_dir: Path
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    s3.put_object(Bucket=BUCKET, Key="raw/train.csv", Body=b"x,y\n1,2\n")
    s3.put_object(Bucket=BUCKET, Key="raw/test.csv", Body=b"x,y\n3,4\n")
    artifact = kiseki.Artifact("raw", type="dataset")
    artifact.add_reference(f"s3://{BUCKET}/raw", name="raw")
    assert [e["path"] for e in artifact.manifest] == ["raw/test.csv", "raw/train.csv"]
    run = kiseki.init(project="refs")
    run.log_artifact(artifact)
    run.finish()
    local = local_blob_store(kiseki_dir)
    assert not local.has(hashlib.sha256(b"x,y\n1,2\n").hexdigest())  # referenced, not copied
    stored = kiseki.Api().artifact("refs/raw")
    root = Path(stored.download(tmp_path / "out"))
    assert read_tree(root) == {"raw/test.csv": b"x,y\n3,4\n", "raw/train.csv": b"x,y\n1,2\n"}
    s3.put_object(Bucket=BUCKET, Key="raw/train.csv", Body=b"x,y\n9,9\n")
    (root / "raw/train.csv").unlink()
    with pytest.raises(BlobCorruptError, match="changed since it was logged"):
        stored.download(root)
