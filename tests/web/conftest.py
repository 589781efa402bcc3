"""Web app fixtures: a seeded store, the app on a live loopback server, and a browser.

The browser is Debian's Chromium driven by Playwright (``/usr/bin/chromium``; never a
downloaded browser build). Where it is missing the browser tests are skipped, except in CI
(``CI=true``), where that is a failure. Screenshots go to ``tests/artifacts/`` (git-ignored).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from seed import LiveRun, Seeder, seed_workspace

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


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Seeder]]:
    """A kiseki directory whose store holds the seeded projects (shared by a module)."""
    directory = tmp_path_factory.mktemp("web-store")
    seeder = seed_workspace(directory)
    yield directory, seeder
    seeder.close()


@pytest.fixture(scope="module")
def live_run(seeded: tuple[Path, Seeder]) -> Iterator[LiveRun]:
    """A running run in the seeded project (heartbeats while the module runs)."""
    run = LiveRun(seeded[1])
    yield run
    run.close()


@pytest.fixture(scope="module")
def server(seeded: tuple[Path, Seeder], live_run: LiveRun) -> Iterator[LiveServer]:
    """The web app on the seeded store, served on a loopback port."""
    live = LiveServer(build_app(seeded[0]))
    yield live
    live.stop()


def _chromium_or_skip() -> str:
    path = shutil.which(CHROMIUM) or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if path is None:
        message = (
            f"Chromium not found at {CHROMIUM}: install it with `apt-get install -y chromium` "
            "(or set KISEKI_TEST_CHROMIUM)."
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium under Playwright (skipped locally when missing; fails in CI)."""
    executable = _chromium_or_skip()
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser page (own storage); fails the test on any script error."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.set_default_timeout(10_000)
    yield opened
    context.close()
    assert not errors, f"script errors on the page: {errors}"


def shot(page: Any, name: str) -> Path:
    """Save a screenshot as ``tests/artifacts/<name>.png``."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
