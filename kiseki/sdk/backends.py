"""Where a run's records go: the embedded store or a kiseki server.

``kiseki.init`` asks its backend what it needs before the run starts (does the run exist,
how many runs the project has, leftovers of earlier processes), and the writer thread gets a
sink from it. The embedded backend uses the standard library's ``sqlite3`` (no SQLAlchemy on
the ``init`` path); the remote one talks HTTP to the server.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

from kiseki.errors import KisekiError, NotFoundError
from kiseki.settings import Settings
from kiseki.store.applier import RunKey
from kiseki.store.database import StoreLocation
from kiseki.store.lookup import StoredRun


class EmbeddedBackend:
    """Runs stored in the SQLite file under ``KISEKI_DIR`` (online) or only logged (offline)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.location = StoreLocation.in_dir(settings.kiseki_dir)

    def default_entity(self) -> str:
        """``KISEKI_ENTITY`` or the local user name."""
        return self.settings.default_entity

    def look_up(self, key: RunKey) -> tuple[StoredRun | None, int]:
        """The stored run (if any) and how many runs its project holds."""
        from kiseki.store import lookup
        from kiseki.store.database import connect_sqlite, ensure_schema

        path = self.location.sqlite_path
        assert path is not None
        online = self.settings.mode == "online"
        if online:
            ensure_schema(self.location)
        elif not path.exists():
            return None, 0
        conn = connect_sqlite(path)
        try:
            return (
                lookup.find_run(conn, key.entity, key.project, key.run_id),
                lookup.count_runs(conn, key.entity, key.project),
            )
        except Exception:
            if online:
                raise
            return None, 0
        finally:
            conn.close()

    def make_sink(self) -> Any:
        """A new sink for the writer thread (``None`` offline: the run log only)."""
        if self.settings.mode != "online":
            return None
        from kiseki.sinks.local import LocalSink

        return LocalSink(self.location)

    def where(self, key: RunKey, run_dir: Path) -> str:
        """Where the user finds the run, for the start line."""
        if self.settings.mode == "online":
            return f"{self.location.sqlite_path} (view it with `kiseki ui`)"
        return f"offline, in {run_dir} (upload later with `kiseki sync {run_dir}`)"

    def apply_leftovers(self, run_id: str) -> None:
        """Apply what earlier processes of this run left only in their run logs."""
        apply_leftover_logs(self.settings.runs_root, run_id, self.make_sink)

    def close(self) -> None:
        """Nothing to release: look-ups open and close their own connection."""


class RemoteBackend:
    """Runs streamed to a kiseki server (``KISEKI_BASE_URL`` + ``KISEKI_API_KEY``)."""

    def __init__(self, settings: Settings) -> None:
        from kiseki.httpclient import HttpClient

        assert settings.base_url is not None
        self.settings = settings
        self.client = HttpClient(settings.base_url, settings.api_key, timeout=10.0)
        self.reachable = True
        self._viewer: dict[str, Any] | None = None

    def _warn_unreachable(self, exc: Exception) -> None:
        if self.reachable:
            self.reachable = False
            print(
                f"kiseki: the server {self.settings.base_url} cannot be reached ({exc}); the "
                "run is logged locally and sent when the server answers again.",
                file=sys.stderr,
            )

    def default_entity(self) -> str:
        """``KISEKI_ENTITY``, else the entity of the API key's user."""
        if self.settings.entity:
            return self.settings.entity
        from kiseki.httpclient import ServerUnavailableError

        try:
            self._viewer = self.client.request("GET", "/api/v1/viewer").data or {}
        except ServerUnavailableError as exc:
            self._warn_unreachable(exc)
            return self.settings.user
        return str(self._viewer.get("entity") or self._viewer.get("username"))

    def look_up(self, key: RunKey) -> tuple[StoredRun | None, int]:
        """Ask the server whether the run exists and how many runs its project holds."""
        from kiseki.httpclient import ServerUnavailableError
        from kiseki.sinks.http import run_path

        if not self.reachable:
            return None, 0
        try:
            data = self.client.request("GET", run_path(key) + "/resume").data or {}
        except NotFoundError:
            return None, 0
        except ServerUnavailableError as exc:
            self._warn_unreachable(exc)
            return None, 0
        count = int(data.get("run_count") or 0)
        if not data.get("exists", True):
            return None, count
        return (
            StoredRun(
                name=data["name"],
                state=data.get("state", "running"),
                last_step=int(data.get("last_step", -1)),
                runtime=float(data.get("runtime") or 0.0),
                applied_seq=int(data.get("applied_seq") or 0),
                summary=data.get("summary") or {},
                config=data.get("config") or {},
            ),
            count,
        )

    def make_sink(self) -> Any:
        """A new HTTP sink with its own connection."""
        from kiseki.blobs import local_blob_store
        from kiseki.httpclient import HttpClient
        from kiseki.sinks.http import HttpSink

        assert self.settings.base_url is not None
        client = HttpClient(self.settings.base_url, self.settings.api_key, timeout=30.0)
        return HttpSink(client, blobs=local_blob_store(self.settings.kiseki_dir))

    def where(self, key: RunKey, run_dir: Path) -> str:
        """The run's page on the server."""
        return f"{self.settings.base_url}/{key.entity}/{key.project}/runs/{key.run_id}"

    def apply_leftovers(self, run_id: str) -> None:
        """Send what earlier processes of this run left only in their run logs."""
        if self.reachable:
            apply_leftover_logs(self.settings.runs_root, run_id, self.make_sink)

    def close(self) -> None:
        """Close the connection used while starting the run."""
        self.client.close()


def make_backend(settings: Settings) -> EmbeddedBackend | RemoteBackend:
    """The backend the settings ask for (a server when ``base_url`` is set and not offline)."""
    if settings.remote and settings.mode == "online":
        return RemoteBackend(settings)
    return EmbeddedBackend(settings)


def apply_leftover_logs(runs_root: Path, run_id: str, make_sink: Any) -> None:
    """Apply every unsynced run log of ``run_id`` under ``runs_root`` to a new sink."""
    from kiseki.sinks.sync import SYNCED_MARKER, run_logs_of, sync_run_log

    leftovers = [
        path
        for path in run_logs_of(runs_root, run_id)
        if not (path.parent / SYNCED_MARKER).exists()
    ]
    if not leftovers:
        return
    sink = make_sink()
    if sink is None:
        return
    try:
        for path in leftovers:
            try:
                sync_run_log(path, sink)
            except KisekiError as exc:
                from kiseki.sdk.run import KisekiWarning

                warnings.warn(f"kiseki: could not apply {path}: {exc}", KisekiWarning, stacklevel=5)
    finally:
        sink.close()
