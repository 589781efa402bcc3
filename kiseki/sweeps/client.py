"""The sweep operations an agent, the CLI and the read API need, on the embedded store or a
kiseki server: :func:`open_sweeps` picks one from the settings as ``kiseki.init`` does
(a server when ``KISEKI_BASE_URL`` is set, else the SQLite store under ``KISEKI_DIR``).
"""

from __future__ import annotations

import urllib.parse
from typing import Any, Protocol

from kiseki.errors import NotFoundError, UsageError
from kiseki.settings import Settings
from kiseki.sweeps.config import SweepConfig
from kiseki.sweeps.store import NextTrial, SweepRecord, SweepStore, TrialRecord


class SweepClient(Protocol):
    """What agents, the CLI and ``Api().sweep`` do with sweeps."""

    entity: str

    def create(self, project: str, config: SweepConfig) -> SweepRecord:
        """A new running sweep in ``project`` of the client's entity."""

    def get(self, entity: str, project: str, sweep_id: str) -> SweepRecord:
        """One sweep, or :class:`NotFoundError`."""

    def find(self, sweep_id: str) -> list[SweepRecord]:
        """Sweeps with this id in any project the client can see."""

    def trials(self, sweep: SweepRecord) -> list[TrialRecord]:
        """Every trial of the sweep."""

    def next_trial(self, sweep: SweepRecord, agent: str) -> NextTrial:
        """The sweep's next trial, or why there is none."""

    def report(
        self, sweep: SweepRecord, run_id: str, state: str, exit_code: int | None, error: str | None
    ) -> str:
        """Record how a trial ended; returns the state the store gives it."""

    def control(self, sweep: SweepRecord, action: str) -> SweepRecord:
        """Pause, resume, stop or cancel the sweep."""

    def check_early_stop(self, sweep: SweepRecord) -> list[str]:
        """Apply the sweep's early termination; the run ids it stopped."""

    def close(self) -> None:
        """Release connections."""


class EmbeddedSweeps:
    """Sweeps in the SQLite store under ``KISEKI_DIR`` (agents on this machine share it)."""

    def __init__(self, settings: Settings) -> None:
        from kiseki.store.database import StoreLocation, create_store_engine, ensure_schema
        from kiseki.store.queries import StoreQueries

        location = StoreLocation.in_dir(settings.kiseki_dir)
        ensure_schema(location)
        self._engine = create_store_engine(location)
        self.store = SweepStore(StoreQueries(self._engine, settings.heartbeat_timeout))
        self.entity = settings.default_entity
        self.author = settings.user

    def create(self, project: str, config: SweepConfig) -> SweepRecord:
        """A new running sweep in ``project``."""
        return self.store.create(self.entity, project, config, self.author)

    def get(self, entity: str, project: str, sweep_id: str) -> SweepRecord:
        """One sweep, or :class:`NotFoundError`."""
        return self.store.get(entity, project, sweep_id)

    def find(self, sweep_id: str) -> list[SweepRecord]:
        """Sweeps with this id in any project."""
        return self.store.find(sweep_id)

    def trials(self, sweep: SweepRecord) -> list[TrialRecord]:
        """Every trial of the sweep."""
        return self.store.trials(sweep)

    def next_trial(self, sweep: SweepRecord, agent: str) -> NextTrial:
        """The sweep's next trial, or why there is none."""
        return self.store.next_trial(sweep, agent)

    def report(
        self, sweep: SweepRecord, run_id: str, state: str, exit_code: int | None, error: str | None
    ) -> str:
        """Record how a trial ended; returns the state the store gives it."""
        return self.store.report(sweep, run_id, state, exit_code, error).effective_state

    def control(self, sweep: SweepRecord, action: str) -> SweepRecord:
        """Pause, resume, stop or cancel the sweep."""
        return self.store.control(sweep, action)

    def check_early_stop(self, sweep: SweepRecord) -> list[str]:
        """Apply the sweep's early termination; the run ids it stopped."""
        return [t.run_id for t in self.store.check_early_stop(sweep)]

    def close(self) -> None:
        """Close the store's connections."""
        self._engine.dispose()


def sweep_from_json(data: dict[str, Any]) -> SweepRecord:
    """A :class:`SweepRecord` from the server's JSON."""
    return SweepRecord(
        pk=0,
        entity=data["entity"],
        project=data["project"],
        sweep_id=data["sweep_id"],
        name=data.get("name"),
        description=data.get("description"),
        method=data["method"],
        config=data["config"],
        state=data["state"],
        author=data.get("author"),
        created_at=float(data.get("created_at") or 0.0),
        updated_at=float(data.get("updated_at") or 0.0),
    )


def trial_from_json(data: dict[str, Any]) -> TrialRecord:
    """A :class:`TrialRecord` from the server's JSON."""
    return TrialRecord(
        trial_no=int(data["trial_no"]),
        run_id=data["run_id"],
        params=data.get("params") or {},
        internal={},
        grid_index=data.get("grid_index"),
        state=data.get("state", "running"),
        exit_code=data.get("exit_code"),
        stop_reason=data.get("stop_reason"),
        error=data.get("error"),
        agent=data.get("agent"),
        created_at=float(data.get("created_at") or 0.0),
        updated_at=float(data.get("updated_at") or 0.0),
        run_pk=None,
        run_state=None,
        value=data.get("value"),
    )


