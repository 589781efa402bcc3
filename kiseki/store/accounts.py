"""The accounts of a ``kiseki server``: users, API keys, teams and web sessions.

Every user is an entity (runs and projects live under ``<entity>/<project>``); a team is an
entity shared by its members. Secrets are never stored as given: API keys and session tokens
as SHA-256 hashes (they are long random strings, so a fast hash is enough), passwords as
scrypt hashes with a random salt::

    accounts = AccountStore(create_store_engine(location))
    alice, key = accounts.create_user("alice", admin=True)   # key: "ks-" + 48 hex digits
    accounts.account_for_key(key).username                   # 'alice'

API keys look like ``ks-<48 hex digits>``: the ``wandb`` client accepts that shape (an optional
``prefix-`` and at least 40 word characters).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from kiseki.errors import NotFoundError, StoreError, UsageError
from kiseki.store.queries import READ_ONLY_OPTION
from kiseki.store.schema import api_keys, team_members, teams, users, web_sessions

KEY_PREFIX = "ks-"
"""What every kiseki API key starts with."""
SHOWN_PREFIX_LENGTH = 10
"""How many leading characters of a key are kept in clear, to tell keys apart."""
MIN_PASSWORD_LENGTH = 8
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


@dataclass(frozen=True)
class Account:
    """A user: name, rights, the teams they belong to and the visible prefix of their key."""

    id: int
    username: str
    is_admin: bool
    disabled: bool
    created_at: float
    teams: tuple[str, ...] = ()
    key_prefix: str | None = None
    has_password: bool = False

    @property
    def entities(self) -> frozenset[str]:
        """The entities whose runs this user owns: their own and their teams'."""
        return frozenset({self.username, *self.teams})


@dataclass(frozen=True)
class Team:
    """A team: an entity shared by its members."""

    name: str
    created_at: float
    members: tuple[str, ...] = ()


def new_api_key() -> str:
    """A fresh API key: ``ks-`` and 48 random hex digits."""
    return KEY_PREFIX + secrets.token_hex(24)


def hash_secret(secret: str) -> str:
    """The SHA-256 hex digest kept in place of an API key or a session token."""
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_password(password: str) -> str:
    """An scrypt hash of ``password`` with a random salt, as ``scrypt$n$r$p$salt$hash``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches a hash made by :func:`hash_password`."""
    if not stored:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        actual = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual.hex(), digest)


