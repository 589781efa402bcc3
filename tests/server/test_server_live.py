"""End to end against a real ``kiseki server`` process, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live_server import LiveServer, create_user_key
from server_world import run_records, store_for

from kiseki.httpclient import HttpClient, ServerUnavailableError
from kiseki.sinks.http import record_to_json

pytestmark = pytest.mark.slow
ROWS = 3000
BATCH = 250


def values(step: int) -> dict[str, Any]:
    return {f"m{i}": step * 10 + i for i in range(10)}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return store_for(request, request.param, tmp_path)


@pytest.fixture
def server(store: str, tmp_path: Path) -> Iterator[tuple[LiveServer, str]]:
    key = create_user_key(store)
    live = LiveServer(store, tmp_path).start()
    yield live, key
    if live.process is not None and live.process.poll() is None:
        live.stop()


def post(client: HttpClient, path: str, records: list[Any]) -> dict[str, Any]:
    body = {"records": [record_to_json(r) for r in records]}
    data: dict[str, Any] = client.request("POST", path, body, compress=True).data
    return data


def all_rows(client: HttpClient, run: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    min_step = 0
    while min_step is not None:
        data = client.request(
            "GET", f"/api/v1/runs/{run}/history?limit=1000&min_step={min_step}"
        ).data
        rows.extend(data["rows"])
        min_step = data["next_min_step"]
    return rows


def check_rows(client: HttpClient, run: str, count: int) -> None:
    rows = all_rows(client, run)
    assert [r["_step"] for r in rows] == list(range(count))
    assert all(r["m3"] == r["_step"] * 10 + 3 for r in rows)
    info = client.request("GET", f"/api/v1/runs/{run}").data
    assert info["history_rows"] == count


def test_a_server_restart_mid_stream_loses_and_duplicates_nothing(
    server: tuple[LiveServer, str],
) -> None:
    live, key = server
    records = run_records("r1", rows=ROWS, values=values)
    path = "/api/v1/runs/alice/mnist/r1/records"
    acked = 0
    stop_sending = threading.Event()

    def sender() -> None:  # keeps posting while the server is told to stop
        nonlocal acked
        client = HttpClient(live.url, key, timeout=10)
        try:
            for start in range(0, len(records), BATCH):
                if stop_sending.is_set():
                    return
                acked = post(client, path, records[start : start + BATCH])["applied_seq"]
        except ServerUnavailableError:
            return
        finally:
            client.close()

    thread = threading.Thread(target=sender)
    thread.start()
    while acked < 1000 and thread.is_alive():
        threading.Event().wait(0.01)
    assert live.stop()  # SIGTERM: graceful
    stop_sending.set()
    thread.join()
    assert 0 < acked <= len(records)
    live.start()
    client = HttpClient(live.url, key, timeout=10)
    try:
        resume = client.request("GET", "/api/v1/runs/alice/mnist/r1/resume").data
        assert resume["applied_seq"] >= acked  # everything acknowledged is still there
        overlap_from = max(0, acked - 600)  # resend overlapping batches
        for start in range(overlap_from, len(records), BATCH):
            post(client, path, records[start : start + BATCH])
        check_rows(client, "alice/mnist/r1", ROWS)
    finally:
        client.close()


def test_several_clients_log_at_once(server: tuple[LiveServer, str]) -> None:
    live, key = server
    errors: list[BaseException] = []

    def log_run(number: int) -> None:
        client = HttpClient(live.url, key, timeout=30)
        try:
            records = run_records(f"c{number}", rows=1200, values=values)
            for start in range(0, len(records), 300):
                post(
                    client,
                    f"/api/v1/runs/alice/mnist/c{number}/records",
                    records[start : start + 300],
                )
        except BaseException as exc:
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=log_run, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    client = HttpClient(live.url, key)
    try:
        for number in range(4):
            check_rows(client, f"alice/mnist/c{number}", 1200)
    finally:
        client.close()


def test_several_worker_processes_share_one_sqlite_store(tmp_path: Path) -> None:
    store = str(tmp_path / "server.db")
    key = create_user_key(store)
    live = LiveServer(store, tmp_path, workers=2).start()
    try:
        records = run_records("w1", rows=2000, values=values)
        for start in range(0, len(records), 200):
            client = HttpClient(live.url, key)  # a new connection: any worker may answer
            try:
                post(client, "/api/v1/runs/alice/mnist/w1/records", records[start : start + 200])
                if start % 600 == 0:  # a resend of the previous batch, to another worker
                    post(
                        client,
                        "/api/v1/runs/alice/mnist/w1/records",
                        records[max(0, start - 200) : start + 200],
                    )
            finally:
                client.close()
        client = HttpClient(live.url, key)
        try:
            check_rows(client, "alice/mnist/w1", 2000)
        finally:
            client.close()
    finally:
        assert live.stop()
