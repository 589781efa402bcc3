"""Artifacts in the embedded store: versions, dedup, aliases, downloads, lineage."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from artifact_world import read_tree, write_files

import kiseki
from kiseki.artifacts import ArtifactVerifyError
from kiseki.blobs import BlobCorruptError, local_blob_store
from kiseki.errors import NotFoundError, UsageError


def log(artifact: kiseki.Artifact, aliases: list[str] | None = None, project: str = "p") -> str:
    run = kiseki.init(project=project)
    run.log_artifact(artifact, aliases=aliases)
    run.finish()
    return run.id


def model(tmp_path: Path, weights: bytes, name: str = "net") -> kiseki.Artifact:
    path = tmp_path / f"weights-{len(weights)}-{weights[:4].hex()}.bin"
    path.write_bytes(weights)
    artifact = kiseki.Artifact(name, type="model", description="a net", metadata={"lr": 0.1})
    artifact.add_file(path, name="weights.bin")
    return artifact


def test_new_content_makes_a_new_version_and_same_content_none(
    tmp_path: Path, kiseki_dir: Path
) -> None:
    log(model(tmp_path, b"w0"))
    log(model(tmp_path, b"w0"))  # identical: no new version
    log(model(tmp_path, b"w1"))
    log(model(tmp_path, b"w0"))  # v0's content again: still two versions
    versions = kiseki.Api().artifacts("model", "p/net")
    assert [v.version for v in versions] == ["v0", "v1"]
    assert [v.aliases for v in versions] == [[], ["latest"]]
    assert versions[0].digest != versions[1].digest
    assert versions[1].description == "a net" and versions[1].metadata == {"lr": 0.1}
    assert versions[1].created_at is not None and versions[1].size == 2
    stored = set(local_blob_store(kiseki_dir).digests())
    assert {e["digest"] for v in versions for e in v.manifest} <= stored


def test_the_same_file_in_two_artifacts_is_stored_once(tmp_path: Path, kiseki_dir: Path) -> None:
    store = local_blob_store(kiseki_dir)
    first = model(tmp_path, b"shared", name="a")
    second = model(tmp_path, b"shared", name="b")
    first._store_blobs(store)  # what log_artifact does first
    before = set(store.digests())
    second._store_blobs(store)
    assert set(store.digests()) == before  # the second artifact's file is the same blob
    log(first)
    log(second)
    assert [a.name for a in (kiseki.Api().artifact("p/a"), kiseki.Api().artifact("p/b"))] == [
        "a",
        "b",
    ]


def test_user_aliases_move_and_latest_stays_on_the_newest(tmp_path: Path) -> None:
    log(model(tmp_path, b"first"), aliases=["best", "prod"])
    log(model(tmp_path, b"second"))
    log(model(tmp_path, b"third"), aliases=["best"])
    api = kiseki.Api()
    assert api.artifact("p/net:best").version == "v2"
    assert api.artifact("p/net:prod").version == "v0"
    assert api.artifact("p/net:latest").version == "v2"
    assert api.artifact("p/net").version == "v2"
    assert api.artifact("p/net:v1").aliases == []
    with pytest.raises(NotFoundError, match=r"has no version or alias 'nope'; it has: .*best"):
        api.artifact("p/net:nope")
    with pytest.raises(NotFoundError, match="No artifact"):
        api.artifact("p/missing:latest")
    with pytest.raises(UsageError, match="not 'dataset'"):
        api.artifact("p/net:v0", type="dataset")
    with pytest.raises(UsageError, match="looks like a version"):
        log(model(tmp_path, b"fourth"), aliases=["v9"])


def test_download_verifies_skips_correct_files_and_repairs_damaged_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_files(tmp_path / "src", {"x.csv": "1,2\n", "deep/er/y.txt": "why"})
    artifact = kiseki.Artifact("table", type="dataset")
    artifact.add_dir(source)
    with artifact.new_file("notes/readme.md") as out:
        out.write("# read me\n")
    log(artifact)

    monkeypatch.chdir(tmp_path)
    stored = kiseki.Api().artifact("p/table:latest")
    root = Path(stored.download())
    assert root == Path("artifacts") / "table:v0"
    expected = {"deep/er/y.txt": b"why", "notes/readme.md": b"# read me\n", "x.csv": b"1,2\n"}
    assert read_tree(root) == expected
    stored.verify()

    (root / "x.csv").write_text("1,3\n")  # changed by hand
    (root / "deep/er/y.txt").unlink()
    with pytest.raises(ArtifactVerifyError, match=r"deep/er/y.txt is missing; x.csv differs"):
        stored.verify()
    untouched = (root / "notes/readme.md").stat().st_mtime_ns
    stored.download()
    assert read_tree(root) == expected
    assert (root / "notes/readme.md").stat().st_mtime_ns == untouched  # correct: not fetched


def test_a_damaged_blob_is_detected_and_not_written(tmp_path: Path, kiseki_dir: Path) -> None:
    log(model(tmp_path, b"precious weights"))
    stored = kiseki.Api().artifact("p/net:v0")
    store = local_blob_store(kiseki_dir)
    digest = stored.get_entry("weights.bin").digest
    os.chmod(store.path(digest), 0o644)
    store.path(digest).write_bytes(b"precious weighs")
    with pytest.raises(BlobCorruptError, match="damaged"):
        stored.download(tmp_path / "out")
    assert not (tmp_path / "out" / "weights.bin").exists()
    store.delete(digest)
    with pytest.raises(NotFoundError, match="missing from"):
        stored.download(tmp_path / "out")


def test_lineage_in_both_directions(tmp_path: Path) -> None:
    producer = log(model(tmp_path, b"w"))
    consumers = []
    for _ in range(2):
        run = kiseki.init(project="p", job_type="eval")
        assert run.use_artifact("net:latest").version == "v0"
        consumers.append(run.id)
        run.finish()
    other = kiseki.init(project="other")
    other.use_artifact("p/net:v0")
    other.finish()

    api = kiseki.Api()
    version = api.artifact("p/net:v0")
    assert version.logged_by().id == producer
    assert [r.id for r in version.used_by()] == [*consumers, other.id]
    assert [a.qualified_name for a in api.run(f"p/{producer}").logged_artifacts()] == [
        version.qualified_name
    ]
    assert [a.version for a in api.run(f"other/{other.id}").used_artifacts()] == ["v0"]
    assert api.run(f"p/{producer}").used_artifacts() == []


@pytest.mark.parametrize(
    "bad_name",
    ["../escape.txt", "a/../../escape.txt", "/etc/passwd", "C:/windows.txt", "a\\..\\b", ".."],
)
def test_entry_paths_that_leave_the_artifact_are_refused(tmp_path: Path, bad_name: str) -> None:
    (tmp_path / "f.txt").write_text("x")
    artifact = kiseki.Artifact("safe", type="dataset")
    with pytest.raises(UsageError):
        artifact.add_file(tmp_path / "f.txt", name=bad_name)
    with pytest.raises(UsageError), artifact.new_file(bad_name) as out:
        out.write("x")


def test_symlinks_cannot_smuggle_files_in_or_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("not part of it")
    data = write_files(tmp_path / "data", {"in.txt": "in"})
    (data / "link.txt").symlink_to(outside)
    artifact = kiseki.Artifact("linked", type="dataset")
    with pytest.raises(UsageError, match="outside"):
        artifact.add_dir(data)

    (data / "link.txt").unlink()
    artifact = kiseki.Artifact("linked", type="dataset")
    artifact.add_dir(data)
    log(artifact)
    stored = kiseki.Api().artifact("p/linked")
    root = tmp_path / "dl"
    root.mkdir()
    victim = tmp_path / "victim"
    victim.mkdir()
    (root / "in.txt").symlink_to(victim / "in.txt")  # a planted link out of the root
    with pytest.raises(UsageError, match="outside"):
        stored.download(root)
    (root / "in.txt").unlink()
    assert list(victim.iterdir()) == []
    stored.download(root)
    assert (root / "in.txt").read_text() == "in"


def test_entries_references_and_single_files(tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(b"0123456789")
    referenced = write_files(tmp_path / "ref", {"r.txt": "referenced"})
    artifact = kiseki.Artifact("mixed", type="dataset")
    artifact.add_file(tmp_path / "big.bin")
    artifact.add_reference((referenced / "r.txt").as_uri(), name="remote/r.txt")
    with pytest.raises(UsageError, match="already has an entry"):
        artifact.add_file(tmp_path / "big.bin")
    with pytest.raises(UsageError, match="file://, http"):
        artifact.add_reference("ftp://host/file")
    assert [e["path"] for e in artifact.manifest] == ["big.bin", "remote/r.txt"]
    assert artifact.get_entry("remote/r.txt").ref == (referenced / "r.txt").as_uri()
    artifact.remove("remote")
    assert [e["path"] for e in artifact.manifest] == ["big.bin"]
    artifact.add_reference((referenced / "r.txt").as_uri(), name="remote/r.txt")
    log(artifact)

    stored = kiseki.Api().artifact("p/mixed")
    root = Path(stored.download(tmp_path / "out"))
    assert read_tree(root) == {"big.bin": b"0123456789", "remote/r.txt": b"referenced"}
    with pytest.raises(UsageError, match="holds 2 files"):
        stored.file()
    (referenced / "r.txt").write_text("changed!!!")
    (root / "remote/r.txt").unlink()
    with pytest.raises(BlobCorruptError, match="changed since it was logged"):
        stored.download(root)

    single = kiseki.Artifact("one", type="model")
    single.add_file(tmp_path / "big.bin")
    log(single)
    path = kiseki.Api().artifact("p/one").file(tmp_path / "single")
    assert Path(path).read_bytes() == b"0123456789"


def test_bad_artifacts_and_calls_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not an artifact name"):
        kiseki.Artifact("bad name", type="dataset")
    with pytest.raises(UsageError, match="not an artifact type"):
        kiseki.Artifact("ok", type="")
    run = kiseki.init(project="p")
    with pytest.raises(UsageError, match="is empty"):
        run.log_artifact(kiseki.Artifact("empty", type="dataset"))
    with pytest.raises(UsageError, match=r"takes a kiseki\.Artifact"):
        run.log_artifact("path/to/file")
    logged = model(tmp_path, b"x")
    run.log_artifact(logged)
    with pytest.raises(UsageError, match="cannot change"):
        logged.add_file(tmp_path / "weights-1-78.bin")
    with pytest.raises(UsageError, match="not a stored version"):
        logged.download()
    run.finish()


def test_a_directory_link_inside_the_root_cannot_redirect_a_download(tmp_path: Path) -> None:
    data = write_files(tmp_path / "data", {"sub/x.txt": "x"})
    artifact = kiseki.Artifact("nested", type="dataset")
    artifact.add_dir(data)
    log(artifact)
    root, victim = tmp_path / "dl", tmp_path / "victim"
    root.mkdir()
    victim.mkdir()
    (root / "sub").symlink_to(victim, target_is_directory=True)
    with pytest.raises(UsageError, match="outside"):
        kiseki.Api().artifact("p/nested").download(root)
    assert list(victim.iterdir()) == []
