"""Helpers of the artifact tests: sample files, users and a live server with blobs."""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from kiseki.store.accounts import AccountStore
from kiseki.store.database import StoreLocation, create_store_engine, ensure_schema


def write_files(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write ``files`` (relative path → content) under ``root``; returns ``root``."""
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(content)
    return root


def create_users(store: str, *names: str) -> dict[str, str]:
    """Create users in a server's store; their API keys by name."""
    location = StoreLocation.parse(store)
    ensure_schema(location)
    engine = create_store_engine(location)
    try:
        accounts = AccountStore(engine)
        return {name: accounts.create_user(name)[1] for name in names}
    finally:
        engine.dispose()


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by relative POSIX path (what a download produced)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def use_server(monkeypatch: object, url: str, key: str) -> None:
    """Point the SDK and the read API of this process at a server as the key's user."""
    monkeypatch.setenv("KISEKI_BASE_URL", url)  # type: ignore[attr-defined]
    monkeypatch.setenv("KISEKI_API_KEY", key)  # type: ignore[attr-defined]


def environment_without_kiseki() -> dict[str, str]:
    """``os.environ`` without KISEKI_ variables (for child processes)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("KISEKI_")}


def _server_helper(name: str) -> ModuleType:
    """A helper module of tests/server, loaded under its own name (so tests/server never goes
    on ``sys.path``, where its conftest.py would shadow others)."""
    unique = f"artifact_tests_{name}"
    if unique not in sys.modules:
        path = Path(__file__).resolve().parent.parent / "server" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(unique, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module
        spec.loader.exec_module(module)
    return sys.modules[unique]


LiveServer = _server_helper("live_server").LiveServer
free_port = _server_helper("live_server").free_port
store_for = _server_helper("server_world").store_for


@dataclass
class ArtifactServer:
    """A live server, its store, its blob directory and the API keys of alice and bob."""

    live: LiveServer
    store: str
    blobs: Path
    keys: dict[str, str]

    @property
    def url(self) -> str:
        """The server's base URL."""
        return str(self.live.url)


make_world = _server_helper("server_world").make_world
run_records = _server_helper("server_world").run_records
