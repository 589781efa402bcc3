"""Issue 5, server-side fault scenarios.

Scenario 4: a network that resets 30 % of replies and delays the rest loses and duplicates
nothing. Scenario 6 (server half): 50 processes log to one live server at once; every run ends
``finished`` with exactly its rows, once each.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flaky_proxy import FlakyProxy
from live_server import LiveServer, create_user_key

import kiseki

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[LiveServer, str]]:
    """A live server on SQLite and alice's API key."""
    store = str(tmp_path / "server.db")
    key = create_user_key(store)
    live = LiveServer(store, tmp_path).start()
    yield live, key
    if live.process is not None and live.process.poll() is None:
        live.stop()


@pytest.mark.timeout(300)  # ~7 s each; generous for a loaded machine
@pytest.mark.parametrize("seed", [1, 2, 3])
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
            if step % 50 == 0:
                time.sleep(0.1)  # spread the rows over dozens of requests
            if step % 100 == 0:
                run.summary["checkpoint"] = step
        run.finish()
    finally:
        proxy.close()
    print(f"\nthe proxy lost {proxy.lost_replies} replies, cut {proxy.cut_requests} requests")
    assert proxy.lost_replies >= 3, "the proxy hardly interfered: the test proves little"
    api = kiseki.Api(base_url=live.url, api_key=key)
    stored = api.run(f"flaky/{run.id}")
    rows = list(stored.scan_history())
    assert [r["x"] for r in rows] == list(range(3000))
    assert [r["y"] for r in rows] == [step * 0.25 for step in range(3000)]
    assert stored.history_rows == 3000
    assert stored.state == "finished"
    assert stored.summary["checkpoint"] == 2900
    api.close()


FLAKY_CHILD = """
    import sys, time, kiseki
    worker = int(sys.argv[1])
    run = kiseki.init(project="flaky-crowd", id=f"flaky{worker}", config={"worker": worker})
    for step in range(1000):
        run.log({"worker": worker, "x": step, "y": step * 0.5})
        if step % 20 == 0:
            run.summary["checkpoint"] = step
            time.sleep(0.1)  # spread the rows over many requests
    run.finish()
    """


@pytest.mark.timeout(300)
def test_three_processes_through_a_flaky_network_lose_and_duplicate_nothing(
    server: tuple[LiveServer, str], tmp_path: Path
) -> None:
    live, key = server
    proxy = FlakyProxy(live.port, seed=7, reset_reply_rate=0.3, reset_request_rate=0.05)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KISEKI_", "WANDB_"))}
    env.update(
        KISEKI_DIR=str(tmp_path / "clients"),
        KISEKI_BASE_URL=proxy.url,
        KISEKI_API_KEY=key,
        KISEKI_ENTITY="alice",
        KISEKI_SILENT="true",
        KISEKI_FLUSH_INTERVAL="0.05",
        KISEKI_FINISH_TIMEOUT="120",
    )
    children = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(FLAKY_CHILD), str(n)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    try:
        for child in children:
            _, err = child.communicate(timeout=240)
            assert child.returncode == 0, err
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
        proxy.close()
    print(f"\nthe proxy lost {proxy.lost_replies} replies, cut {proxy.cut_requests} requests")
    assert proxy.lost_replies >= 3, "the proxy hardly interfered: the test proves little"
    api = kiseki.Api(base_url=live.url, api_key=key)  # straight to the server
    for n in range(3):
        stored = api.run(f"alice/flaky-crowd/flaky{n}")
        rows = list(stored.scan_history())
        assert [r["_step"] for r in rows] == list(range(1000)), stored.id
        assert [(r["worker"], r["x"], r["y"]) for r in rows] == [
            (n, step, step * 0.5) for step in range(1000)
        ]
        assert stored.history_rows == 1000
        assert stored.state == "finished"
        assert stored.summary["checkpoint"] == 980
        assert stored.config["worker"] == n
    api.close()


CROWD_PROCESSES = 50
CROWD_ROWS = 10_000

CROWD_CHILD = """
    import sys, kiseki
    worker = int(sys.argv[1])
    rows = int(sys.argv[2])
    run = kiseki.init(project="crowd", id=f"crowd{worker:03d}", config={"worker": worker})
    for i in range(rows):
        kiseki.log({"worker": worker, "i": i, "loss": 1.0 / (i + 1)})
    kiseki.finish()
    """


@pytest.mark.timeout(600)
def test_fifty_processes_log_to_one_server_at_once(
    server: tuple[LiveServer, str], tmp_path: Path
) -> None:
    live, key = server
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KISEKI_", "WANDB_"))}
    env.update(
        KISEKI_DIR=str(tmp_path / "clients"),
        KISEKI_BASE_URL=live.url,
        KISEKI_API_KEY=key,
        KISEKI_ENTITY="alice",
        KISEKI_SILENT="true",
        KISEKI_FINISH_TIMEOUT="240",
    )
    started = time.monotonic()
    children = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(CROWD_CHILD), str(n), str(CROWD_ROWS)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(CROWD_PROCESSES)
    ]
    try:
        for child in children:
            _, err = child.communicate(timeout=500)
            assert child.returncode == 0, err
            assert "kiseki" not in err, err  # no warning: nothing failed, nothing was retried
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    logged_in = time.monotonic() - started

    api = kiseki.Api(base_url=live.url, api_key=key)
    read_started = time.monotonic()
    runs = {run.id: run for run in api.runs("alice/crowd")}
    assert sorted(runs) == [f"crowd{n:03d}" for n in range(CROWD_PROCESSES)]
    for n in range(CROWD_PROCESSES):
        run = runs[f"crowd{n:03d}"]
        assert run.state == "finished" and run.history_rows == CROWD_ROWS, run.id
        rows = list(run.scan_history(keys=["worker", "i"]))
        assert [row["i"] for row in rows] == list(range(CROWD_ROWS)), run.id
        assert [row["_step"] for row in rows] == list(range(CROWD_ROWS)), run.id
        assert {row["worker"] for row in rows} == {n}, run.id
    read_in = time.monotonic() - read_started
    api.close()
    print(
        f"\n{CROWD_PROCESSES} processes x {CROWD_ROWS} rows logged to one server in "
        f"{logged_in:.1f} s; read back in {read_in:.1f} s"
    )
