"""Opening a store: where it lives, connecting to it, and migrating its schema.

A store is a SQLite file (the embedded default, ``<KISEKI_DIR>/kiseki.db``) or a PostgreSQL
database. Writers on the SDK's hot path use the standard library's ``sqlite3`` directly
(:func:`connect_sqlite`); readers and the server use SQLAlchemy (:func:`create_store_engine`),
imported only when needed so that ``import kiseki`` and ``kiseki.init()`` stay fast.
"""

from __future__ import annotations

import fcntl
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiseki.errors import StoreError
from kiseki.store.migrations import SCHEMA_HEAD

if TYPE_CHECKING:
    import sqlalchemy as sa

DB_FILENAME = "kiseki.db"
BUSY_TIMEOUT_S = 60.0
_MIGRATIONS_DIR = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class StoreLocation:
    """Where a store lives: a SQLite file path or a PostgreSQL URL.

    >>> StoreLocation.parse("/tmp/k/kiseki.db").sqlite_path
    PosixPath('/tmp/k/kiseki.db')
    >>> StoreLocation.parse("postgresql://kiseki@db/kiseki").is_sqlite
    False
    """

    url: str
    sqlite_path: Path | None = None

    @property
    def is_sqlite(self) -> bool:
        """Whether this is an embedded SQLite store."""
        return self.sqlite_path is not None

    @classmethod
    def in_dir(cls, directory: Path) -> StoreLocation:
        """The embedded store inside a kiseki directory (``<dir>/kiseki.db``)."""
        return cls.for_sqlite(Path(directory) / DB_FILENAME)

    @classmethod
    def for_sqlite(cls, path: Path) -> StoreLocation:
        """A SQLite store at ``path``."""
        path = Path(path).expanduser().absolute()
        return cls(url=f"sqlite:///{path}", sqlite_path=path)

    @classmethod
    def parse(cls, target: str | Path) -> StoreLocation:
        """A store from a ``postgresql://`` URL, a ``sqlite:///`` URL or a file path."""
        text = str(target)
        if text.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
            if text.startswith("postgres://"):
                text = "postgresql://" + text[len("postgres://") :]
            if text.startswith("postgresql://"):
                text = "postgresql+psycopg://" + text[len("postgresql://") :]
            return cls(url=text)
        if text.startswith("sqlite:///"):
            return cls.for_sqlite(Path(text[len("sqlite:///") :]))
        if "://" in text:
            raise StoreError(
                f"Unsupported store URL {text!r}: use a SQLite file path or a postgresql:// URL."
            )
        return cls.for_sqlite(Path(text))


def connect_sqlite(path: Path) -> sqlite3.Connection:
    """Open a standard-library connection to a SQLite store, set up for concurrent writers.

    The connection is in autocommit mode: callers open write transactions with
    ``BEGIN IMMEDIATE`` so that concurrent processes queue on the busy timeout instead of
    failing on a lock upgrade.
    """
    try:
        conn = sqlite3.connect(
            str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
    except sqlite3.Error as exc:
        raise StoreError(
            f"Cannot open the kiseki store {path}: {exc}. Check the path and its permissions."
        ) from exc
    return conn


def _sqlite_schema_revision(path: Path) -> str | None:
    if not path.exists():
        return None
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S)
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:
        return None
    finally:
        conn.close()
    return row[0] if row else None


def _check_known(revision: str | None, where: str) -> None:
    if revision is None:
        return
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(_MIGRATIONS_DIR))
    if script.get_revision(revision) is None:  # pragma: no cover - depends on newer files
        raise StoreError(
            f"The store {where} has schema revision {revision!r}, which this kiseki does not "
            "know: it was written by a newer kiseki. Upgrade kiseki (pip install -U kiseki)."
        )


def _run_alembic_upgrade(connection: Any) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def ensure_schema(location: StoreLocation) -> None:
    """Create the store or migrate it to :data:`SCHEMA_HEAD`; cheap when already current.

    Concurrent processes are serialised: a file lock for SQLite, an advisory lock for
    PostgreSQL.
    """
    if location.sqlite_path is not None:
        path = location.sqlite_path
        if _sqlite_schema_revision(path) == SCHEMA_HEAD:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            lock_file = open(str(path) + ".lock", "a+b")  # noqa: SIM115 - held across the block
        except OSError as exc:
            raise StoreError(
                f"Cannot create the kiseki store in {path.parent}: {exc.strerror}. "
                "Set KISEKI_DIR to a writable directory."
            ) from exc
        with lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            revision = _sqlite_schema_revision(path)
            if revision == SCHEMA_HEAD:
                return
            _check_known(revision, str(path))
            conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.close()
            engine = create_store_engine(location)
            try:
                with engine.begin() as connection:
                    _run_alembic_upgrade(connection)
            finally:
                engine.dispose()
        return
    engine = create_store_engine(location)
    try:
        with engine.begin() as connection:
            import sqlalchemy as sa

            connection.execute(sa.text("SELECT pg_advisory_xact_lock(5757001)"))
            _run_alembic_upgrade(connection)
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(
            f"Cannot open or migrate the store at {location.url}: {exc}. "
            "Check that the database server is running and the URL is right."
        ) from exc
    finally:
        engine.dispose()


def create_store_engine(location: StoreLocation) -> sa.Engine:
    """A SQLAlchemy engine on the store (imports SQLAlchemy on first use)."""
    import sqlalchemy as sa

    from kiseki import jsoncodec

    if location.sqlite_path is not None:
        engine = sa.create_engine(
            location.url,
            json_serializer=jsoncodec.dumps,
            json_deserializer=jsoncodec.loads,
            connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False},
        )

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            dbapi_connection.execute("PRAGMA synchronous=NORMAL")
            dbapi_connection.execute("PRAGMA foreign_keys=ON")

        @sa.event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            # readers (execution option kiseki_read_only=True, set by kiseki.store.queries)
            # take a deferred BEGIN: in WAL mode they read a snapshot and never queue behind
            # writers; writers take the lock up front so they wait instead of failing
            if connection.get_execution_options().get("kiseki_read_only"):
                connection.exec_driver_sql("BEGIN")
            else:
                connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return sa.create_engine(
        location.url,
        json_serializer=jsoncodec.dumps,
        json_deserializer=jsoncodec.loads,
        pool_pre_ping=True,
    )
