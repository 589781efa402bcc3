"""Saved workspaces (per user and project, on the server), the runs payload the runs table
uses, and the compare page, in-process against ``kiseki server``'s app (sign-in on)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from seed import Seeder, training_rows

from kiseki.server.app import create_app
from kiseki.server.config import ServerConfig
from kiseki.server.service import Viewer
from kiseki.store.workspace_states import MAX_STATE_BYTES

WRITE = {"X-Kiseki-Web": "1"}
STATE = "/web-api/projects/alice/cifar/state"
SAVED = {"hidden": ["run-1"], "colors": {"run-0": "#be185d"}, "n": 3, "table": True}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The server app on a store with alice's public project cifar (three runs) and her
    private project secret; API keys of alice and bob."""
    directory: Path = tmp_path_factory.mktemp("workspace-state")
    seeder = Seeder(directory)
    for index, lr in enumerate((1e-3, 3e-4, 1e-1)):
        seeder.log_run(
            f"run-{index}",
            name=f"run-{index}",
            config={"optimizer": {"lr": lr}, "epochs": 5},
            rows=training_rows(10, index, lr),
        )
    seeder.log_run("hidden-1", project="secret", rows=training_rows(5, 0, 1e-3))
    seeder.close()
    app = create_app(
        ServerConfig(store=str(seeder.location.sqlite_path), watchdog_interval=0, auth=True)
    )
    keys = {name: app.state.accounts.create_user(name)[1] for name in ("alice", "bob")}
    alice = Viewer("alice", entities=frozenset({"alice"}))
    app.state.service.update_project(alice, "alice", "cifar", "public")
    for run_id in ("run-0", "run-1", "run-2"):
        run = app.state.service.run(alice, "alice", "cifar", run_id)
        app.state.service.update_run(alice, run, {"privacy": "public"})
    with TestClient(app) as client:
        yield client, keys


def as_user(keys: dict[str, str], user: str, write: bool = False) -> dict[str, str]:
    """Headers of ``user``'s API key (and the web app's write header)."""
    return {"Authorization": f"Bearer {keys[user]}", **(WRITE if write else {})}


def test_a_saved_workspace_is_read_back_by_its_user_only(world: Any) -> None:
    client, keys = world
    assert client.get(STATE, headers=as_user(keys, "alice")).json() == {
        "state": None,
        "saved_at": None,
    }
    saved = client.put(STATE, json={"state": SAVED}, headers=as_user(keys, "alice", True))
    assert saved.status_code == 200, saved.text
    mine = client.get(STATE, headers=as_user(keys, "alice")).json()
    assert mine["state"] == SAVED and mine["saved_at"] == saved.json()["saved_at"]
    # bob sees the public project but not alice's workspace: he has his own
    assert client.get(STATE, headers=as_user(keys, "bob")).json()["state"] is None
    bobs = {"n": 1}
    assert client.put(STATE, json={"state": bobs}, headers=as_user(keys, "bob", True)).is_success
    assert client.get(STATE, headers=as_user(keys, "bob")).json()["state"] == bobs
    assert client.get(STATE, headers=as_user(keys, "alice")).json()["state"] == SAVED
    # saving again replaces; resetting forgets only one's own
    again = {**SAVED, "n": 7}
    client.put(STATE, json={"state": again}, headers=as_user(keys, "alice", True))
    assert client.get(STATE, headers=as_user(keys, "alice")).json()["state"] == again
    reset = client.delete(STATE, headers=as_user(keys, "bob", True))
    assert reset.json() == {"reset": True}
    assert client.get(STATE, headers=as_user(keys, "alice")).json()["state"] == again
    assert client.get(STATE, headers=as_user(keys, "bob")).json()["state"] is None


def test_nobody_reads_or_writes_a_workspace_of_a_project_they_cannot_see(world: Any) -> None:
    client, keys = world
    secret = "/web-api/projects/alice/secret/state"
    assert client.put(
        secret, json={"state": {"n": 2}}, headers=as_user(keys, "alice", True)
    ).is_success
    for method in ("get", "put", "delete"):
        extra: dict[str, Any] = {"json": {"state": {"n": 9}}} if method == "put" else {}
        answer = getattr(client, method)(secret, headers=as_user(keys, "bob", True), **extra)
        assert answer.status_code == 404, answer.text
        assert answer.json() == {"error": "No project alice/secret."}
    assert client.get(secret, headers=as_user(keys, "alice")).json()["state"] == {"n": 2}


def test_anonymous_viewers_keep_their_workspace_in_the_browser(world: Any) -> None:
    client, _ = world
    page = client.get("/projects/alice/cifar")
    assert page.status_code == 200 and 'data-save="browser"' in page.text
    answer = client.get(STATE)
    assert answer.status_code == 403 and "Sign in to save your workspace" in answer.json()["error"]
    assert client.put(STATE, json={"state": {"n": 2}}, headers=WRITE).status_code == 403


