"""API keys (Bearer and Basic), disabled users, rotated keys, admin-only calls, web sign-in."""

from __future__ import annotations

import base64
import re

import pytest
from fastapi.testclient import TestClient
from server_world import World

from kiseki.server.auth import CSRF_COOKIE, SESSION_COOKIE


def test_bearer_and_basic_keys_identify_the_user(world: World) -> None:
    bearer = world.get("alice", "viewer")
    assert bearer.json() == {
        "username": "alice",
        "entity": "alice",
        "admin": False,
        "teams": ["vision"],
    }
    token = base64.b64encode(f"api:{world.keys['bob']}".encode()).decode()
    basic = world.client.get("/api/v1/viewer", headers={"Authorization": f"Basic {token}"})
    assert basic.json()["username"] == "bob"


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ("Bearer ks-" + "0" * 48, "not recognised"),
        ("Basic !!!", "not valid base64"),
        ("Digest abc", "Unsupported Authorization scheme"),
    ],
)
def test_bad_credentials_are_refused_not_ignored(world: World, header: str, words: str) -> None:
    answer = world.client.get("/api/v1/runs/alice/mnist/r1", headers={"Authorization": header})
    assert answer.status_code == 401 and words in answer.json()["error"]


def test_the_key_format_satisfies_the_wandb_client(world: World) -> None:
    for key in world.keys.values():
        assert re.fullmatch(r"[a-z]+-\w{40,}", key)


def test_anonymous_callers_must_sign_in_for_the_viewer(world: World) -> None:
    answer = world.get(None, "viewer")
    assert answer.status_code == 401 and "Bearer" in answer.json()["error"]
    assert world.get(None, "version").json()["api"] == 1


def test_disabling_and_rotating_keys_take_effect(world: World) -> None:
    old = world.keys["bob"]
    rotated = world.client.post("/api/v1/users/bob/rotate-key", headers=world.auth("bob"))
    assert rotated.status_code == 200
    world.keys["bob"] = rotated.json()["api_key"]
    assert (
        world.client.get("/api/v1/viewer", headers={"Authorization": f"Bearer {old}"}).status_code
        == 401
    )
    assert world.get("bob", "viewer").status_code == 200
    assert (
        world.client.post("/api/v1/users/bob/disable", headers=world.auth("alice")).status_code
        == 403
    )
    assert (
        world.client.post("/api/v1/users/bob/disable", headers=world.auth("admin")).status_code
        == 200
    )
    refused = world.get("bob", "viewer")
    assert refused.status_code == 401 and "disabled" in refused.json()["error"]
    assert (
        world.client.post("/api/v1/users/bob/enable", headers=world.auth("admin")).status_code
        == 200
    )
    assert world.get("bob", "viewer").status_code == 200


def test_user_and_team_management_is_for_admins(world: World) -> None:
    new = {"username": "dave", "password": "correct horse"}
    assert (
        world.client.post("/api/v1/users", json=new, headers=world.auth("alice")).status_code == 403
    )
    assert world.client.post("/api/v1/users", json=new).status_code == 401
    created = world.client.post("/api/v1/users", json=new, headers=world.auth("admin"))
    assert created.status_code == 201 and created.json()["api_key"].startswith("ks-")
    again = world.client.post("/api/v1/users", json=new, headers=world.auth("admin"))
    assert again.status_code == 400 and "taken" in again.json()["error"]
    users = world.get("admin", "users").json()["users"]
    assert [u["username"] for u in users] == ["admin", "alice", "bob", "carol", "dave"]
    assert all("api_key" not in u and "password" not in u for u in users)
    assert world.get("alice", "users").status_code == 403
    team = world.client.post("/api/v1/teams", json={"name": "dave"}, headers=world.auth("admin"))
    assert team.status_code == 400  # a user has that name
    world.client.post("/api/v1/teams", json={"name": "audio"}, headers=world.auth("admin"))
    add = world.client.post(
        "/api/v1/teams/vision/members", json={"username": "bob"}, headers=world.auth("carol")
    )
    assert add.status_code == 200 and add.json()["members"] == ["alice", "bob", "carol"]
    outsider = world.client.post(
        "/api/v1/teams/audio/members", json={"username": "bob"}, headers=world.auth("bob")
    )
    assert outsider.status_code == 403
    assert [t["name"] for t in world.get("bob", "teams").json()["teams"]] == ["vision"]


