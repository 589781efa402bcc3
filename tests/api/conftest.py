"""Fixtures for the read API: a kiseki directory whose store is filled through ``LocalSink``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from run_logger import RunLogger

from kiseki.api import Api


@pytest.fixture
def logger(tmp_path: Path) -> Iterator[RunLogger]:
    """Logs runs into ``tmp_path/kiseki.db``."""
    run_logger = RunLogger(tmp_path)
    yield run_logger
    run_logger.sink.close()


@pytest.fixture
def api(logger: RunLogger) -> Iterator[Api]:
    """An ``Api`` on the logger's directory, with ``alice`` as its default entity."""
    with Api(logger.directory, entity="alice") as reader:
        yield reader
