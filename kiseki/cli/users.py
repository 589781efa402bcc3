"""``kiseki user`` and ``kiseki team``: accounts of a kiseki server, straight in its database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kiseki.cli.common import dir_option, format_time, friendly_errors
from kiseki.cli.server import db_option, store_target

if TYPE_CHECKING:
    from kiseki.store.accounts import AccountStore


@contextmanager
def open_accounts(db: str | None, kiseki_dir: Path | None) -> Iterator[AccountStore]:
    """The accounts of the store ``--db`` names (migrated first)."""
    from kiseki.store.accounts import AccountStore
    from kiseki.store.database import StoreLocation, create_store_engine, ensure_schema

    location = StoreLocation.parse(store_target(db, kiseki_dir))
    ensure_schema(location)
    engine = create_store_engine(location)
    try:
        yield AccountStore(engine)
    finally:
        engine.dispose()


def _ask_password() -> str:
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True))


def _show_key(username: str, key: str) -> None:
    click.echo(f"API key of {username} (shown once: keep it safe):")
    click.echo(key)
    click.echo("On a training machine: kiseki login --host http://SERVER:5757 --key <the key>")


@click.group()
def user() -> None:
    """Create and manage the users of a kiseki server."""


@user.command("create")
@click.argument("name")
@click.option("--admin", is_flag=True, help="May manage users and teams and see every run.")
@click.option(
    "--password", "ask_password", is_flag=True, help="Ask for a password for the web app."
)
@db_option
@dir_option
@friendly_errors
def create_user(
    name: str, admin: bool, ask_password: bool, db: str | None, kiseki_dir: Path | None
) -> None:
    """Create user NAME and print their API key (shown this once)."""
    password = _ask_password() if ask_password else None
    with open_accounts(db, kiseki_dir) as accounts:
        account, key = accounts.create_user(name, admin=admin, password=password)
    click.echo(f"Created user {account.username}{' (admin)' if account.is_admin else ''}.")
    _show_key(account.username, key)


@user.command("list")
@db_option
@dir_option
@friendly_errors
def list_users(db: str | None, kiseki_dir: Path | None) -> None:
    """List users: name, admin, disabled, teams, key prefix, created."""
    with open_accounts(db, kiseki_dir) as accounts:
        found = accounts.users()
    if not found:
        click.echo("No users yet: create one with `kiseki user create NAME --admin`.")
        return
    click.echo(f"{'user':<20} {'admin':<6} {'state':<9} {'key':<12} {'created':<17} teams")
    for account in found:
        click.echo(
            f"{account.username:<20} {'yes' if account.is_admin else '':<6} "
            f"{'disabled' if account.disabled else 'active':<9} "
            f"{(account.key_prefix or '') + '…':<12} {format_time(account.created_at):<17} "
            f"{', '.join(account.teams)}"
        )


@user.command("disable")
@click.argument("name")
@db_option
@dir_option
@friendly_errors
def disable_user(name: str, db: str | None, kiseki_dir: Path | None) -> None:
    """Disable user NAME: their API key and web sessions stop working; their runs stay."""
    with open_accounts(db, kiseki_dir) as accounts:
        accounts.set_disabled(name, True)
    click.echo(f"Disabled {name} (a running server notices within a few seconds).")


@user.command("enable")
@click.argument("name")
@db_option
@dir_option
@friendly_errors
def enable_user(name: str, db: str | None, kiseki_dir: Path | None) -> None:
    """Enable user NAME again."""
    with open_accounts(db, kiseki_dir) as accounts:
        accounts.set_disabled(name, False)
    click.echo(f"Enabled {name}.")


@user.command("rotate-key")
@click.argument("name")
@db_option
@dir_option
@friendly_errors
def rotate_key(name: str, db: str | None, kiseki_dir: Path | None) -> None:
    """Replace NAME's API key by a new one (printed once); the old key stops working."""
    with open_accounts(db, kiseki_dir) as accounts:
        key = accounts.rotate_key(name)
    _show_key(name, key)


@user.command("password")
@click.argument("name")
@db_option
@dir_option
@friendly_errors
def set_password(name: str, db: str | None, kiseki_dir: Path | None) -> None:
    """Set the password NAME signs in to the web app with (asked for, twice)."""
    password = _ask_password()
    with open_accounts(db, kiseki_dir) as accounts:
        accounts.set_password(name, password)
    click.echo(f"Password of {name} set.")


@click.group()
def team() -> None:
    """Create teams (entities shared by their members) and add members."""


@team.command("create")
@click.argument("name")
@db_option
@dir_option
@friendly_errors
def create_team(name: str, db: str | None, kiseki_dir: Path | None) -> None:
    """Create team NAME; its members log runs to the entity NAME and share them."""
    with open_accounts(db, kiseki_dir) as accounts:
        accounts.create_team(name)
    click.echo(f"Created team {name}. Add members with `kiseki team add {name} USER`.")


@team.command("add")
@click.argument("name")
@click.argument("username")
@db_option
@dir_option
@friendly_errors
def add_member(name: str, username: str, db: str | None, kiseki_dir: Path | None) -> None:
    """Add USERNAME to team NAME."""
    with open_accounts(db, kiseki_dir) as accounts:
        found = accounts.add_member(name, username)
    click.echo(f"Team {found.name}: {', '.join(found.members)}.")


@team.command("list")
@db_option
@dir_option
@friendly_errors
def list_teams(db: str | None, kiseki_dir: Path | None) -> None:
    """List teams and their members."""
    with open_accounts(db, kiseki_dir) as accounts:
        found = accounts.teams()
    if not found:
        click.echo("No teams yet: create one with `kiseki team create NAME`.")
    for item in found:
        click.echo(f"{item.name}: {', '.join(item.members) or '(no members)'}")
