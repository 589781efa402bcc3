"""The store schema: Alembic's head matches the code, and migrations build the declared schema."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from kiseki.store.database import StoreLocation, create_store_engine, ensure_schema
from kiseki.store.migrations import SCHEMA_HEAD
from kiseki.store.schema import metadata

MIGRATIONS = Path(__file__).resolve().parents[2] / "kiseki" / "store" / "migrations"


def test_schema_head_constant_is_alembic_head() -> None:
    assert ScriptDirectory(str(MIGRATIONS)).get_current_head() == SCHEMA_HEAD


def test_migrated_sqlite_store_matches_the_declared_schema(tmp_path: Path) -> None:
    location = StoreLocation.in_dir(tmp_path)
    ensure_schema(location)
    engine = create_store_engine(location)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection)
            assert context.get_current_revision() == SCHEMA_HEAD
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_ensure_schema_is_idempotent(tmp_path: Path) -> None:
    location = StoreLocation.in_dir(tmp_path)
    ensure_schema(location)
    ensure_schema(location)
    assert (tmp_path / "kiseki.db").exists()
