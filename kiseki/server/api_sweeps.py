"""Sweeps over HTTP: create, read, hand out trials, take reports, control (``/api/v1/sweeps``).

Agents on other machines drive a sweep through these endpoints (see
:class:`kiseki.sweeps.client.RemoteSweeps`). Rights follow :class:`TrackerService`: whoever
may see a project may read its sweeps; whoever may create runs under its entity may create,
run and control them. :class:`SweepService` holds those rules for the API and the web app.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from kiseki.errors import AuthError
from kiseki.server.api_ingest import Entity, ProjectName, RunId
from kiseki.server.deps import get_service, get_viewer
from kiseki.server.encoding import KisekiJSONResponse
from kiseki.server.service import TrackerService, Viewer
from kiseki.sweeps.config import parse_sweep_config
from kiseki.sweeps.store import NextTrial, SweepRecord, SweepStore, TrialRecord

router = APIRouter(prefix="/api/v1", tags=["sweeps"])

ViewerDep = Annotated[Viewer, Depends(get_viewer)]
ServiceDep = Annotated[TrackerService, Depends(get_service)]
SweepId = Annotated[str, Field(min_length=1, max_length=64)]


class SweepService:
    """Sweeps as a viewer may see and change them."""

    def __init__(self, tracker: TrackerService) -> None:
        self.tracker = tracker
        self.store = SweepStore(tracker.queries)

    def sweep(self, viewer: Viewer, entity: str, project: str, sweep_id: str) -> SweepRecord:
        """A sweep of a project ``viewer`` may see (else :class:`NotFoundError`)."""
        self.tracker.project(viewer, entity, project)
        return self.store.get(entity, project, sweep_id)

    def writable(self, viewer: Viewer, entity: str, project: str, sweep_id: str) -> SweepRecord:
        """A sweep ``viewer`` may run and control."""
        sweep = self.sweep(viewer, entity, project, sweep_id)
        self._require_write(viewer, entity)
        return sweep

    def _require_write(self, viewer: Viewer, entity: str) -> None:
        if not self.tracker.can_write_entity(viewer, entity):
            raise AuthError(
                f"You may not create or run sweeps of {entity!r}: only its members can."
            )

    def sweeps(self, viewer: Viewer, entity: str, project: str) -> list[SweepRecord]:
        """The sweeps of a project ``viewer`` may see."""
        self.tracker.project(viewer, entity, project)
        return self.store.sweeps(entity, project)

    def find(self, viewer: Viewer, sweep_id: str) -> list[SweepRecord]:
        """Sweeps with this id in projects ``viewer`` may see."""
        visible = {(p.entity, p.name) for p in self.tracker.projects(viewer)}
        return [s for s in self.store.find(sweep_id) if (s.entity, s.project) in visible]

    def create(
        self, viewer: Viewer, entity: str, project: str, config: dict[str, Any]
    ) -> SweepRecord:
        """A new sweep in ``entity/project``."""
        self._require_write(viewer, entity)
        return self.store.create(entity, project, parse_sweep_config(config), viewer.username)

    def trials(self, viewer: Viewer, sweep: SweepRecord) -> list[TrialRecord]:
        """The sweep's trials."""
        return self.store.trials(sweep)

    def trial_of_run(
        self, viewer: Viewer, entity: str, project: str, run_id: str
    ) -> tuple[SweepRecord, TrialRecord] | None:
        """The sweep and trial of a run ``viewer`` may see, if it is a trial."""
        self.tracker.run(viewer, entity, project, run_id)
        return self.store.trial_of_run(entity, project, run_id)

    def next_trial(self, viewer: Viewer, sweep: SweepRecord, agent: str | None) -> NextTrial:
        """Hand out the next trial."""
        self._require_write(viewer, sweep.entity)
        return self.store.next_trial(sweep, agent)

    def control(self, viewer: Viewer, sweep: SweepRecord, action: str) -> SweepRecord:
        """Pause, resume, stop or cancel."""
        self._require_write(viewer, sweep.entity)
        return self.store.control(sweep, action)


def _sweeps(request: Request) -> SweepService:
    return SweepService(request.app.state.service)


SweepsDep = Annotated[SweepService, Depends(_sweeps)]


class SweepCreate(BaseModel):
    """``POST /sweeps/{entity}/{project}``: the sweep configuration (W&B format)."""

    model_config = ConfigDict(extra="forbid")
    config: dict[str, Any]


class AgentAsk(BaseModel):
    """``POST .../next``: who asks."""

    model_config = ConfigDict(extra="forbid")
    agent: str | None = Field(None, max_length=128)


class TrialReport(BaseModel):
    """``POST .../trials/{run_id}/report``: how a trial ended."""

    model_config = ConfigDict(extra="forbid")
    state: Literal["running", "finished", "failed", "killed", "crashed"]
    exit_code: int | None = None
    error: str | None = Field(None, max_length=100_000)


