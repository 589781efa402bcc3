"""The endpoint's state shared by the workers of one server: the URL-signing secret and the
artifacts being uploaded, seen alike from two registries on one directory (two workers)."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from kiseki.errors import NotFoundError, UsageError
from kiseki.server.config import ServerConfig
from kiseki.store.applier import RunKey
from kiseki.wandb_compat.artifacts import PendingArtifacts, logged_record
from kiseki.wandb_compat.shared_state import (
    SECRET_FILE,
    load_or_create_secret,
    remove_older_than,
    state_dir,
)
from kiseki.wandb_compat.urls import UrlSigner


def test_workers_starting_together_share_one_private_secret(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        secrets = list(pool.map(lambda _: load_or_create_secret(tmp_path / "s"), range(8)))
    assert len(set(secrets)) == 1 and len(secrets[0]) == 32
    mode = stat.S_IMODE((tmp_path / "s" / SECRET_FILE).stat().st_mode)
    assert mode == 0o600
    url = UrlSigner(secrets[0]).sign("http://h", "PUT", "/wandb-files/upload/a/p/r/f")
    expires, signature = (part.split("=")[1] for part in url.split("?")[1].split("&"))
    UrlSigner(load_or_create_secret(tmp_path / "s")).check(
        "PUT", "/wandb-files/upload/a/p/r/f", expires, signature
    )


def test_a_truncated_secret_is_refused_with_what_to_do(tmp_path: Path) -> None:
    (tmp_path / SECRET_FILE).write_bytes(b"short")
    with pytest.raises(UsageError, match="delete it"):
        load_or_create_secret(tmp_path)


def test_the_state_lives_next_to_a_sqlite_store(tmp_path: Path) -> None:
    assert state_dir(ServerConfig(store=str(tmp_path / "k.db"))) == tmp_path / "wandb-compat"


def test_an_artifact_opened_by_one_worker_is_completed_by_another(tmp_path: Path) -> None:
    first, second = PendingArtifacts(tmp_path), PendingArtifacts(tmp_path)
    key = RunKey("alice", "p", "r1")
    data = {
        "artifactCollectionName": "dataset",
        "artifactTypeName": "data",
        "aliases": [{"alias": "best"}, {"alias": "latest"}],
        "metadata": '{"rows": 3}',
    }
    pending = first.open(key, data)
    second.add_file(pending.id, "a.txt", "a" * 64, 5)
    first.add_file(pending.id, "sub/b.txt", "b" * 64, 4)
    second.set_manifest(
        pending.id, {"contents": {"a.txt": {"digest": "x"}, "sub/b.txt": {"digest": "y"}}}
    )
    seen = first.get(pending.id)
    assert seen.key == key and seen.metadata == {"rows": 3}
    assert seen.files == {"a.txt": ("a" * 64, 5), "sub/b.txt": ("b" * 64, 4)}
    record = logged_record(seen, 7)
    assert [e["path"] for e in record.manifest] == ["a.txt", "sub/b.txt"]
    assert record.aliases == ["best"]
    assert seen.committed_version is None
    second.set_committed(pending.id, 12)
    assert first.get(pending.id).committed_version == 12
    with pytest.raises(NotFoundError, match="log the artifact again"):
        second.get("QXJ0aWZhY3Q6bm9uZQ==")


def test_forgotten_uploads_are_removed(tmp_path: Path) -> None:
    registry = PendingArtifacts(tmp_path)
    pending = registry.open(RunKey("alice", "p", "r1"), {"artifactCollectionName": "d"})
    remove_older_than(tmp_path, 3600)
    registry.get(pending.id)
    remove_older_than(tmp_path, -1)
    with pytest.raises(NotFoundError):
        registry.get(pending.id)
