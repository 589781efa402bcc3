"""Media through a real ``kiseki server`` (SQLite and PostgreSQL): the SDK uploads the
images' blobs before the rows that use them, the read API downloads them with
``GET /api/v1/blobs/{digest}``, pixels come back equal, and others' private media stay
hidden (REST and web routes)."""

from __future__ import annotations

import hashlib
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from media_world import STEPS, TABLE_ROWS, frame, log_media_run

import kiseki
from kiseki.blobs.remote import RemoteBlobClient
from kiseki.cli.main import cli
from kiseki.errors import NotFoundError
from kiseki.httpclient import HttpClient
from kiseki.store.accounts import AccountStore
from kiseki.store.database import StoreLocation, create_store_engine, ensure_schema

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))

from live_server import LiveServer
from server_world import store_for

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "postgresql"])
def media_server(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[LiveServer, Path, dict[str, str]]]:
    """``kiseki server`` with its own blob directory, and API keys of alice and bob."""
    store = store_for(request, request.param, tmp_path)
    location = StoreLocation.parse(store)
    ensure_schema(location)
    engine = create_store_engine(location)
    try:
        accounts = AccountStore(engine)
        keys = {name: accounts.create_user(name)[1] for name in ("alice", "bob")}
    finally:
        engine.dispose()
    blobs = tmp_path / "server-blobs"
    live = LiveServer(store, tmp_path, extra_args=["--blob-store", str(blobs)]).start()
    yield live, blobs, keys
    if live.process is not None and live.process.poll() is None:
        live.stop()


def test_media_round_trip_through_the_server(
    media_server: tuple[LiveServer, Path, dict[str, str]],
    kiseki_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    live, server_blobs, keys = media_server
    monkeypatch.setenv("KISEKI_BASE_URL", live.url)
    monkeypatch.setenv("KISEKI_API_KEY", keys["alice"])
    logged = log_media_run(kiseki_dir)
    for digest in logged.digests:  # uploaded before the rows that refer to them
        path = server_blobs / "sha256" / digest[:2] / digest[2:]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest

    # read back through the server only: a fresh download cache, not KISEKI_DIR/blobs
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "fresh-tmp"))
    (tmp_path / "fresh-tmp").mkdir()
    run = kiseki.Api().run(f"{logged.entity}/{logged.project}/{logged.run_id}")
    rows = list(run.scan_history(keys=["samples"]))
    assert [row["samples"].caption for row in rows] == [f"frame {s}" for s in range(STEPS)]
    for step, row in enumerate(rows):
        assert np.array_equal(np.asarray(row["samples"].image), frame(step))
    table = run.summary["predictions"]
    assert len(table.data) == TABLE_ROWS
    assert np.array_equal(np.asarray(table.data[0][2].image), frame(1))
    weights = run.history(keys=["weights"], pandas=False)
    assert [sum(row["weights"].values) for row in weights] == [200] * STEPS

    # the web app's media panels, on this store (SQLite or PostgreSQL)
    alice = HttpClient(live.url, keys["alice"])
    base = f"/web-api/runs/{logged.entity}/{logged.project}/{logged.run_id}/media"
    panels = alice.request("GET", base).data["panels"]
    assert sorted(p["key"] for p in panels) == ["predictions", "samples", "weights"]
    alice.close()

    # bob may not read alice's private run's media, by REST or by the web route
    bob = RemoteBlobClient(live.url, keys["bob"])
    with pytest.raises(NotFoundError):
        bob.fetch_into(logged.digests[0], kiseki.blobs.LocalBlobStore(tmp_path / "bob"))
    bob.close()
    web = HttpClient(live.url, keys["bob"])
    path = f"/web-api/runs/{logged.entity}/{logged.project}/{logged.run_id}/media"
    with pytest.raises(NotFoundError):
        web.request("GET", path)
    with pytest.raises(NotFoundError):
        web.request("GET", f"{path}/{logged.digests[0]}")
    web.close()


def test_an_offline_runs_media_reach_the_server_when_synced(
    media_server: tuple[LiveServer, Path, dict[str, str]],
    kiseki_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    live, server_blobs, keys = media_server
    monkeypatch.setenv("KISEKI_BASE_URL", live.url)
    monkeypatch.setenv("KISEKI_API_KEY", keys["alice"])
    monkeypatch.setenv("KISEKI_MODE", "offline")
    logged = log_media_run(kiseki_dir)
    assert not server_blobs.exists() or not any(server_blobs.rglob(logged.digests[0]))
    monkeypatch.delenv("KISEKI_MODE")
    result = CliRunner().invoke(cli, ["sync"])
    assert result.exit_code == 0, result.output
    for digest in logged.digests:
        assert (server_blobs / "sha256" / digest[:2] / digest[2:]).is_file()
    run = kiseki.Api().run(f"alice/{logged.project}/{logged.run_id}")  # the key's user
    assert np.array_equal(np.asarray(run.summary["samples"].image), frame(STEPS - 1))