class SweepControl(BaseModel):
    """``POST .../control``: what to do."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["pause", "resume", "stop", "cancel"]


@router.get("/sweeps", summary="Sweeps with a given id")
def find_sweeps(
    sweeps: SweepsDep,
    viewer: ViewerDep,
    sweep_id: Annotated[str, Query(min_length=1, max_length=64)],
) -> KisekiJSONResponse:
    """``{"sweeps": [...]}``: the sweeps called ``sweep_id`` in projects the caller may see."""
    found = sweeps.find(viewer, sweep_id)
    return KisekiJSONResponse({"sweeps": [s.to_json() for s in found]})


@router.get("/sweeps/{entity}/{project}", summary="A project's sweeps")
def list_sweeps(
    entity: Entity, project: ProjectName, sweeps: SweepsDep, viewer: ViewerDep
) -> KisekiJSONResponse:
    """``{"sweeps": [...]}``, newest first."""
    found = sweeps.sweeps(viewer, entity, project)
    return KisekiJSONResponse({"sweeps": [s.to_json() for s in found]})


@router.post("/sweeps/{entity}/{project}", summary="Create a sweep")
def create_sweep(
    entity: Entity,
    project: ProjectName,
    body: SweepCreate,
    sweeps: SweepsDep,
    viewer: ViewerDep,
) -> KisekiJSONResponse:
    """Validate the configuration (400 naming the bad key) and create a running sweep."""
    created = sweeps.create(viewer, entity, project, body.config)
    return KisekiJSONResponse(created.to_json(), status_code=201)


@router.get("/sweeps/{entity}/{project}/{sweep_id}", summary="A sweep and its trials")
def get_sweep(
    entity: Entity, project: ProjectName, sweep_id: RunId, sweeps: SweepsDep, viewer: ViewerDep
) -> KisekiJSONResponse:
    """``{"sweep": {...}, "trials": [...]}``."""
    sweep = sweeps.sweep(viewer, entity, project, sweep_id)
    trials = sweeps.trials(viewer, sweep)
    return KisekiJSONResponse({"sweep": sweep.to_json(), "trials": [t.to_json() for t in trials]})


@router.post("/sweeps/{entity}/{project}/{sweep_id}/next", summary="Hand out the next trial")
def next_trial(
    entity: Entity,
    project: ProjectName,
    sweep_id: RunId,
    body: AgentAsk,
    sweeps: SweepsDep,
    viewer: ViewerDep,
) -> KisekiJSONResponse:
    """``{"trial": {...} | null, "state": ..., "reason": ...}``: a trial to run, or why none."""
    sweep = sweeps.writable(viewer, entity, project, sweep_id)
    answer = sweeps.next_trial(viewer, sweep, body.agent)
    trial = answer.trial.to_json() if answer.trial else None
    return KisekiJSONResponse({"trial": trial, "state": answer.state, "reason": answer.reason})


@router.post(
    "/sweeps/{entity}/{project}/{sweep_id}/trials/{run_id}/report",
    summary="Report how a trial ended",
)
def report_trial(
    entity: Entity,
    project: ProjectName,
    sweep_id: RunId,
    run_id: RunId,
    body: TrialReport,
    sweeps: SweepsDep,
    viewer: ViewerDep,
) -> KisekiJSONResponse:
    """The trial as stored afterwards."""
    sweep = sweeps.writable(viewer, entity, project, sweep_id)
    trial = sweeps.store.report(sweep, run_id, body.state, body.exit_code, body.error)
    return KisekiJSONResponse(trial.to_json())


@router.post("/sweeps/{entity}/{project}/{sweep_id}/control", summary="Pause, resume, stop, cancel")
def control_sweep(
    entity: Entity,
    project: ProjectName,
    sweep_id: RunId,
    body: SweepControl,
    sweeps: SweepsDep,
    viewer: ViewerDep,
) -> KisekiJSONResponse:
    """The sweep as stored afterwards (400 for a change its state does not allow)."""
    sweep = sweeps.writable(viewer, entity, project, sweep_id)
    return KisekiJSONResponse(sweeps.control(viewer, sweep, body.action).to_json())


@router.post("/sweeps/{entity}/{project}/{sweep_id}/early-stop", summary="Apply early termination")
def early_stop(
    entity: Entity, project: ProjectName, sweep_id: RunId, sweeps: SweepsDep, viewer: ViewerDep
) -> KisekiJSONResponse:
    """``{"stopped": [...]}``: the trials the sweep's hyperband rule stopped just now."""
    sweep = sweeps.writable(viewer, entity, project, sweep_id)
    stopped = sweeps.store.check_early_stop(sweep)
    return KisekiJSONResponse({"stopped": [t.to_json() for t in stopped]})
