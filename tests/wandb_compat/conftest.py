"""A live kiseki server with one user, shared by the wandb client tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from live_server import LiveServer, create_user_key
from wandb_harness import HEARTBEAT_TIMEOUT_S


@pytest.fixture(scope="session")
def wandb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    """``kiseki server`` on SQLite with user ``alice``; yields the server and her API key."""
    root = tmp_path_factory.mktemp("wandb-server")
    store = str(root / "server.db")
    key = create_user_key(store)
    live = LiveServer(
        store, root, extra_args=["--heartbeat-timeout", str(HEARTBEAT_TIMEOUT_S)]
    ).start()
    yield live, key
    if live.process is not None and live.process.poll() is None:
        live.stop()
