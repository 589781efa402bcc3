"""Every privacy rule over the API: who sees, changes, stops and deletes which run.

alice and carol form the team ``vision``; bob is on his own; admin is an admin.
"""

from __future__ import annotations

import pytest
from server_world import World

ALICE_RUN = "alice/mnist/priv"
TEAM_RUN = "vision/seg/team1"
PUBLIC_RUN = "alice/mnist/pub"


@pytest.fixture
def runs(any_world: World) -> World:
    any_world.log_run("alice", "alice", "mnist", "priv", rows=2)
    any_world.log_run("alice", "alice", "mnist", "pub", rows=2, privacy="public")
    any_world.log_run("alice", "vision", "seg", "team1", rows=2)
    any_world.log_run("bob", "bob", "mnist", "bobs", rows=2)
    return any_world


@pytest.mark.parametrize(
    ("user", "path", "status"),
    [
        ("alice", ALICE_RUN, 200),  # the author
        ("admin", ALICE_RUN, 200),  # admins see everything
        ("bob", ALICE_RUN, 404),  # a private run is hidden: 404, as if missing
        ("carol", ALICE_RUN, 404),  # a teammate, but the run is alice's own entity's
        (None, ALICE_RUN, 404),  # anonymous
        ("carol", TEAM_RUN, 200),  # a member of the team that owns it
        ("bob", TEAM_RUN, 404),
        (None, PUBLIC_RUN, 200),  # public: anyone, signed in or not
        ("bob", PUBLIC_RUN, 200),
    ],
)
def test_who_sees_a_run(runs: World, user: str | None, path: str, status: int) -> None:
    for suffix in ("", "/history", "/history/keys", "/history/sample"):
        assert runs.get(user, f"runs/{path}{suffix}").status_code == status, (user, suffix)


@pytest.mark.parametrize(
    ("user", "path", "status"),
    [
        ("alice", ALICE_RUN, 200),
        ("admin", ALICE_RUN, 200),
        ("carol", TEAM_RUN, 200),
        ("bob", PUBLIC_RUN, 403),  # sees it, may not change it
        (None, PUBLIC_RUN, 401),
        ("bob", ALICE_RUN, 404),  # does not even see it
    ],
)
def test_who_changes_a_run(runs: World, user: str | None, path: str, status: int) -> None:
    answer = runs.client.patch(
        f"/api/v1/runs/{path}", json={"notes": "mine now", "tags": ["x"]}, headers=runs.auth(user)
    )
    assert answer.status_code == status, answer.text
    if status == 200:
        assert answer.json()["notes"] == "mine now"
    else:
        assert "error" in answer.json()
        assert runs.get("admin", f"runs/{path}").json()["notes"] is None


@pytest.mark.parametrize("action", ["delete", "stop"])
def test_only_owners_stop_or_delete(runs: World, action: str) -> None:
    def act(user: str | None, path: str) -> int:
        if action == "delete":
            return runs.client.delete(f"/api/v1/runs/{path}", headers=runs.auth(user)).status_code
        return runs.client.post(f"/api/v1/runs/{path}/stop", headers=runs.auth(user)).status_code

    assert act(None, PUBLIC_RUN) == 401
    assert act("bob", PUBLIC_RUN) == 403
    assert act("bob", ALICE_RUN) == 404
    assert act("bob", TEAM_RUN) == 404
    assert runs.get("alice", f"runs/{PUBLIC_RUN}").json()["stop_requested"] is False
    assert act("carol", TEAM_RUN) == (204 if action == "delete" else 200)
    assert act("alice", PUBLIC_RUN) == (204 if action == "delete" else 200)
    if action == "delete":
        assert runs.get("alice", f"runs/{PUBLIC_RUN}").status_code == 404
        assert runs.get("admin", f"runs/{TEAM_RUN}").status_code == 404


def test_owners_change_privacy_and_it_takes_effect(runs: World) -> None:
    assert runs.get(None, f"runs/{ALICE_RUN}").status_code == 404
    made_public = runs.client.patch(
        f"/api/v1/runs/{ALICE_RUN}", json={"privacy": "public"}, headers=runs.auth("alice")
    )
    assert made_public.json()["privacy"] == "public"
    assert runs.get(None, f"runs/{ALICE_RUN}").status_code == 200
    runs.client.patch(
        f"/api/v1/runs/{ALICE_RUN}", json={"privacy": "private"}, headers=runs.auth("alice")
    )
    assert runs.get(None, f"runs/{ALICE_RUN}").status_code == 404
    refused = runs.client.patch(
        f"/api/v1/runs/{PUBLIC_RUN}", json={"privacy": "private"}, headers=runs.auth("bob")
    )
    assert refused.status_code == 403
    bad = runs.client.patch(
        f"/api/v1/runs/{ALICE_RUN}", json={"privacy": "hidden"}, headers=runs.auth("alice")
    )
    assert bad.status_code == 422 and "privacy" in bad.json()["error"]