def checked_name(name: object, what: str = "user name") -> str:
    """``name`` when it is a valid user or team name, else :class:`UsageError`."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise UsageError(
            f"{name!r} is not a valid {what}: use 1 to 64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit."
        )
    return name


def _checked_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise UsageError(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")
    return password


class AccountStore:
    """Users, API keys, teams and web sessions in a store (SQLite or PostgreSQL)."""

    def __init__(self, engine: sa.Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self._clock = clock

    # -- plumbing ---------------------------------------------------------------------------
    def _read(self) -> sa.Connection:
        return self.engine.connect().execution_options(**{READ_ONLY_OPTION: True})

    def _fail(self, exc: sa.exc.DBAPIError) -> StoreError:
        return StoreError(
            f"Could not read or write the accounts in the store: {exc.orig}. Check that the "
            "database is reachable and migrated (kiseki server migrates it on start)."
        )

    def _user_row(self, conn: sa.Connection, username: str) -> sa.Row[tuple[object, ...]]:
        row = conn.execute(sa.select(users).where(users.c.username == username)).first()
        if row is None:
            raise NotFoundError(
                f"No user {username!r}: list users with `kiseki user list`, create one with "
                "`kiseki user create NAME`."
            )
        return row

    def _account(self, conn: sa.Connection, row: sa.Row[tuple[object, ...]]) -> Account:
        m = row._mapping
        team_names = tuple(
            conn.scalars(
                sa.select(teams.c.name)
                .select_from(teams.join(team_members, team_members.c.team_id == teams.c.id))
                .where(team_members.c.user_id == m["id"])
                .order_by(teams.c.name)
            )
        )
        prefix = conn.scalar(
            sa.select(api_keys.c.prefix)
            .where(api_keys.c.user_id == m["id"])
            .order_by(api_keys.c.id.desc())
            .limit(1)
        )
        return Account(
            id=m["id"],
            username=m["username"],
            is_admin=bool(m["is_admin"]),
            disabled=bool(m["disabled"]),
            created_at=m["created_at"],
            teams=team_names,
            key_prefix=prefix,
            has_password=m["password_hash"] is not None,
        )

    def _insert_key(self, conn: sa.Connection, user_id: int) -> str:
        key = new_api_key()
        conn.execute(
            api_keys.insert().values(
                user_id=user_id,
                key_hash=hash_secret(key),
                prefix=key[:SHOWN_PREFIX_LENGTH],
                created_at=self._clock(),
            )
        )
        return key

    # -- users ------------------------------------------------------------------------------
    def create_user(
        self, username: str, *, admin: bool = False, password: str | None = None
    ) -> tuple[Account, str]:
        """Create a user with a fresh API key; returns the account and the key (shown once)."""
        checked_name(username)
        password_hash = None if password is None else hash_password(_checked_password(password))
        try:
            with self.engine.begin() as conn:
                if self._entity_taken(conn, username):
                    raise UsageError(
                        f"The name {username!r} is taken by a user or a team: choose another."
                    )
                user_id = conn.execute(
                    users.insert().values(
                        username=username,
                        is_admin=admin,
                        disabled=False,
                        password_hash=password_hash,
                        created_at=self._clock(),
                    )
                ).inserted_primary_key[0]
                key = self._insert_key(conn, user_id)
                account = self._account(conn, self._user_row(conn, username))
        except sa.exc.IntegrityError as exc:
            raise UsageError(f"The name {username!r} is taken: choose another.") from exc
        except sa.exc.DBAPIError as exc:
            raise self._fail(exc) from exc
        return account, key

    def users(self) -> list[Account]:
        """Every user, by name."""
        try:
            with self._read() as conn:
                rows = conn.execute(sa.select(users).order_by(users.c.username)).all()
                return [self._account(conn, row) for row in rows]
        except sa.exc.DBAPIError as exc:
            raise self._fail(exc) from exc

    def count_users(self) -> int:
        """How many users exist."""
        try:
            with self._read() as conn:
                return int(conn.scalar(sa.select(sa.func.count()).select_from(users)) or 0)
        except sa.exc.DBAPIError as exc:
            raise self._fail(exc) from exc

    def user(self, username: str) -> Account:
        """One user, or :class:`NotFoundError`."""
        try:
            with self._read() as conn:
                return self._account(conn, self._user_row(conn, username))
        except sa.exc.DBAPIError as exc:
            raise self._fail(exc) from exc

    def set_disabled(self, username: str, disabled: bool = True) -> Account:
        """Disable (or enable again) a user: a disabled user's keys and sessions stop working."""
        try:
            with self.engine.begin() as conn:
                row = self._user_row(conn, username)
                conn.execute(users.update().where(users.c.id == row.id).values(disabled=disabled))
                if disabled:
                    conn.execute(web_sessions.delete().where(web_sessions.c.user_id == row.id))
                return self._account(conn, self._user_row(conn, username))
        except sa.exc.DBAPIError as exc:
            raise self._fail(exc) from exc

    def set_password(self, username: str, password: str) -> None:
        """Set the password a user signs in to the web app with."""
        password_hash = hash_password(_checked_password(password))
        try:
            with self.engine.begin() as conn:
                row = self._user_row(conn, username)
                conn.execute(
                    users.update().where(users.c.id == row.id).values(password_hash=password_hash)
                )
        except sa.exc.DBAPIError as exc:
            raise self._fail(exc) from exc

    def rotate_key(self, username: str) -> str:
        """Replace a user's API keys by a new one; returns it (shown once)."""
        try:
            with self.engine.begin() as conn:
                row = self._user_row(conn, username)
                conn.execute(api_keys.delete().where(api_keys.c.user_id == row.id))
                return self._insert_key(conn, row.id)
        except sa.exc.DBAPIError as exc:
            raise self._fail(exc) from exc

    def account_for_key(self, key: str) -> Account | None:
        """The user an API key belongs to (disabled users too), or ``None``."""
        try:
            with self._read() as conn:
                row = conn.execute(
                    sa.select(users)
                    .select_from(users.join(api_keys, api_keys.c.user_id == users.c.id))
                    .where(api_keys.c.key_hash == hash_secret(key))
                ).first()
                return None if row is None else self._account(conn, row)
        except sa.exc.DBAPIError as exc:
            raise self._fail(exc) from exc

    def check_password(self, username: str, password: str) -> Account | None:
        """The user when ``password`` is theirs and they are not disabled, else ``None``."""
        try:
            with self._read() as conn:
                row = conn.execute(sa.select(users).where(users.c.username == username)).first()
                if row is None:
                    verify_password(password, hash_password("timing-equaliser"))
                    return None
                account = self._account(conn, row)
        except sa.exc.DBAPIError as exc:
            raise self._fail(exc) from exc
        if account.disabled or not verify_password(password, row.password_hash):
            return None
        return account

    # -- web sessions -----------------------------------------------------------------------
    def create_session(self, account: Account, lifetime_s: float) -> str:
        """Start a web session for ``account``; returns its token (for the cookie)."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        try:
            with self.engine.begin() as conn:
                conn.execute(web_sessions.delete().where(web_sessions.c.expires_at < now))
                conn.execute(
                    web_sessions.insert().values(
                        token_hash=hash_secret(token),
                        user_id=account.id,
                        created_at=now,
                        expires_at=now + lifetime_s,
                    )
                )
        except sa.exc.DBAPIError as exc:
            raise self._fail(exc) from exc
        return token

    def account_for_session(self, token: str) -> Account | None:
        """The user of an unexpired session token, or ``None``."""
        try:
            with self._read() as conn:
                row = conn.execute(
                    sa.select(users)
                    .select_from(users.join(web_sessions, web_sessions.c.user_id == users.c.id))
                    .where(
                        web_sessions.c.token_hash == hash_secret(token),
                        web_sessions.c.expires_at > self._clock(),
                    )
                ).first()
                return None if row is None else self._account(conn, row)
        except sa.exc.DBAPIError as exc:
            raise self._fail(exc) from exc

    def delete_session(self, token: str) -> None:
        """End a web session (sign out)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    web_sessions.delete().where(web_sessions.c.token_hash == hash_secret(token))
                )
        except sa.exc.DBAPIError as exc:
            raise self._fail(exc) from exc

    # -- teams ------------------------------------------------------------------------------
    def _entity_taken(self, conn: sa.Connection, name: str) -> bool:
        return (
            conn.scalar(sa.select(users.c.id).where(users.c.username == name)) is not None
            or conn.scalar(sa.select(teams.c.id).where(teams.c.name == name)) is not None
        )

    def _team(self, conn: sa.Connection, name: str) -> Team:
        row = conn.execute(sa.select(teams).where(teams.c.name == name)).first()
        if row is None:
            raise NotFoundError(f"No team {name!r}: create it with `kiseki team create {name}`.")
        members = tuple(
            conn.scalars(
                sa.select(users.c.username)
                .select_from(users.join(team_members, team_members.c.user_id == users.c.id))
                .where(team_members.c.team_id == row.id)
                .order_by(users.c.username)
            )
        )
        return Team(name=row.name, created_at=row.created_at, members=members)

    def create_team(self, name: str) -> Team:
        """Create a team (an entity its members share)."""
        checked_name(name, "team name")
        try:
            with self.engine.begin() as conn:
                if self._entity_taken(conn, name):
                    raise UsageError(
                        f"The name {name!r} is taken by a user or a team: choose another."
                    )
                conn.execute(teams.insert().values(name=name, created_at=self._clock()))
                return self._team(conn, name)
        except sa.exc.IntegrityError as exc:
            raise UsageError(f"The name {name!r} is taken: choose another.") from exc
        except sa.exc.DBAPIError as exc:
            raise self._fail(exc) from exc

    def add_member(self, team: str, username: str) -> Team:
        """Add a user to a team (nothing happens when they already belong to it)."""
        try:
            with self.engine.begin() as conn:
                found = self._team(conn, team)
                user_id = self._user_row(conn, username).id
                if username not in found.members:
                    team_id = conn.scalar(sa.select(teams.c.id).where(teams.c.name == team))
                    conn.execute(team_members.insert().values(team_id=team_id, user_id=user_id))
                return self._team(conn, team)
        except sa.exc.DBAPIError as exc:
            raise self._fail(exc) from exc

    def team(self, name: str) -> Team:
        """One team, or :class:`NotFoundError`."""
        try:
            with self._read() as conn:
                return self._team(conn, name)
        except sa.exc.DBAPIError as exc:
            raise self._fail(exc) from exc

    def teams(self) -> list[Team]:
        """Every team, by name."""
        try:
            with self._read() as conn:
                names = list(conn.scalars(sa.select(teams.c.name).order_by(teams.c.name)))
                return [self._team(conn, name) for name in names]
        except sa.exc.DBAPIError as exc:
            raise self._fail(exc) from exc

    def entity_exists(self, name: str) -> bool:
        """Whether ``name`` is a user or a team."""
        try:
            with self._read() as conn:
                return self._entity_taken(conn, name)
        except sa.exc.DBAPIError as exc:
            raise self._fail(exc) from exc
