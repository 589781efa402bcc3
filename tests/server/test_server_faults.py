"""Issue 5, scenario 4: a network that resets 30 % of replies and delays the rest loses and
duplicates nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flaky_proxy import FlakyProxy
from live_server import LiveServer

import kiseki
from kiseki.store.accounts import AccountStore
from kiseki.store.database import StoreLocation, create_store_engine, ensure_schema

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[LiveServer, str]]:
    """A live server on SQLite and alice's API key."""
    store = str(tmp_path / "server.db")
    location = StoreLocation.parse(store)
    ensure_schema(location)
    engine = create_store_engine(location)
    try:
        key = AccountStore(engine).create_user("alice")[1]
    finally:
        engine.dispose()
    live = LiveServer(store, tmp_path).start()
    yield live, key
    if live.process is not None and live.process.poll() is None:
        live.stop()


@pytest.mark.timeout(300)  # a reply lost in flight can cost the sender its 30 s request timeout
@pytest.mark.parametrize("seed", [2])
def test_a_flaky_network_loses_and_duplicates_nothing(
    server: tuple[LiveServer, str], monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    live, key = server
    proxy = FlakyProxy(live.port, seed=seed, reset_reply_rate=0.3, reset_request_rate=0.05)
    try:
        monkeypatch.setenv("KISEKI_BASE_URL", proxy.url)
        monkeypatch.setenv("KISEKI_API_KEY", key)
        monkeypatch.setenv("KISEKI_ENTITY", "alice")
        monkeypatch.setenv("KISEKI_FLUSH_INTERVAL", "0.05")
        monkeypatch.setenv("KISEKI_FINISH_TIMEOUT", "90")
        run = kiseki.init(project="flaky", config={"seed": seed})
        for step in range(3000):
            run.log({"x": step, "y": step * 0.25})
            if step % 100 == 0:
                run.summary["checkpoint"] = step
                time.sleep(0.06)  # spread the rows over dozens of requests
        run.finish()
    finally:
        proxy.close()
    assert proxy.resets > 0, "the proxy never interfered: the test proves nothing"
    api = kiseki.Api(base_url=live.url, api_key=key)
    stored = api.run(f"flaky/{run.id}")
    rows = list(stored.scan_history())
    assert [r["x"] for r in rows] == list(range(3000))
    assert [r["y"] for r in rows] == [step * 0.25 for step in range(3000)]
    assert stored.history_rows == 3000
    assert stored.state == "finished"
    assert stored.summary["checkpoint"] == 2900
    api.close()
