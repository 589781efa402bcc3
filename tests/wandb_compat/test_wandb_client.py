"""The official ``wandb`` client, unmodified, logs to a live kiseki server and reads back.

Each test drives the real client (both pinned versions, each in its own venv) in a
subprocess; ``kiseki.Api`` and ``wandb.Api`` must then both read exactly what was logged, and
the run page of the web app must show the run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from live_server import LiveServer
from wandb_harness import (
    ARTIFACT_SCRIPT,
    HANG_SCRIPT,
    HEARTBEAT_TIMEOUT_S,
    LOG_SCRIPT,
    READ_SCRIPT,
    STOPPABLE_SCRIPT,
    WANDB_VERSIONS,
    client_env,
    last_json,
    run_script,
    start_script,
    wandb_python,
)

import kiseki
from kiseki.errors import NotFoundError

pytestmark = pytest.mark.slow  # drives real clients or ML libraries: full suite only

ROWS = 1000
VERSIONS = pytest.mark.parametrize("version", sorted(WANDB_VERSIONS, reverse=True))


def spec(project: str, *, exit_code: int = 0, mode: str = "online") -> dict[str, Any]:
    """What the log script logs."""
    return {
        "project": project,
        "config": {"lr": 0.01, "optimizer": {"name": "adam", "betas": [0.9, 0.99]}},
        "config_update": {"batch_size": 32},
        "tags": ["baseline", "wandb-client"],
        "notes": "logged by the official client",
        "group": "exp-1",
        "mode": mode,
        "rows": ROWS,
        "exit_code": exit_code,
    }


def expected_row(i: int) -> dict[str, Any]:
    """The user's values of history row ``i`` (nested dicts flattened with '.', as W&B's
    server does)."""
    return {"loss": 1.0 / (i + 1), "acc": (i % 100) / 100, "nested.x": i, "nested.y.z": 2 * i}


def check_with_kiseki_api(server: LiveServer, key: str, path: str, logged: dict[str, Any]) -> None:
    """``kiseki.Api`` reads back what the client logged."""
    api = kiseki.Api(base_url=server.url, api_key=key)
    run = api.run(path)
    assert run.state == ("finished" if logged["exit_code"] == 0 else "failed")
    assert run.exit_code == logged["exit_code"]
    assert run.tags == logged["tags"]
    assert run.notes == logged["notes"]
    assert run.group == logged["group"]
    assert run.config == {**logged["config"], **logged["config_update"]}
    assert run.summary["best"] == 42
    assert run.summary["loss"] == -1.0
    assert run.summary["acc"] == {"max": 0.99}
    assert run.summary["nested"] == {"x": ROWS - 1, "y": {"z": 2 * (ROWS - 1)}}
    rows = list(run.scan_history())
    assert [r["_step"] for r in rows] == list(range(ROWS))
    for i, row in enumerate(rows):
        assert {k: row[k] for k in expected_row(i)} == expected_row(i)
    assert "notes.txt" in [f.name for f in run.files()]
    assert any(line.text == "hello from the script" for line in run.logs())


def check_with_wandb_api(
    python: Path, env: dict[str, str], tmp: Path, path: str, logged: dict[str, Any]
) -> None:
    """``wandb.Api`` reads back what the client logged."""
    read = last_json(run_script(python, READ_SCRIPT, [path, str(tmp / "dl")], env, tmp).stdout)
    assert path.rsplit("/", 1)[1] in read["listed"]
    assert read["state"] == ("finished" if logged["exit_code"] == 0 else "failed")
    assert read["tags"] == logged["tags"]
    assert read["notes"] == logged["notes"]
    assert read["group"] == logged["group"]
    config = {k: v for k, v in read["config"].items() if not k.startswith("_")}
    assert config == {**logged["config"], **logged["config_update"]}
    assert read["summary"]["best"] == 42
    assert read["summary"]["acc"] == {"max": 0.99}
    history = read["history"]
    assert [r["_step"] for r in history] == list(range(ROWS))
    for i, row in enumerate(history):
        assert {k: row[k] for k in expected_row(i)} == expected_row(i)
    assert [r["loss"] for r in read["loss_history"]] == [1.0 / (i + 1) for i in range(ROWS)]
    assert [(r["_step"], r["nested.x"]) for r in read["scan"]] == [(i, i) for i in range(ROWS)]
    assert read["summary"]["nested"] == {"x": ROWS - 1, "y": {"z": 2 * (ROWS - 1)}}
    assert "notes.txt" in read["files"]
    assert read["notes_file"] == "saved by wandb.save"


def check_web_page(server: LiveServer, key: str, path: str) -> None:
    """The run page of the web app shows the run."""
    entity, project, run_id = path.split("/")
    request = urllib.request.Request(
        f"{server.url}/projects/{entity}/{project}/runs/{run_id}",
        headers={"Authorization": f"Bearer {key}", "Accept": "text/html"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        page = response.read().decode()
    assert run_id in page


def log_run(
    version: str, server: LiveServer, key: str, tmp: Path, **options: Any
) -> tuple[Path, dict[str, str], dict[str, Any], str]:
    """Run the log script; returns the client's python, env, what it logged and the run id."""
    python = wandb_python(version)
    env = client_env(server.url, key, tmp / "wandb")
    logged = spec(f"compat-{version.replace('.', '')}", **options)
    done = run_script(python, LOG_SCRIPT, [json.dumps(logged)], env, tmp / "work")
    return python, env, logged, last_json(done.stdout)["id"]


