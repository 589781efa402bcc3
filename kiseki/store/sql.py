"""A thin, dialect-aware way to run SQL text on either a ``sqlite3`` or a SQLAlchemy connection.

The record applier writes with plain SQL (``:name`` parameters, ``INSERT ... ON CONFLICT``,
``RETURNING``), which SQLite and PostgreSQL both understand; only JSON parameters differ.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Protocol


class SqlRunner(Protocol):
    """What the applier needs from a database connection."""

    dialect: str

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Run one statement; return its rows (empty for statements without rows)."""

    def executemany(self, sql: str, params: list[dict[str, Any]]) -> None:
        """Run one statement for each parameter set."""

    def json(self, name: str) -> str:
        """The placeholder for a JSON parameter called ``name``."""


class Sqlite3Runner:
    """:class:`SqlRunner` over a standard-library ``sqlite3`` connection."""

    dialect = "sqlite"

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Run one statement; return its rows."""
        return self.connection.execute(sql, params or {}).fetchall()

    def executemany(self, sql: str, params: list[dict[str, Any]]) -> None:
        """Run one statement for each parameter set."""
        if params:
            self.connection.executemany(sql, params)

    def json(self, name: str) -> str:
        """JSON is stored as text in SQLite."""
        return f":{name}"


class SqlAlchemyRunner:
    """:class:`SqlRunner` over a SQLAlchemy ``Connection`` (used by the server and PostgreSQL)."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.dialect = connection.dialect.name

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Run one statement; return its rows."""
        import sqlalchemy as sa

        result = self.connection.execute(sa.text(sql), params or {})
        return list(result.fetchall()) if result.returns_rows else []

    def executemany(self, sql: str, params: list[dict[str, Any]]) -> None:
        """Run one statement for each parameter set."""
        import sqlalchemy as sa

        if params:
            self.connection.execute(sa.text(sql), params)

    def json(self, name: str) -> str:
        """PostgreSQL needs JSON text cast to JSONB."""
        if self.dialect == "postgresql":
            return f"CAST(:{name} AS JSONB)"
        return f":{name}"