def test_saving_needs_the_web_header_and_a_json_object_of_sensible_size(world: Any) -> None:
    client, keys = world
    no_header = client.put(STATE, json={"state": {"n": 2}}, headers=as_user(keys, "alice"))
    assert no_header.status_code == 400 and "X-Kiseki-Web" in no_header.json()["error"]
    not_object = client.put(STATE, json={"state": [1, 2]}, headers=as_user(keys, "alice", True))
    assert not_object.status_code == 422
    huge = {"hidden": ["x" * 1000] * (MAX_STATE_BYTES // 1000 + 10)}
    too_big = client.put(STATE, json={"state": huge}, headers=as_user(keys, "alice", True))
    assert too_big.status_code == 400
    assert f"at most {MAX_STATE_BYTES} can be saved" in too_big.json()["error"]


def test_signed_in_pages_save_on_the_server(world: Any) -> None:
    client, keys = world
    page = client.get("/projects/alice/cifar", headers=as_user(keys, "bob"))
    assert 'data-save="server"' in page.text
    assert 'id="table-toggle"' in page.text and 'id="compare-btn"' in page.text


def test_runs_carry_the_metadata_columns_of_the_runs_table(world: Any) -> None:
    client, keys = world
    answer = client.post(
        "/web-api/projects/alice/cifar/runs", json={}, headers=as_user(keys, "alice", True)
    ).json()
    expected = ["host", "os", "python", "program", "git.commit", "git.branch", "kiseki_version"]
    assert answer["columns"]["meta"] == expected
    run = answer["runs"][0]
    assert run["meta"]["host"] == "gpu-box-01"
    assert run["meta"]["git.commit"].startswith("0123456789")


def test_compare_puts_runs_side_by_side_and_marks_differences(world: Any) -> None:
    client, keys = world
    page = client.get(
        "/projects/alice/cifar/compare?runs=run-0,run-2", headers=as_user(keys, "bob")
    )
    assert page.status_code == 200
    assert '<tr class="differs" data-field="optimizer.lr">' in page.text
    assert '<tr class="same" data-field="epochs">' in page.text
    assert "unsafe-eval" in page.headers["content-security-policy"]  # Plotly's WebGL parcoords
    assert (
        "unsafe-eval" not in client.get("/projects/alice/cifar").headers["content-security-policy"]
    )
    one = client.get("/projects/alice/cifar/compare?runs=run-0", headers=as_user(keys, "bob"))
    assert one.status_code == 200 and "Pick 2 to 5 runs to compare (1 given)" in one.text
    six = ",".join(["run-0", "run-1", "run-2", "a", "b", "c"])
    many = client.get(f"/projects/alice/cifar/compare?runs={six}", headers=as_user(keys, "bob"))
    assert "Pick 2 to 5 runs to compare (6 given)" in many.text
    missing = client.get(
        "/projects/alice/cifar/compare?runs=run-0,nope", headers=as_user(keys, "bob")
    )
    assert missing.status_code == 404 and "No run alice/cifar/nope." in missing.text


def test_workspace_states_on_postgresql(postgres_url: str) -> None:
    import time
    import uuid

    import sqlalchemy as sa

    from kiseki.errors import NotFoundError
    from kiseki.store.database import StoreLocation, create_store_engine, ensure_schema
    from kiseki.store.queries import StoreQueries
    from kiseki.store.schema import projects
    from kiseki.store.workspace_states import delete_state, load_state, save_state

    location = StoreLocation.parse(postgres_url)
    ensure_schema(location)
    engine = create_store_engine(location)
    entity = f"ws-{uuid.uuid4().hex[:8]}"
    try:
        with engine.begin() as conn:
            conn.execute(
                projects.insert().values(
                    entity=entity, name="p", created_at=time.time(), updated_at=time.time()
                )
            )
        queries = StoreQueries(engine)
        assert load_state(queries, "alice", entity, "p") == (None, None)
        save_state(queries, "alice", entity, "p", SAVED)
        save_state(queries, "alice", entity, "p", {**SAVED, "n": 4})
        save_state(queries, "bob", entity, "p", {"n": 1})
        assert load_state(queries, "alice", entity, "p")[0] == {**SAVED, "n": 4}
        assert load_state(queries, "bob", entity, "p")[0] == {"n": 1}
        assert delete_state(queries, "bob", entity, "p") is True
        assert delete_state(queries, "bob", entity, "p") is False
        with pytest.raises(NotFoundError, match=f"No project {entity}/nope"):
            save_state(queries, "alice", entity, "nope", {})
    finally:
        with engine.begin() as conn:
            project_id = conn.scalar(sa.select(projects.c.id).where(projects.c.entity == entity))
            conn.execute(projects.delete().where(projects.c.entity == entity))
            left = conn.scalar(
                sa.text("SELECT count(*) FROM workspace_states WHERE project_id = :p"),
                {"p": project_id},
            )
        engine.dispose()
    assert left == 0  # a deleted project's saved workspaces go with it (ON DELETE CASCADE)
