"""Fixtures shared by every test: an isolated KISEKI_DIR and no run leaking between tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

_ENV_PREFIXES = ("KISEKI_", "WANDB_")


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
