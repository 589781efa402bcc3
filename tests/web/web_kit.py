"""Helpers the web tests share: the app under test, a live loopback server, screenshots.

Kept out of ``conftest.py`` under a unique name, so test modules import them as
``from web_kit import ...`` whichever other test folders run in the same pytest session.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("KISEKI_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def build_app(kiseki_dir: Path) -> Any:
    """The app ``kiseki ui`` serves on ``kiseki_dir`` (embedded store, no login)."""
    try:
        from kiseki.server.app import create_local_app
    except ImportError:  # the server package is not there yet: the same wiring by hand
        from fastapi import FastAPI

        from kiseki.server.auth import Authenticator
        from kiseki.server.service import TrackerService
        from kiseki.store.database import StoreLocation, create_store_engine, ensure_schema
        from kiseki.store.queries import StoreQueries
        from kiseki.web.routes import router

        location = StoreLocation.in_dir(kiseki_dir)
        ensure_schema(location)
        app = FastAPI()
        app.state.service = TrackerService(StoreQueries(create_store_engine(location)))
        app.state.auth = Authenticator(None, local_user="alice")
        app.include_router(router)
        return app
    return create_local_app(kiseki_dir)


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """The app served by uvicorn in a thread on a free loopback port."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="web-test-server", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("The test server did not start within 15 s.")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout=10)


def shot(page: Any, name: str) -> Path:
    """Save a screenshot as ``tests/artifacts/<name>.png``."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
