"""Server fixtures: an app with users and a team, on SQLite (and on PostgreSQL where asked)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from server_world import World, make_world, store_for


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """The app on a fresh SQLite store."""
    yield from make_world(str(tmp_path / "server.db"))


@pytest.fixture(params=["sqlite", "postgresql"])
def any_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """The app on a fresh SQLite store, then on the PostgreSQL test database."""
    yield from make_world(store_for(request, request.param, tmp_path))