@VERSIONS
def test_a_run_logged_by_wandb_reads_back_through_both_apis(
    version: str, wandb_server: tuple[LiveServer, str], tmp_path: Path
) -> None:
    server, key = wandb_server
    python, env, logged, run_id = log_run(version, server, key, tmp_path)
    path = f"alice/{logged['project']}/{run_id}"
    check_with_kiseki_api(server, key, path, logged)
    check_with_wandb_api(python, env, tmp_path, path, logged)
    check_web_page(server, key, path)


@VERSIONS
def test_a_nonzero_exit_code_ends_the_run_failed(
    version: str, wandb_server: tuple[LiveServer, str], tmp_path: Path
) -> None:
    server, key = wandb_server
    python, env, logged, run_id = log_run(version, server, key, tmp_path, exit_code=1)
    path = f"alice/{logged['project']}/{run_id}"
    check_with_kiseki_api(server, key, path, logged)
    check_with_wandb_api(python, env, tmp_path, path, logged)


@pytest.mark.slow
@VERSIONS
def test_an_offline_run_synced_with_wandb_sync_arrives_whole(
    version: str, wandb_server: tuple[LiveServer, str], tmp_path: Path
) -> None:
    server, key = wandb_server
    python, env, logged, run_id = log_run(version, server, key, tmp_path, mode="offline")
    path = f"alice/{logged['project']}/{run_id}"
    with pytest.raises(NotFoundError):  # offline: nothing reached the server yet
        kiseki.Api(base_url=server.url, api_key=key).run(path)
    run_dirs = sorted((tmp_path / "wandb" / "wandb").glob(f"offline-run-*-{run_id}"))
    assert run_dirs, "the offline run left no run directory"
    wandb_cli = python.parent / "wandb"
    done = subprocess.run(
        [str(wandb_cli), "sync", str(run_dirs[0])],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    check_with_kiseki_api(server, key, path, logged)
    check_with_wandb_api(python, env, tmp_path, path, logged)


@pytest.mark.slow
@VERSIONS
def test_a_sigkilled_client_ends_crashed(
    version: str, wandb_server: tuple[LiveServer, str], tmp_path: Path
) -> None:
    server, key = wandb_server
    python = wandb_python(version)
    env = client_env(server.url, key, tmp_path / "wandb")
    project = f"crash-{version.replace('.', '')}"
    process, run_id = start_script(python, HANG_SCRIPT, [project], env, tmp_path)
    try:
        api = kiseki.Api(base_url=server.url, api_key=key)
        assert api.run(f"alice/{project}/{run_id}").state == "running"
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        if process.stdout is not None:
            process.stdout.close()
    deadline = time.monotonic() + HEARTBEAT_TIMEOUT_S * 4
    state = "running"
    while time.monotonic() < deadline:
        state = kiseki.Api(base_url=server.url, api_key=key).run(f"alice/{project}/{run_id}").state
        if state == "crashed":
            break
        time.sleep(0.5)
    assert state == "crashed"


@VERSIONS
def test_an_artifact_logged_by_wandb_is_a_kiseki_artifact_and_downloads_back(
    version: str, wandb_server: tuple[LiveServer, str], tmp_path: Path
) -> None:
    server, key = wandb_server
    python = wandb_python(version)
    env = client_env(server.url, key, tmp_path / "wandb")
    project = f"artifacts-{version.replace('.', '')}"
    done = run_script(python, ARTIFACT_SCRIPT, [project, str(tmp_path / "dl")], env, tmp_path)
    result = last_json(done.stdout)
    assert result["contents"] == {"a.txt": "alpha", os.path.join("sub", "b.txt"): "beta"}
    assert result["version"] == "v0"
    api = kiseki.Api(base_url=server.url, api_key=key)
    artifact = api.artifact(f"alice/{project}/dataset:best")
    assert artifact.version == "v0"  # logged twice with the same content: one version
    assert sorted(artifact.aliases) == ["best", "latest"]
    folder = Path(artifact.download(root=str(tmp_path / "kiseki-dl")))
    assert (folder / "a.txt").read_text() == "alpha"
    assert (folder / "sub" / "b.txt").read_text() == "beta"
    first, _second, user = (api.run(f"alice/{project}/{run_id}") for run_id in result["ids"])
    assert [a.version for a in first.logged_artifacts()] == ["v0"]
    assert [a.version for a in user.used_artifacts()] == ["v0"]


@pytest.mark.slow
@VERSIONS
def test_a_run_stopped_from_the_web_app_stops_the_client_and_ends_killed(
    version: str, wandb_server: tuple[LiveServer, str], tmp_path: Path
) -> None:
    server, key = wandb_server
    python = wandb_python(version)
    env = client_env(server.url, key, tmp_path / "wandb")
    project = f"stop-{version.replace('.', '')}"
    process, run_id = start_script(python, STOPPABLE_SCRIPT, [project], env, tmp_path)
    try:
        stop = urllib.request.Request(
            f"{server.url}/api/v1/runs/alice/{project}/{run_id}/stop",
            method="POST",
            headers={"Authorization": f"Bearer {key}"},
        )
        with urllib.request.urlopen(stop, timeout=30) as response:
            assert response.status == 200
        assert process.stdout is not None
        output = process.stdout.read()  # until the client exits
        process.wait(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
    assert "stopped_after" in output  # the client stopped before its 80 s loop ended
    run = kiseki.Api(base_url=server.url, api_key=key).run(f"alice/{project}/{run_id}")
    assert run.state == "killed"
    # the client's system metrics (wandb-events.jsonl) are kiseki's system stream
    system = run.history(stream="system", pandas=False)
    assert system and any(key.startswith("system/") for key in system[0])
