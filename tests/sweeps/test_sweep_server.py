"""The same sweep driven through a live ``kiseki server`` by agents in separate processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import kiseki
from kiseki.cli.main import cli
from kiseki.errors import ApiError, AuthError
from kiseki.httpclient import HttpClient, ServerUnavailableError
from kiseki.store.accounts import AccountStore
from kiseki.store.database import StoreLocation, create_store_engine, ensure_schema

pytestmark = pytest.mark.slow

AGENT_SCRIPT = """
import sys, time, kiseki

def train():
    run = kiseki.init()
    time.sleep(0.05)
    for step in range(3):
        run.log({"acc": run.config.width / 100 + step / 1000})

print(kiseki.agent(sys.argv[1], function=train).trials)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def sweep_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A live server on SQLite with the user alice; yields its URL and her API key."""
    store = str(tmp_path / "server.db")
    location = StoreLocation.parse(store)
    ensure_schema(location)
    engine = create_store_engine(location)
    key = AccountStore(engine).create_user("alice")[1]
    engine.dispose()
    port = _free_port()
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed below
    command = [sys.executable, "-c", "from kiseki.cli.main import main; main()", "server"]
    process = subprocess.Popen(
        [*command, "--db", store, "--port", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    probe = HttpClient(url, None, timeout=2.0)
    deadline = time.monotonic() + 30
    while True:
        try:
            probe.request("GET", "/api/v1/version")
            break
        except ServerUnavailableError:
            assert process.poll() is None and time.monotonic() < deadline, (
                tmp_path / "server.log"
            ).read_text()
            time.sleep(0.1)
    probe.close()
    yield url, key
    process.send_signal(signal.SIGTERM)
    process.wait(30)
    log.close()


def test_agents_on_other_machines_share_a_sweep_through_the_server(
    sweep_server: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, key = sweep_server
    monkeypatch.setenv("KISEKI_BASE_URL", url)
    monkeypatch.setenv("KISEKI_API_KEY", key)
    config = {
        "method": "grid",
        "metric": {"name": "acc", "goal": "maximize"},
        "parameters": {"width": {"values": [8, 16, 32, 64]}, "depth": {"values": [1, 2]}},
    }
    sweep_id = kiseki.sweep(config, project="remote-grid")
    path = f"alice/remote-grid/{sweep_id}"
    env = {k: v for k, v in os.environ.items() if k != "KISEKI_DIR"}
    agents = [
        subprocess.Popen(
            [sys.executable, "-c", AGENT_SCRIPT, path],
            stdout=subprocess.PIPE,
            text=True,
            # another machine: its own KISEKI_DIR, so nothing is shared but the server
            env={**env, "KISEKI_DIR": str(Path(os.environ["KISEKI_DIR"]) / f"machine-{i}")},
        )
        for i in range(2)
    ]
    total = 0
    for process in agents:
        out, _ = process.communicate(timeout=100)
        assert process.returncode == 0
        total += int(out.strip().splitlines()[-1])
    assert total == 8

    sweep = kiseki.Api().sweep(f"remote-grid/{sweep_id}")
    assert sweep.state == "finished"
    points = Counter((t["params"]["width"], t["params"]["depth"]) for t in sweep.trials)
    assert points == Counter({(w, d): 1 for w in (8, 16, 32, 64) for d in (1, 2)})
    assert len(sweep.runs) == 8 and {r.state for r in sweep.runs} == {"finished"}
    best = sweep.best_run()
    assert best is not None and best.config["width"] == 64

    result = CliRunner().invoke(cli, ["sweep", "--cancel", path], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "cancelled" in result.output
    assert kiseki.Api().sweep(f"remote-grid/{sweep_id}").state == "cancelled"


def test_server_checks_rights_and_configs(sweep_server: tuple[str, str]) -> None:
    url, key = sweep_server
    anonymous = HttpClient(url, None)
    alice = HttpClient(url, key)
    config = {"method": "random", "parameters": {"lr": {"min": 0.0, "max": 1.0}}}
    with pytest.raises(AuthError):
        anonymous.request("POST", "/api/v1/sweeps/alice/p", {"config": config})
    with pytest.raises(ApiError, match=r"parameters\.lr\.distribution"):
        alice.request(
            "POST",
            "/api/v1/sweeps/alice/p",
            {"config": {**config, "parameters": {"lr": {"distribution": "nope"}}}},
        )
    created = alice.request("POST", "/api/v1/sweeps/alice/p", {"config": config}).data
    sweep_path = f"/api/v1/sweeps/alice/p/{created['sweep_id']}"
    with pytest.raises((AuthError, kiseki.NotFoundError)):
        anonymous.request("POST", sweep_path + "/next", {"agent": "intruder"})
    answer = alice.request("POST", sweep_path + "/next", {"agent": "a1"}).data
    assert answer["trial"]["params"]["lr"] >= 0.0 and answer["state"] == "running"
    paused = alice.request("POST", sweep_path + "/control", {"action": "pause"}).data
    assert paused["state"] == "paused"
    answer = alice.request("POST", sweep_path + "/next", {"agent": "a1"}).data
    assert answer["trial"] is None and "paused" in answer["reason"]
    found = alice.request("GET", f"/api/v1/sweeps?sweep_id={created['sweep_id']}").data
    assert [x["project"] for x in found["sweeps"]] == ["p"]
    hidden = anonymous.request("GET", f"/api/v1/sweeps?sweep_id={created['sweep_id']}").data
    assert hidden["sweeps"] == []  # alice's project is private
    anonymous.close()
    alice.close()
