"""``Artifact.wait()``: the logged object learns its stored version, embedded and through a
real ``kiseki server``, and refuses clearly when it cannot."""

from __future__ import annotations

from pathlib import Path

import pytest
from artifact_world import ArtifactServer, free_port, read_tree, use_server, write_files

import kiseki
from kiseki.artifacts import ArtifactWaitTimeoutError
from kiseki.errors import UsageError


def logged(root: Path, files: dict[str, str | bytes], aliases: list[str] | None = None) -> tuple:
    """A run and the artifact ``ds`` it just logged from ``files`` (the run still open)."""
    write_files(root, files)
    run = kiseki.init(project="proj")
    artifact = kiseki.Artifact("ds", type="dataset")
    artifact.add_dir(root)
    run.log_artifact(artifact, aliases=aliases)
    return run, artifact


def test_wait_fills_in_the_version_in_the_embedded_store(tmp_path: Path) -> None:
    run, artifact = logged(tmp_path / "one", {"a.txt": "alpha", "b/c.txt": "gamma"}, ["best"])
    assert artifact.version is None
    assert artifact.wait(timeout=60) is artifact
    assert (artifact.version, artifact.aliases) == ("v0", ["latest", "best"])
    assert artifact.created_at is not None and artifact.size == 10
    root = Path(artifact.download(tmp_path / "out"))
    assert read_tree(root) == {"a.txt": b"alpha", "b/c.txt": b"gamma"}
    artifact.verify(root)
    assert artifact.wait() is artifact  # already stored: returns at once
    run.finish()

    run, again = logged(tmp_path / "two", {"a.txt": "alpha", "b/c.txt": "GAMMA"})
    assert again.wait(timeout=60).version == "v1"
    run.finish()


def test_wait_refuses_clearly_when_it_cannot_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    never_logged = kiseki.Artifact("ds", type="dataset")
    with pytest.raises(UsageError, match="was not logged"):
        never_logged.wait()

    monkeypatch.setenv("KISEKI_MODE", "offline")
    run, artifact = logged(tmp_path / "offline", {"a.txt": "alpha"})
    with pytest.raises(UsageError, match=r"offline.*kiseki sync"):
        artifact.wait(timeout=1)
    run.finish()


@pytest.mark.slow
def test_wait_times_out_while_the_server_is_unreachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_server(monkeypatch, f"http://127.0.0.1:{free_port()}", "ks-nobody")
    monkeypatch.setenv("KISEKI_FINISH_TIMEOUT", "1")
    run, artifact = logged(tmp_path / "files", {"a.txt": "alpha"})
    with pytest.raises(ArtifactWaitTimeoutError, match=r"within 0\.5 s"):
        artifact.wait(timeout=0.5)
    assert artifact.version is None
    with pytest.raises(UsageError, match="seconds >= 0 or None"):
        artifact.wait(timeout=-1)
    run.finish()


@pytest.mark.slow
def test_wait_through_the_server_then_download_and_verify(
    artifact_server: ArtifactServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_server(monkeypatch, artifact_server.url, artifact_server.keys["alice"])
    files: dict[str, str | bytes] = {f"f{i}.txt": f"file {i}" for i in range(20)}
    run, artifact = logged(tmp_path / "files", files, ["best"])
    artifact.wait(timeout=60)
    assert (artifact.version, artifact.entity) == ("v0", "alice")
    assert artifact.aliases == ["latest", "best"]
    root = Path(artifact.download(tmp_path / "out"))
    assert read_tree(root) == {k: str(v).encode() for k, v in files.items()}
    artifact.verify(root)
    run.finish()
