"""``kiseki artifact put/get/ls/gc`` on the embedded store."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from artifact_world import read_tree, write_files
from click.testing import CliRunner

import kiseki
from kiseki.blobs import local_blob_store
from kiseki.cli.main import cli


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def age_blobs(kiseki_dir: Path) -> None:
    """Make every stored blob look two hours old (older than gc's grace period)."""
    old = time.time() - 7200
    for path in (kiseki_dir / "blobs").rglob("*"):
        if path.is_file():
            os.utime(path, (old, old))


def test_put_get_and_ls(tmp_path: Path, kiseki_dir: Path) -> None:
    source = write_files(tmp_path / "data", {"a.csv": "1\n", "b/c.csv": "2\n"})
    output = invoke(
        "artifact",
        "put",
        str(source),
        "--name",
        "table",
        "--type",
        "dataset",
        "--project",
        "cli",
        "--alias",
        "best",
        "--description",
        "two tables",
    )
    assert "Logged" in output and "table" in output and "2 file(s)" in output
    invoke(
        "artifact", "put", str(source), "--name", "table", "--type", "dataset", "--project", "cli"
    )  # same content: no new version
    (source / "a.csv").write_text("changed\n")
    invoke(
        "artifact",
        "put",
        str(source / "a.csv"),
        "--name",
        "table",
        "--type",
        "dataset",
        "--project",
        "cli",
    )

    listing = invoke("artifact", "ls", "cli")
    lines = [line.split() for line in listing.splitlines()[1:]]
    assert [(line[0], line[1], line[2]) for line in lines] == [
        ("table", "dataset", "v0"),
        ("table", "dataset", "v1"),
    ]
    assert listing.splitlines()[1].endswith("best")
    assert listing.splitlines()[2].endswith("latest")
    assert kiseki.Api().artifact("cli/table:v0").description == "two tables"

    output = invoke("artifact", "get", "cli/table:best", "--root", str(tmp_path / "out"))
    assert "table:v0" in output
    assert read_tree(tmp_path / "out") == {"a.csv": b"1\n", "b/c.csv": b"2\n"}

    result = CliRunner().invoke(cli, ["artifact", "get", "cli/table:nope"])
    assert result.exit_code == 1 and "has no version or alias 'nope'" in result.output
    result = CliRunner().invoke(cli, ["artifact", "get", "cli/table:v0", "--type", "model"])
    assert result.exit_code == 1 and "not 'model'" in result.output


def test_gc_removes_only_unreferenced_old_blobs(tmp_path: Path, kiseki_dir: Path) -> None:
    source = write_files(tmp_path / "data", {"kept.bin": b"kept"})
    invoke("artifact", "put", str(source), "--name", "keep", "--type", "model", "--project", "gc")
    store = local_blob_store(kiseki_dir)
    orphan = store.put_bytes(b"orphan: no version refers to me")
    age_blobs(kiseki_dir)
    fresh = store.put_bytes(b"fresh: a running process may refer to me soon")

    assert "Would remove 1 unreferenced blob(s)" in invoke("artifact", "gc", "--dry-run")
    assert store.has(orphan)
    assert "Removed 1 unreferenced blob(s)" in invoke("artifact", "gc")
    assert not store.has(orphan) and store.has(fresh)
    assert store.has(hashlib.sha256(b"kept").hexdigest())
    assert read_tree(Path(kiseki.Api().artifact("gc/keep").download(tmp_path / "o"))) == {
        "kept.bin": b"kept"
    }


def test_gc_keeps_blobs_of_offline_runs_not_yet_synced(
    tmp_path: Path, kiseki_dir: Path, monkeypatch: object
) -> None:
    monkeypatch.setenv("KISEKI_MODE", "offline")  # type: ignore[attr-defined]
    (tmp_path / "m.bin").write_bytes(b"offline weights")
    run = kiseki.init(project="gc")
    artifact = kiseki.Artifact("offline", type="model")
    artifact.add_file(tmp_path / "m.bin")
    run.log_artifact(artifact)
    run.finish()
    monkeypatch.delenv("KISEKI_MODE")  # type: ignore[attr-defined]
    age_blobs(kiseki_dir)
    assert "Removed 0 unreferenced blob(s)" in invoke("artifact", "gc")
    invoke("sync")
    assert kiseki.Api().artifact("gc/offline").version == "v0"


def test_gc_of_a_server_store_and_blob_directory(tmp_path: Path) -> None:
    from artifact_world import make_world, run_records

    from kiseki.blobs import LocalBlobStore
    from kiseki.runlog.records import ArtifactLogged

    store, blobs = str(tmp_path / "server.db"), tmp_path / "server-blobs"
    world = make_world(store, blob_store=str(blobs))
    client = next(world)
    kept = hashlib.sha256(b"kept on the server").hexdigest()
    for content in (b"kept on the server", b"orphan on the server"):
        answer = client.client.put(
            f"/api/v1/blobs/{hashlib.sha256(content).hexdigest()}",
            content=content,
            headers=client.auth("alice"),
        )
        assert answer.status_code == 201
    manifest = [{"path": "k.bin", "digest": kept, "size": 18, "ref": None}]
    record = ArtifactLogged(2, "server-art", "model", hashlib.sha256(b"m").hexdigest(), manifest)
    assert (
        client.post("alice", "alice/p/r1", [*run_records("r1", rows=0), record]).status_code == 200
    )
    world.close()
    age = time.time() - 7200
    for path in blobs.rglob("*"):
        os.utime(path, (age, age))
    output = invoke("artifact", "gc", "--db", store, "--blob-store", str(blobs))
    assert "Removed 1 unreferenced blob(s)" in output
    assert list(LocalBlobStore(blobs).digests()) == [kept]
