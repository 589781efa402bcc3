"""Artifact fixtures: a live ``kiseki server`` on SQLite or PostgreSQL with users."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from artifact_world import ArtifactServer, LiveServer, create_users, store_for


@pytest.fixture(params=["sqlite", "postgresql"])
def artifact_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactServer]:
    """``kiseki server`` with a blob directory, on SQLite, then on PostgreSQL."""
    store = store_for(request, request.param, tmp_path)
    keys = create_users(store, "alice", "bob")
    blobs = tmp_path / "server-blobs"
    live = LiveServer(store, tmp_path, extra_args=["--blob-store", str(blobs)]).start()
    yield ArtifactServer(live, store, blobs, keys)
    if live.process is not None and live.process.poll() is None:
        live.stop()