def test_run_queries_count_and_page_only_visible_runs(runs: World) -> None:
    for number in range(4):
        runs.log_run("alice", "alice", "mnist", f"more{number}", rows=1, privacy="public")

    def query(user: str | None, **body: object) -> dict[str, object]:
        answer = runs.client.post(
            "/api/v1/projects/alice/mnist/runs/query", json=body, headers=runs.auth(user)
        )
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    assert query("alice")["total"] == 6
    seen = query("bob", order="+id")
    assert seen["total"] == 5
    ids = [r["run_id"] for r in seen["runs"]]  # type: ignore[union-attr]
    assert "priv" not in ids
    page = query("bob", order="+id", limit=2, offset=2)
    assert [r["run_id"] for r in page["runs"]] == ids[2:4]  # type: ignore[union-attr]
    filtered = query(None, filters={"id": {"$in": ["priv", "pub"]}})
    assert [r["run_id"] for r in filtered["runs"]] == ["pub"]  # type: ignore[union-attr]
    assert filtered["total"] == 1


def test_project_lists_show_what_the_viewer_may_see(runs: World) -> None:
    def projects(user: str | None) -> dict[str, int]:
        answer = runs.get(user, "projects")
        assert answer.status_code == 200, answer.text
        return {f"{p['entity']}/{p['name']}": p["run_count"] for p in answer.json()["projects"]}

    assert projects(None) == {"alice/mnist": 1}
    assert projects("bob") == {"alice/mnist": 1, "bob/mnist": 1}
    assert projects("carol") == {"alice/mnist": 1, "vision/seg": 1}
    assert projects("alice") == {"alice/mnist": 2, "vision/seg": 1}
    assert len(projects("admin")) == 3
    assert runs.get(None, "projects/bob/mnist").status_code == 404
    assert runs.get("bob", "projects/vision/seg").status_code == 404
    assert runs.get("carol", "projects/vision/seg").json()["run_count"] == 1


def test_logging_needs_an_entity_you_own(runs: World) -> None:
    from server_world import run_records

    assert runs.post("bob", "alice/mnist/intruder", run_records("x")).status_code == 403
    assert runs.post("bob", "vision/seg/intruder", run_records("x")).status_code == 403
    assert runs.post(None, "alice/mnist/anon", run_records("x")).status_code == 401
    assert runs.post("alice", "nobody/mnist/x", run_records("x")).status_code == 404
    assert runs.post("admin", "nobody/mnist/x", run_records("x")).status_code == 404
    assert runs.post("carol", "vision/seg/c1", run_records("x")).status_code == 200
    assert runs.post("admin", "bob/mnist/by-admin", run_records("x")).status_code == 200
    # records for someone else's public run are refused too
    more = run_records("pub", start=False, first_seq=4, rows=1)
    assert runs.post("bob", PUBLIC_RUN, more).status_code == 403
    assert runs.client.post(f"/api/v1/runs/{ALICE_RUN}/heartbeat").status_code == 401
    bobs = runs.client.post(f"/api/v1/runs/{ALICE_RUN}/heartbeat", headers=runs.auth("bob"))
    assert bobs.status_code == 403


def test_project_visibility_is_the_default_for_new_runs(runs: World) -> None:
    answer = runs.client.put(
        "/api/v1/projects/alice/open", json={"visibility": "public"}, headers=runs.auth("alice")
    )
    assert answer.status_code == 200 and answer.json()["visibility"] == "public"
    runs.log_run("alice", "alice", "open", "o1", rows=1)
    runs.log_run("alice", "alice", "open", "o2", rows=1, privacy="private")
    assert runs.get(None, "runs/alice/open/o1").json()["privacy"] == "public"
    assert runs.get(None, "runs/alice/open/o2").status_code == 404
    assert runs.get(None, "projects/alice/open").json()["run_count"] == 1
    refused = runs.client.put(
        "/api/v1/projects/alice/open", json={"visibility": "private"}, headers=runs.auth("bob")
    )
    assert refused.status_code == 403
