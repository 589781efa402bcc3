"""Web app fixtures: a seeded store, the app on a live loopback server, and a browser.

The browser is Debian's Chromium driven by Playwright (``/usr/bin/chromium``; never a
downloaded browser build). Where it is missing the browser tests are skipped, except in CI
(``CI=true``), where that is a failure. Screenshots go to ``tests/artifacts/`` (git-ignored).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from seed import LiveRun, Seeder, seed_workspace
from web_kit import CHROMIUM, CHROMIUM_ARGS, LiveServer, build_app


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
