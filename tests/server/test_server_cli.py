"""``kiseki user`` and ``kiseki team`` on a server's database."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner
from fastapi.testclient import TestClient

from kiseki.cli.main import cli
from kiseki.server.app import create_app
from kiseki.server.config import ServerConfig


def kiseki(*args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def key_in(output: str) -> str:
    match = re.search(r"^(ks-[0-9a-f]{48})$", output, re.MULTILINE)
    assert match, output
    return match.group(1)


def test_users_and_teams_from_the_command_line(tmp_path: Path) -> None:
    db = str(tmp_path / "server.db")
    alice_key = key_in(kiseki("user", "create", "alice", "--admin", "--db", db))
    bob_out = kiseki(
        "user", "create", "bob", "--password", "--db", db, input="hunter22!\nhunter22!\n"
    )
    bob_key = key_in(bob_out)
    kiseki("team", "create", "vision", "--db", db)
    assert "vision: alice, bob" in kiseki("team", "add", "vision", "alice", "--db", db) + kiseki(
        "team", "add", "vision", "bob", "--db", db
    )
    assert "vision: alice, bob" in kiseki("team", "list", "--db", db)
    listing = kiseki("user", "list", "--db", db)
    assert re.search(r"alice\s+yes\s+active\s+ks-", listing)
    assert re.search(r"bob\s+active\s+ks-.*vision", listing)

    app = create_app(ServerConfig(store=db))
    with TestClient(app) as client:
        viewer = client.get("/api/v1/viewer", headers={"Authorization": f"Bearer {alice_key}"})
        assert viewer.json() == {
            "username": "alice",
            "entity": "alice",
            "admin": True,
            "teams": ["vision"],
        }
        assert app.state.accounts.check_password("bob", "hunter22!") is not None

        new_key = key_in(kiseki("user", "rotate-key", "bob", "--db", db))
        app.state.auth.invalidate()
        assert (
            client.get("/api/v1/viewer", headers={"Authorization": f"Bearer {bob_key}"}).status_code
            == 401
        )
        assert (
            client.get("/api/v1/viewer", headers={"Authorization": f"Bearer {new_key}"}).status_code
            == 200
        )

        kiseki("user", "disable", "bob", "--db", db)
        app.state.auth.invalidate()
        assert (
            client.get("/api/v1/viewer", headers={"Authorization": f"Bearer {new_key}"}).status_code
            == 401
        )
        assert "disabled" in kiseki("user", "list", "--db", db)
        kiseki("user", "enable", "bob", "--db", db)
        kiseki("user", "password", "alice", "--db", db, input="new-pass-1\nnew-pass-1\n")
        assert app.state.accounts.check_password("alice", "new-pass-1") is not None


def test_mistakes_are_one_clear_line(tmp_path: Path) -> None:
    db = str(tmp_path / "server.db")
    kiseki("user", "create", "alice", "--db", db)
    for args, words in (
        (["user", "create", "alice"], "taken"),
        (["user", "create", "no/slash"], "not a valid user name"),
        (["user", "disable", "zed"], "No user 'zed'"),
        (["team", "add", "nope", "alice"], "No team 'nope'"),
        (["user", "create", "carol", "--password"], "at least 8 characters"),
    ):
        result = CliRunner().invoke(cli, [*args, "--db", db], input="short\nshort\n")
        assert result.exit_code == 1 and words in result.output, result.output


def test_the_default_database_is_the_embedded_store(kiseki_dir: Path) -> None:
    kiseki("user", "create", "alice")
    assert (kiseki_dir / "kiseki.db").exists()
    assert "alice" in kiseki("user", "list")
