"""Fixtures shared by every test: an isolated KISEKI_DIR and no run leaking between tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

_ENV_PREFIXES = ("KISEKI_", "WANDB_")


@pytest.fixture(scope="session", autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A temporary HOME for the whole session, so nothing a test starts (a server's default
    ``~/.kiseki/server-blobs``, the wandb client's ``~/.config/wandb``) writes to the real one."""
    home = tmp_path_factory.mktemp("home")
    saved = os.environ.get("HOME")
    os.environ["HOME"] = str(home)
    yield home
    if saved is None:
        os.environ.pop("HOME", None)
    else:
        os.environ["HOME"] = saved


@pytest.fixture(autouse=True)
def isolated_environment(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Every test gets its own KISEKI_DIR and no KISEKI_*/WANDB_* variables from outside."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES):
            monkeypatch.delenv(name)
    directory = tmp_path_factory.mktemp("kiseki-dir")
    monkeypatch.setenv("KISEKI_DIR", str(directory))
    monkeypatch.setenv("KISEKI_SILENT", "true")
    yield directory
    from kiseki.sdk import session

    for run in list(session._active):
        run.finish(quiet=True)
    session._active.clear()


@pytest.fixture
def kiseki_dir(isolated_environment: Path) -> Path:
    """The KISEKI_DIR of this test."""
    return isolated_environment


def _postgres_admin_url() -> str:
    return os.environ.get("KISEKI_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (dropped at the end).

    Skipped when no server answers on 127.0.0.1:5432, except in CI (``CI=true``), where a
    missing PostgreSQL is a failure.
    """
    import uuid

    psycopg = pytest.importorskip("psycopg")
    admin = _postgres_admin_url()
    try:
        connection = psycopg.connect(admin, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {admin}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {admin}: {exc}")
    name = f"kiseki_test_{uuid.uuid4().hex[:12]}"
    with connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