def _q(*parts: str) -> str:
    return "/".join(urllib.parse.quote(p, safe="") for p in parts)


class RemoteSweeps:
    """Sweeps on a kiseki server (``/api/v1/sweeps``): agents on many machines share them."""

    def __init__(self, settings: Settings) -> None:
        from kiseki.httpclient import HttpClient

        assert settings.base_url is not None
        self.client = HttpClient(settings.base_url, settings.api_key, timeout=60.0)
        if settings.entity:
            self.entity = settings.entity
        else:
            viewer = self.client.request("GET", "/api/v1/viewer").data or {}
            self.entity = str(viewer.get("entity") or viewer.get("username") or settings.user)

    def _path(self, sweep: SweepRecord, *rest: str) -> str:
        return "/api/v1/sweeps/" + _q(sweep.entity, sweep.project, sweep.sweep_id, *rest)

    def create(self, project: str, config: SweepConfig) -> SweepRecord:
        """A new running sweep in ``project``."""
        path = "/api/v1/sweeps/" + _q(self.entity, project)
        return sweep_from_json(self.client.request("POST", path, {"config": config.raw}).data)

    def get(self, entity: str, project: str, sweep_id: str) -> SweepRecord:
        """One sweep, or :class:`NotFoundError`."""
        data = self.client.request("GET", "/api/v1/sweeps/" + _q(entity, project, sweep_id)).data
        return sweep_from_json(data["sweep"])

    def find(self, sweep_id: str) -> list[SweepRecord]:
        """Sweeps with this id in the projects of the client's entity."""
        data = self.client.request("GET", f"/api/v1/sweeps?sweep_id={_q(sweep_id)}").data
        return [sweep_from_json(s) for s in data["sweeps"]]

    def trials(self, sweep: SweepRecord) -> list[TrialRecord]:
        """Every trial of the sweep."""
        data = self.client.request("GET", self._path(sweep)).data
        return [trial_from_json(t) for t in data["trials"]]

    def next_trial(self, sweep: SweepRecord, agent: str) -> NextTrial:
        """The sweep's next trial, or why there is none."""
        data = self.client.request("POST", self._path(sweep, "next"), {"agent": agent}).data
        trial = trial_from_json(data["trial"]) if data.get("trial") else None
        return NextTrial(trial, data["state"], data["reason"])

    def report(
        self, sweep: SweepRecord, run_id: str, state: str, exit_code: int | None, error: str | None
    ) -> str:
        """Record how a trial ended; returns the state the server gives it."""
        body = {"state": state, "exit_code": exit_code, "error": error}
        path = self._path(sweep, "trials", run_id, "report")
        return str(self.client.request("POST", path, body).data["state"])

    def control(self, sweep: SweepRecord, action: str) -> SweepRecord:
        """Pause, resume, stop or cancel the sweep."""
        data = self.client.request("POST", self._path(sweep, "control"), {"action": action}).data
        return sweep_from_json(data)

    def check_early_stop(self, sweep: SweepRecord) -> list[str]:
        """Apply the sweep's early termination; the run ids it stopped."""
        data = self.client.request("POST", self._path(sweep, "early-stop"), {}).data
        return [t["run_id"] for t in data["stopped"]]

    def close(self) -> None:
        """Close the connection."""
        self.client.close()


def open_sweeps(settings: Settings) -> EmbeddedSweeps | RemoteSweeps:
    """The sweeps of the configured server, else of the embedded store."""
    if settings.remote and settings.mode == "online":
        return RemoteSweeps(settings)
    if settings.mode == "disabled":
        raise UsageError("Sweeps need a store: they cannot run with KISEKI_MODE=disabled.")
    return EmbeddedSweeps(settings)


def resolve_sweep(
    client: SweepClient, ref: str, project: str | None = None, entity: str | None = None
) -> SweepRecord:
    """The sweep ``ref`` names: ``entity/project/id``, ``project/id`` or ``id`` (then in
    ``project`` when given, else in whichever project holds that id)."""
    parts = [p for p in str(ref).strip().split("/") if p]
    if len(parts) == 3:
        return client.get(parts[0], parts[1], parts[2])
    if len(parts) == 2:
        return client.get(entity or client.entity, parts[0], parts[1])
    if len(parts) != 1:
        raise UsageError(
            f"{ref!r} is not a sweep id: use ID, PROJECT/ID or ENTITY/PROJECT/ID "
            "(as `kiseki sweep` printed)."
        )
    if project is not None:
        return client.get(entity or client.entity, project, parts[0])
    found = client.find(parts[0])
    if entity is not None:
        found = [s for s in found if s.entity == entity]
    if not found:
        raise NotFoundError(
            f"No sweep {parts[0]}: check the id, or name its project (PROJECT/{parts[0]})."
        )
    if len(found) > 1:
        paths = ", ".join(s.path for s in found)
        raise UsageError(f"Several sweeps have the id {parts[0]} ({paths}): name the project.")
    return found[0]