# -- web sign-in -------------------------------------------------------------------------------
def _form_token(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


@pytest.fixture
def with_password(world: World) -> World:
    world.app.state.accounts.set_password("alice", "s3cret-pass")
    return world


def test_sign_in_sets_a_safe_session_cookie_and_sign_out_ends_it(with_password: World) -> None:
    client = with_password.client
    page = client.get("/login?next=/projects/alice/mnist")
    assert page.status_code == 200 and CSRF_COOKIE in page.cookies
    form = {
        "username": "alice",
        "password": "s3cret-pass",
        "csrf_token": _form_token(page.text),
        "next": "/projects/alice/mnist",
    }
    answer = client.post("/login", data=form, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/projects/alice/mnist"
    cookie = answer.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie and "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower() and "Secure" not in cookie
    assert client.get("/api/v1/viewer").json()["username"] == "alice"
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    assert client.get("/api/v1/viewer").status_code == 200
    logged_in_page = client.get("/login")
    out = client.post(
        "/logout", data={"csrf_token": _form_token(logged_in_page.text)}, follow_redirects=False
    )
    assert out.status_code == 303
    assert client.get("/api/v1/viewer").status_code == 401


def test_sign_in_refuses_wrong_passwords_and_forged_forms(with_password: World) -> None:
    client = with_password.client
    token = _form_token(client.get("/login").text)
    wrong = client.post(
        "/login", data={"username": "alice", "password": "nope", "csrf_token": token}
    )
    assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
    forged = client.post(
        "/login", data={"username": "alice", "password": "s3cret-pass", "csrf_token": "x"}
    )
    assert forged.status_code == 403 and SESSION_COOKIE not in forged.cookies
    fresh = TestClient(with_password.app)  # no CSRF cookie at all
    bare = fresh.post(
        "/login", data={"username": "alice", "password": "s3cret-pass", "csrf_token": token}
    )
    assert bare.status_code == 403
    nopass = client.post(
        "/login", data={"username": "bob", "password": "anything", "csrf_token": token}
    )
    assert nopass.status_code == 401  # bob has no password: keys only


def test_sign_in_never_redirects_off_site_and_is_secure_over_https(with_password: World) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil"):
        client = TestClient(with_password.app, base_url="https://tracker.example")
        token = _form_token(client.get("/login").text)
        form = {"username": "alice", "password": "s3cret-pass", "csrf_token": token}
        answer = client.post("/login", data={**form, "next": target}, follow_redirects=False)
        assert answer.headers["location"] == "/"
        assert "Secure" in answer.headers["set-cookie"]


def test_api_changes_made_with_a_session_need_the_csrf_header(with_password: World) -> None:
    with_password.log_run("alice", "alice", "mnist", "r1", rows=1)
    client = with_password.client
    token = _form_token(client.get("/login").text)
    client.post(
        "/login", data={"username": "alice", "password": "s3cret-pass", "csrf_token": token}
    )
    assert client.get("/api/v1/runs/alice/mnist/r1").status_code == 200  # reading: no token
    forged = client.post("/api/v1/runs/alice/mnist/r1/stop")
    assert forged.status_code == 403 and "X-CSRF-Token" in forged.json()["error"]
    page_token = _form_token(client.get("/login").text)
    allowed = client.post("/api/v1/runs/alice/mnist/r1/stop", headers={"X-CSRF-Token": page_token})
    assert allowed.status_code == 200 and allowed.json()["stop_requested"] is True
