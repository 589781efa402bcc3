"""The SDK and the read API against a real ``kiseki server``: streaming, outages, stop, login."""

from __future__ import annotations

import math
import os
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from live_server import LiveServer

import kiseki
from kiseki.cli.main import cli
from kiseki.store.accounts import AccountStore
from kiseki.store.database import StoreLocation, create_store_engine, ensure_schema

pytestmark = pytest.mark.slow


def create_user(store: str, name: str) -> str:
    """Create ``name`` in the server's store; return their API key."""
    location = StoreLocation.parse(store)
    ensure_schema(location)
    engine = create_store_engine(location)
    try:
        return AccountStore(engine).create_user(name)[1]
    finally:
        engine.dispose()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[LiveServer, str]]:
    """A live server on SQLite and alice's API key."""
    store = str(tmp_path / "server.db")
    key = create_user(store, "alice")
    live = LiveServer(store, tmp_path).start()
    yield live, key
    if live.process is not None and live.process.poll() is None:
        live.stop()


@pytest.fixture
def remote(server: tuple[LiveServer, str], monkeypatch: pytest.MonkeyPatch) -> LiveServer:
    """Point the SDK and the read API of this process at the live server."""
    live, key = server
    monkeypatch.setenv("KISEKI_BASE_URL", live.url)
    monkeypatch.setenv("KISEKI_API_KEY", key)
    monkeypatch.setenv("KISEKI_HEARTBEAT_INTERVAL", "0.3")
    return live


def log_sample_run(project: str) -> str:
    """Log a run with every kind of value; return its id."""
    run = kiseki.init(
        project=project, config={"lr": 0.1, "model": {"depth": 3}}, tags=["t1"], group="g"
    )
    run.define_metric("loss", summary="min")
    for step in range(1500):
        values: dict[str, Any] = {"loss": 1.0 / (step + 1), "count": step}
        if step % 100 == 0:
            values.update({"note": f"s{step}", "flag": step % 200 == 0, "nan": math.nan})
        run.log(values)
    run.summary["best"] = 7
    run.finish()
    return run.id


