"""Files, console lines and system samples through the server: ingest checks, the
``/api/v1`` endpoints (SQLite and PostgreSQL), privacy, and the SDK and read API in remote mode
against a live server."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import kiseki
from kiseki import jsoncodec
from kiseki.runlog.records import ConsoleLines, FileSaved, RunStarted, SystemSampled
from kiseki.server.app import create_app
from kiseki.server.config import ServerConfig
from kiseki.sinks.http import record_to_json

T0 = 1_700_000_000.0
EMPTIED_TABLES = "projects, runs, users, api_keys, teams, team_members, web_sessions"


@pytest.fixture(params=["sqlite", "postgresql"])
def app_client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, Any, dict]]:
    postgres = request.param == "postgresql"
    store = request.getfixturevalue("postgres_url") if postgres else str(tmp_path / "server.db")
    app = create_app(
        ServerConfig(store=store, watchdog_interval=0, blob_store=str(tmp_path / "blobs"))
    )
    if postgres:  # the session's database: empty it, as tests/server does
        import sqlalchemy as sa

        with app.state.service.queries.engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {EMPTIED_TABLES} CASCADE"))
    keys = {name: app.state.accounts.create_user(name)[1] for name in ("alice", "bob")}
    with TestClient(app) as client:
        yield app, client, keys


def post(client: Any, key: str, path: str, records: list[Any]) -> Any:
    return client.post(
        f"/api/v1/runs/{path}/records",
        content=jsoncodec.dumps_bytes({"records": [record_to_json(r) for r in records]}),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )


def test_the_endpoints_serve_files_lines_and_samples(app_client: tuple[Any, Any, dict]) -> None:
    app, client, keys = app_client
    data = b"checkpoint bytes"
    digest = app.state.blobs.put_bytes(data)
    records = [
        RunStarted(1, "r1", "proj", "alice", "first", T0),
        ConsoleLines(2, [[T0 + 1, "stdout", "epoch 1"], [T0 + 2, "stderr", "Warning: slow"]]),
        FileSaved(3, "ckpt/model.pt", digest, len(data), T0, "file"),
        SystemSampled(4, T0 + 15, 15.0, {"system/cpu.percent": 12.5}),
        ConsoleLines(5, [[T0 + 3, "stdout", "epoch 2"]]),
        FileSaved(6, "ckpt/model.pt", digest, len(data), T0 + 5, "file"),
        SystemSampled(7, T0 + 30, 30.0, {"system/cpu.percent": 50.0, "system/gpu.0.gpu": 99}),
    ]
    response = post(client, keys["alice"], "alice/proj/r1", records)
    assert response.status_code == 200, response.text
    alice = {"Authorization": f"Bearer {keys['alice']}"}
    base = "/api/v1/runs/alice/proj/r1"
    files = client.get(f"{base}/files", headers=alice).json()["files"]
    assert [(f["path"], f["size"], f["versions"]) for f in files] == [("ckpt/model.pt", 16, 2)]
    download = client.get(f"{base}/files/ckpt/model.pt", headers=alice)
    assert download.status_code == 200 and download.content == data
    assert hashlib.sha256(download.content).hexdigest() == digest
    lines = client.get(f"{base}/logs", headers=alice).json()
    assert [(x["line_no"], x["stream"], x["text"]) for x in lines["lines"]] == [
        (0, "stdout", "epoch 1"),
        (1, "stderr", "Warning: slow"),
        (2, "stdout", "epoch 2"),
    ]
    assert lines["next_after"] == 2
    newer = client.get(f"{base}/logs", headers=alice, params={"after": 1}).json()
    assert [x["text"] for x in newer["lines"]] == ["epoch 2"]
    found = client.get(f"{base}/logs", headers=alice, params={"search": "WARN"}).json()
    assert [x["text"] for x in found["lines"]] == ["Warning: slow"]
    system = client.get(f"{base}/system", headers=alice).json()
    assert system["count"] == 2
    assert [s["_step"] for s in system["samples"]] == [0, 1]
    assert system["samples"][1]["system/gpu.0.gpu"] == 99
    sampled = client.get(
        f"{base}/history/sample", headers=alice, params={"stream": "system"}
    ).json()
    assert sampled["columns"] == [
        "_step",
        "system/cpu.percent",
        "system/gpu.0.gpu",
        "_runtime",
        "_timestamp",
    ]
    bob = {"Authorization": f"Bearer {keys['bob']}"}
    for path in ("files", "files/ckpt/model.pt", "logs", "system"):
        assert client.get(f"{base}/{path}", headers=bob).status_code == 404, path
    missing = client.get(f"{base}/files/nope.txt", headers=alice)
    assert missing.status_code == 404 and "no saved file" in missing.json()["error"]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (FileSaved(2, "../etc/passwd", "a" * 64, 1, T0), "relative path"),
        (FileSaved(2, "ok.txt", "not-a-digest", 1, T0), "SHA-256"),
        (FileSaved(2, "ok.txt", "a" * 64, 1, T0, "secret"), "file, code"),
        (ConsoleLines(2, [[T0, "stdin", "x"]]), "stream one of"),
        (SystemSampled(2, T0, 1.0, {"cpu": 1.0}), "must start with 'system/'"),
        (SystemSampled(2, T0, 1.0, {"system/cpu": "high"}), "must be a number"),
    ],
)
def test_the_server_refuses_malformed_run_data_records(
    tmp_path: Path, record: Any, message: str
) -> None:
    app = create_app(ServerConfig(store=str(tmp_path / "s.db"), watchdog_interval=0))
    key = app.state.accounts.create_user("alice")[1]
    with TestClient(app) as client:
        start = RunStarted(1, "r1", "proj", "alice", "first", T0)
        response = post(client, key, "alice/proj/r1", [start, record])
    assert response.status_code == 400
    assert message in response.json()["error"]


class ThreadServer:
    """The server app under uvicorn in a thread on a free loopback port."""

    def __init__(self, app: Any) -> None:
        import socket

        import uvicorn

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive()
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.mark.slow
def test_remote_runs_upload_files_and_send_console_and_system_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(ServerConfig(store=str(tmp_path / "server.db"), watchdog_interval=0))
    key = app.state.accounts.create_user("alice")[1]
    live = ThreadServer(app)
    try:
        monkeypatch.setenv("KISEKI_BASE_URL", live.url)
        monkeypatch.setenv("KISEKI_API_KEY", key)
        monkeypatch.chdir(tmp_path)
        (tmp_path / "report.txt").write_text("remote file")
        run = kiseki.init(project="remote", settings={"stats_interval": 0.05})
        print("printed remotely")
        run.save("report.txt", policy="now")
        run.log({"loss": 1.0})
        time.sleep(0.3)
        run.finish()
        assert run._writer.fully_applied
        api = kiseki.Api(base_url=live.url, api_key=key)
        stored = api.run(run.path)
        names = {f.name for f in stored.files()}
        assert {"report.txt", "requirements.txt"} <= names
        report = stored.file("report.txt")
        assert report.download(root=tmp_path / "back").read_text() == "remote file"
        assert [x.text for x in stored.logs(search="remotely")] == ["printed remotely"]
        system = stored.history(stream="system", pandas=False)
        assert system and "system/cpu.percent" in system[0]
        assert stored.last_step == 0
    finally:
        live.stop()


def test_the_web_app_pages_and_json_of_a_run(kiseki_dir: Path, tmp_path: Path) -> None:
    from kiseki.server.app import create_local_app

    run = kiseki.init(project="web", id="webrun01", settings={"stats_interval": 0})
    for i in range(5):
        print(f"line {i}")
    run.finish()
    base = f"/projects/{run.entity}/web/runs/webrun01"
    api = f"/web-api/runs/{run.entity}/web/webrun01"
    with TestClient(create_local_app(kiseki_dir)) as client:
        logs_page = client.get(f"{base}/logs")
        assert logs_page.status_code == 200 and 'id="log-view"' in logs_page.text
        assert 'aria-current="page">Logs</a>' in logs_page.text
        files_page = client.get(f"{base}/files")
        assert files_page.status_code == 200 and 'id="files-table"' in files_page.text
        charts_page = client.get(f"{base}/charts")
        assert 'id="system-section"' in charts_page.text
        newer = client.get(f"{api}/logs", params={"after": 2}).json()
        assert [x["text"] for x in newer["lines"]] == ["line 3", "line 4"]
        assert newer["next_after"] == 4 and newer["state"] == "finished"
        assert newer["more"] is False
        files = client.get(f"{api}/files").json()["files"]
        assert [f["path"] for f in files] == ["requirements.txt"]
        download = client.get(f"{api}/files/requirements.txt")
        assert b"psutil==" in download.content
        assert client.get(f"{api}/system").json() == {"count": 0, "samples": []}
        missing = client.get(f"/projects/{run.entity}/web/runs/nope/logs")
        assert missing.status_code == 404
        assert client.get(f"/web-api/runs/{run.entity}/web/nope/logs").status_code == 404
