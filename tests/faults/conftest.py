"""Fixtures of the fault-injection suite; helpers live in ``faultkit``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from faultkit import StoreLock


@pytest.fixture
def store_lock(kiseki_dir: Path) -> Iterator[Any]:
    """A factory taking the store's write lock in another process; released at teardown."""
    from kiseki.store.database import StoreLocation, ensure_schema

    ensure_schema(StoreLocation.in_dir(kiseki_dir))
    locks: list[StoreLock] = []

    def take() -> StoreLock:
        locks.append(StoreLock(kiseki_dir))
        return locks[-1]

    yield take
    for lock in locks:
        lock.release()
