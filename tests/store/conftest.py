"""Store fixtures: an empty store on each backend, SQLite and PostgreSQL (see ``store_builder``).

The PostgreSQL runs use the session database of ``postgres_url`` (tests/conftest.py), emptied
for each store; they are skipped where no PostgreSQL server answers, except in CI.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from store_builder import StoreBuilder

from kiseki.store.database import StoreLocation

BACKENDS = ["sqlite", "postgresql"]


def _builder(request: pytest.FixtureRequest, directory: Path) -> StoreBuilder:
    if request.param == "sqlite":
        return StoreBuilder(StoreLocation.in_dir(directory))
    builder = StoreBuilder(StoreLocation.parse(request.getfixturevalue("postgres_url")))
    with builder.engine.begin() as conn:  # the session database is shared: empty it
        conn.execute(sa.text("TRUNCATE projects, runs, history_chunks, history_values CASCADE"))
    return builder


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreBuilder]:
    """An empty store on each backend."""
    builder = _builder(request, tmp_path)
    yield builder
    builder.close()


@pytest.fixture(scope="module", params=BACKENDS)
def module_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StoreBuilder]:
    """An empty store on each backend, shared by a module's tests (they add runs, change none)."""
    builder = _builder(request, tmp_path_factory.mktemp("store"))
    yield builder
    builder.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[StoreBuilder]:
    """An empty SQLite store (for tests that need no second backend)."""
    builder = StoreBuilder(StoreLocation.in_dir(tmp_path))
    yield builder
    builder.close()
