"""A server app with users and a team, driven in-process, and records to send it."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kiseki import jsoncodec
from kiseki.runlog.records import HistoryRow, RunFinished, RunStarted, SummaryChanged
from kiseki.server.app import create_app
from kiseki.server.config import ServerConfig
from kiseki.sinks.http import record_to_json

BASE_TIME = 1_700_000_000.0
USERS = {"admin": True, "alice": False, "bob": False, "carol": False}
TEAM = "vision"
TEAM_MEMBERS = ("alice", "carol")
ACCOUNT_TABLES = "users, api_keys, teams, team_members, web_sessions"
STORE_TABLES = "projects, runs, history_chunks, history_values"


def run_records(
    run_id: str,
    *,
    project: str = "mnist",
    entity: str = "alice",
    rows: int = 3,
    first_seq: int = 1,
    start: bool = True,
    finish: int | None = None,
    privacy: str | None = None,
    author: str | None = None,
    summary: dict[str, Any] | None = None,
    values: Any = None,
) -> list[Any]:
    """The records of a run: RunStarted, ``rows`` history rows, optional summary and finish."""
    records: list[Any] = []
    seq = first_seq
    if start:
        records.append(
            RunStarted(
                seq,
                run_id,
                project,
                entity,
                f"{run_id}-name",
                BASE_TIME,
                privacy=privacy,
                author=author,
                config={"lr": 0.1},
            )
        )
        seq += 1
    for step in range(rows):
        row = values(step) if values else {"loss": 1.0 / (step + 1), "acc": step}
        records.append(HistoryRow(seq, step, BASE_TIME + step, float(step), row))
        seq += 1
    if summary is not None:
        records.append(SummaryChanged(seq, summary))
        seq += 1
    if finish is not None:
        records.append(RunFinished(seq, finish, BASE_TIME + 100, 100.0))
    return records


def body(records: Sequence[Any]) -> dict[str, Any]:
    """The JSON body of an ingest request."""
    return {"records": [record_to_json(r) for r in records]}


@dataclass
class World:
    """An app, a client on it, and the API key of each user."""

    app: FastAPI
    client: TestClient
    keys: dict[str, str] = field(default_factory=dict)

    def auth(self, user: str | None) -> dict[str, str]:
        """Headers authenticating as ``user`` (none for anonymous)."""
        return {} if user is None else {"Authorization": f"Bearer {self.keys[user]}"}

    def post(self, user: str | None, path: str, records: Sequence[Any]) -> Any:
        """POST records to ``/api/v1/runs/<path>/records``."""
        return self.client.post(
            f"/api/v1/runs/{path}/records",
            content=jsoncodec.dumps_bytes(body(records)),
            headers={**self.auth(user), "Content-Type": "application/json"},
        )

    def log_run(self, user: str, entity: str, project: str, run_id: str, **kwargs: Any) -> Any:
        """Log a whole run as ``user``; asserts it was accepted."""
        records = run_records(run_id, project=project, entity=entity, **kwargs)
        response = self.post(user, f"{entity}/{project}/{run_id}", records)
        assert response.status_code == 200, response.text
        return response.json()

    def get(self, user: str | None, path: str, **params: Any) -> Any:
        """GET ``/api/v1/<path>`` as ``user``."""
        return self.client.get(f"/api/v1/{path}", headers=self.auth(user), params=params)

    def history(self, user: str | None, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every history row of a run, following ``next_min_step``."""
        rows: list[dict[str, Any]] = []
        while True:
            answer = self.get(user, f"runs/{path}/history", **params)
            assert answer.status_code == 200, answer.text
            data = answer.json()
            rows.extend(data["rows"])
            if data["next_min_step"] is None:
                return rows
            params["min_step"] = data["next_min_step"]


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    """Wait until ``predicate()`` is true."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def empty_postgres(url: str) -> None:
    """Create the schema in the session's PostgreSQL database and empty every table."""
    from kiseki.store.database import StoreLocation, create_store_engine, ensure_schema

    location = StoreLocation.parse(url)
    ensure_schema(location)
    engine = create_store_engine(location)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {STORE_TABLES}, {ACCOUNT_TABLES} CASCADE"))
    engine.dispose()


def store_for(request: pytest.FixtureRequest, backend: str, directory: Path) -> str:
    """A fresh store on ``backend``: a SQLite file in ``directory`` or the emptied PostgreSQL
    session database."""
    if backend == "sqlite":
        return str(directory / "server.db")
    url: str = request.getfixturevalue("postgres_url")
    empty_postgres(url)
    return url


def make_world(store: str, **config: Any) -> Iterator[World]:
    """An app on ``store`` with the users of ``USERS`` and the team ``vision``."""
    config.setdefault("watchdog_interval", 0)
    app = create_app(ServerConfig(store=store, **config))
    accounts = app.state.accounts
    keys = {}
    for name, admin in USERS.items():
        keys[name] = accounts.create_user(name, admin=admin)[1]
    accounts.create_team(TEAM)
    for member in TEAM_MEMBERS:
        accounts.add_member(TEAM, member)
    with TestClient(app) as client:
        yield World(app, client, keys)