def comparable(run: Any) -> dict[str, Any]:
    """What a user sees of a run, minus what differs between two stores (times, ids)."""
    rows = [
        {k: ("nan" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        for row in run.scan_history()
    ]
    for row in rows:
        row.pop("_runtime"), row.pop("_timestamp")
    return {
        "state": run.state,
        "config": run.config,
        "summary": {k: v for k, v in run.summary.items() if k != "nan"},
        "tags": list(run.tags),
        "group": run.group,
        "rows": rows,
        "history_rows": run.history_rows,
        "keys": run.history_keys(),
        "sampled": len(run.history(samples=50, pandas=False)),
    }


def test_a_run_streamed_to_the_server_reads_back_like_the_embedded_store(
    remote: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = log_sample_run("remote-proj")
    api = kiseki.Api()
    assert api.base_url == remote.url
    stored = api.run(f"remote-proj/{run_id}")
    assert stored.entity == "alice" and stored.author == "alice"
    assert stored.state == "finished"
    assert stored.summary["loss"] == {"min": 1.0 / 1500}
    remote_view = comparable(stored)
    found = api.runs("remote-proj", {"config.model.depth": 3, "tags": "t1"}, "-created_at")
    assert [r.id for r in found] == [run_id]

    monkeypatch.delenv("KISEKI_BASE_URL")
    monkeypatch.delenv("KISEKI_API_KEY")
    local_id = log_sample_run("local-proj")
    local_view = comparable(kiseki.Api().run(f"local-proj/{local_id}"))
    assert remote_view == local_view


def test_scan_history_and_history_with_several_keys_through_the_server(remote: LiveServer) -> None:
    run = kiseki.init(project="keys-proj")
    for step in range(30):
        run.log({"a": step, "b": -step, "c": 0.5} if step % 3 else {"a": step})
    run.finish()
    stored = kiseki.Api().run(f"keys-proj/{run.id}")
    rows = list(stored.scan_history(keys=["a", "b"], page_size=4))
    assert [(r["_step"], r["a"], r["b"]) for r in rows] == [(s, s, -s) for s in range(30) if s % 3]
    assert all(set(r) == {"_step", "a", "b"} for r in rows)
    sampled = stored.history(samples=100, keys=["a", "b"], pandas=False)
    assert [(r["a"], r["b"]) for r in sampled] == [(s, -s) for s in range(30) if s % 3]


def test_log_never_blocks_while_the_server_is_down_and_data_arrives_later(
    remote: LiveServer,
) -> None:
    run = kiseki.init(project="outage")
    for step in range(100):
        run.log({"x": step})
    time.sleep(0.5)
    remote.stop()
    slowest = 0.0
    for step in range(100, 300):
        started = time.perf_counter()
        run.log({"x": step})
        slowest = max(slowest, time.perf_counter() - started)
    assert slowest < 0.05, f"log() blocked for {slowest * 1000:.0f} ms during the outage"
    time.sleep(0.5)
    remote.start()
    run.finish()
    stored = kiseki.Api().run(f"outage/{run.id}")
    assert stored.state == "finished"
    assert [r["x"] for r in stored.scan_history()] == list(range(300))


def test_finish_with_the_server_down_returns_in_time_and_says_how_to_sync(
    remote: LiveServer, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KISEKI_FINISH_TIMEOUT", "2")
    run = kiseki.init(project="late")
    run.log({"x": 1})
    time.sleep(0.5)
    remote.stop()
    run.log({"x": 2})
    started = time.monotonic()
    run.finish(quiet=False)
    assert time.monotonic() - started < 5
    err = capfd.readouterr().err
    assert "kiseki sync" in err and run.dir in err


def test_a_run_stopped_from_the_api_finishes_as_killed(
    remote: LiveServer, server: tuple[LiveServer, str], tmp_path: Path
) -> None:
    _, key = server
    script = textwrap.dedent(
        """
        import time, kiseki
        run = kiseki.init(project="stoppable", id="stopme01")
        for i in range(600):
            run.log({"i": i})
            if run.finished:  # a stopped run is finished; a script may check and leave
                break
            time.sleep(0.05)
        run.log({"after": 1})  # ignored, not an error
        """
    )
    env = dict(os.environ, KISEKI_DIR=str(tmp_path / "child"))
    child = subprocess.Popen(
        [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    api = kiseki.Api()
    deadline = time.monotonic() + 20
    while True:
        try:
            if api.run("stoppable/stopme01").history_rows > 5:
                break
        except kiseki.NotFoundError:
            pass
        assert time.monotonic() < deadline, "the child's run never reached the server"
        time.sleep(0.1)
    from kiseki.httpclient import HttpClient

    client = HttpClient(remote.url, key)
    client.request("POST", "/api/v1/runs/alice/stoppable/stopme01/stop", {})
    client.close()
    _, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert b"was stopped" in err
    stored = kiseki.Api().run("stoppable/stopme01")
    assert stored.state == "killed"
    assert stored.history_rows < 600


def test_login_saves_the_key_privately_and_is_used_without_environment(
    server: tuple[LiveServer, str], kiseki_dir: Path
) -> None:
    live, key = server
    result = CliRunner().invoke(cli, ["login", "--host", live.url, "--key", key])
    assert result.exit_code == 0, result.output
    assert "alice" in result.output
    saved = kiseki_dir / "credentials.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    run = kiseki.init(project="after-login")
    run.log({"x": 1})
    run.finish()
    assert kiseki.Api().run(f"after-login/{run.id}").summary["x"] == 1
    bad = CliRunner().invoke(cli, ["login", "--host", live.url, "--key", "ks-" + "0" * 48])
    assert bad.exit_code == 1
    assert "refused" in bad.output


def test_privacy_from_init_and_from_the_read_api(
    remote: LiveServer, server: tuple[LiveServer, str], tmp_path: Path
) -> None:
    from kiseki.httpclient import HttpClient

    public = kiseki.init(project="shared", settings={"privacy": "public"})
    public.finish()
    private = kiseki.init(project="shared")
    private.finish()
    anonymous = HttpClient(remote.url, None)
    try:
        seen = anonymous.request(
            "POST", "/api/v1/projects/alice/shared/runs/query", {"filters": {}}
        ).data["runs"]
        assert [r["run_id"] for r in seen] == [public.id]
        run = kiseki.Api().run(f"shared/{private.id}")
        assert run.privacy == "private"
        run.privacy = "public"
        run.update()
        seen = anonymous.request(
            "POST", "/api/v1/projects/alice/shared/runs/query", {"filters": {}}
        ).data["runs"]
        assert sorted(r["run_id"] for r in seen) == sorted([public.id, private.id])
    finally:
        anonymous.close()


def test_server_down_for_the_whole_run_then_kiseki_sync_delivers_everything_once(
    remote: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote.stop()
    monkeypatch.setenv("KISEKI_FINISH_TIMEOUT", "1")
    monkeypatch.setenv("KISEKI_ENTITY", "alice")
    run = kiseki.init(project="late-sync", config={"lr": 0.5})
    for step in range(2500):
        run.log({"x": step, "y": step * 0.5})
    run.finish()
    remote.start()
    first = CliRunner().invoke(cli, ["sync"], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert f"alice/late-sync/{run.id}: applied" in first.output
    stored = kiseki.Api().run(f"late-sync/{run.id}")
    assert stored.state == "finished" and stored.config == {"lr": 0.5}
    assert [r["x"] for r in stored.scan_history()] == list(range(2500))
    again = CliRunner().invoke(cli, ["sync", run.dir], catch_exceptions=False)
    assert "applied 0 of" in again.output
    assert kiseki.Api().run(f"late-sync/{run.id}").history_rows == 2500


def test_sync_to_an_unreachable_server_says_so_and_uploads_nothing(
    remote: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KISEKI_FINISH_TIMEOUT", "1")
    remote.stop()
    run = kiseki.init(project="nowhere", mode="offline")
    run.log({"x": 1})
    run.finish()
    result = CliRunner().invoke(cli, ["sync"])
    assert result.exit_code == 1
    assert "cannot be reached" in result.output
