"""Reading and changing projects and runs: what the remote read API and scripts call.

Every handler goes through :class:`TrackerService` with the caller's :class:`Viewer`, so the
privacy rules apply: a run the caller may not see answers 404, exactly like a missing one.
"""

from __future__ import annotations

from itertools import islice
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from kiseki import jsoncodec
from kiseki.server.api_ingest import Entity, ProjectName, RunId
from kiseki.server.deps import get_service, get_viewer
from kiseki.server.encoding import KisekiJSONResponse, project_json, run_json
from kiseki.server.service import TrackerService, Viewer

router = APIRouter(prefix="/api/v1", tags=["runs"])

ViewerDep = Annotated[Viewer, Depends(get_viewer)]
ServiceDep = Annotated[TrackerService, Depends(get_service)]
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_RUNS_PER_QUERY = 10_000
MAX_HISTORY_ROWS = 10_000
Privacy = Literal["private", "public"]


class RunsQuery(BaseModel):
    """``POST .../runs/query``: filters and order as in docs/read-api.md."""

    model_config = ConfigDict(extra="forbid")
    filters: dict[str, Any] | None = None
    order: str | list[str] = "+created_at"
    limit: int | None = Field(None, ge=0, le=MAX_RUNS_PER_QUERY)
    offset: int = Field(0, ge=0, le=INT64_MAX)


class RunChanges(BaseModel):
    """``PATCH`` a run: only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=256)
    notes: str | None = None
    tags: list[str] | None = None
    config: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None
    group: str | None = Field(None, max_length=256)
    job_type: str | None = Field(None, max_length=128)
    privacy: Privacy | None = None


class ProjectSettings(BaseModel):
    """``PUT`` a project: the privacy its new runs get."""

    model_config = ConfigDict(extra="forbid")
    visibility: Privacy


# -- projects -------------------------------------------------------------------------------
@router.get("/projects", summary="Projects the caller may see")
def list_projects(
    service: ServiceDep,
    viewer: ViewerDep,
    entity: Annotated[str | None, Query(max_length=128)] = None,
    name: Annotated[str | None, Query(max_length=128)] = None,
) -> KisekiJSONResponse:
    """``{"projects": [...]}``, with the count of runs the caller may see in each; ``entity``
    and ``name`` narrow the list (``name`` alone finds which entities have such a project)."""
    found = service.projects(viewer, entity)
    if name is not None:
        found = [p for p in found if p.name == name]
    return KisekiJSONResponse({"projects": [project_json(p) for p in found]})


@router.get("/projects/{entity}/{project}", summary="One project")
def get_project(
    entity: Entity, project: ProjectName, service: ServiceDep, viewer: ViewerDep
) -> KisekiJSONResponse:
    """The project: entity, name, run_count, created_at, last_activity, visibility."""
    return KisekiJSONResponse(project_json(service.project(viewer, entity, project)))


@router.put("/projects/{entity}/{project}", summary="Create a project or set its visibility")
def put_project(
    entity: Entity,
    project: ProjectName,
    settings: ProjectSettings,
    service: ServiceDep,
    viewer: ViewerDep,
) -> KisekiJSONResponse:
    """Set the privacy new runs of the project get (owners of the entity only)."""
    record = service.update_project(viewer, entity, project, settings.visibility, create=True)
    return KisekiJSONResponse(project_json(record))


@router.post("/projects/{entity}/{project}/runs/query", summary="Filter and order runs")
def query_runs(
    entity: Entity,
    project: ProjectName,
    query: RunsQuery,
    service: ServiceDep,
    viewer: ViewerDep,
) -> KisekiJSONResponse:
    """``{"runs": [...], "total": n}``: a page of the runs the caller may see that match."""
    filters = jsoncodec.untag(query.filters) if query.filters else None
    found = service.runs(
        viewer,
        entity,
        project,
        filters,
        query.order,  # type: ignore[arg-type]
        limit=query.limit,
        offset=query.offset,
    )
    total = service.count_runs(viewer, entity, project, filters)
    return KisekiJSONResponse({"runs": [run_json(r) for r in found], "total": total})


# -- one run --------------------------------------------------------------------------------
@router.get("/runs/{entity}/{project}/{run_id}", summary="One run")
def get_run(
    entity: Entity, project: ProjectName, run_id: RunId, service: ServiceDep, viewer: ViewerDep
) -> KisekiJSONResponse:
    """Every field of the run (times in epoch seconds)."""
    return KisekiJSONResponse(run_json(service.run(viewer, entity, project, run_id)))


@router.patch("/runs/{entity}/{project}/{run_id}", summary="Change a run")
def patch_run(
    entity: Entity,
    project: ProjectName,
    run_id: RunId,
    changes: RunChanges,
    service: ServiceDep,
    viewer: ViewerDep,
) -> KisekiJSONResponse:
    """Change ``name notes tags config summary group job_type privacy`` (owners only)."""
    run = service.run(viewer, entity, project, run_id)
    sent = {name: getattr(changes, name) for name in changes.model_fields_set}
    for name in ("config", "summary"):
        if sent.get(name) is not None:
            sent[name] = jsoncodec.untag(sent[name])
    return KisekiJSONResponse(run_json(service.update_run(viewer, run, sent)))


@router.delete("/runs/{entity}/{project}/{run_id}", status_code=204, summary="Delete a run")
def delete_run(
    entity: Entity, project: ProjectName, run_id: RunId, service: ServiceDep, viewer: ViewerDep
) -> Response:
    """Delete the run and its history (owners only)."""
    run = service.run(viewer, entity, project, run_id)
    service.delete_run(viewer, run)
    return Response(status_code=204)


@router.post("/runs/{entity}/{project}/{run_id}/stop", summary="Ask a running run to stop")
def stop_run(
    entity: Entity, project: ProjectName, run_id: RunId, service: ServiceDep, viewer: ViewerDep
) -> KisekiJSONResponse:
    """The run learns it at its next heartbeat and ends as ``killed``; a run that stopped
    sending heartbeats is ``killed`` at once."""
    run = service.run(viewer, entity, project, run_id)
    return KisekiJSONResponse(run_json(service.stop_run(viewer, run)))


# -- history --------------------------------------------------------------------------------
@router.get("/runs/{entity}/{project}/{run_id}/history", summary="History rows in step order")
def get_history(
    entity: Entity,
    project: ProjectName,
    run_id: RunId,
    service: ServiceDep,
    viewer: ViewerDep,
    keys: Annotated[list[str] | None, Query()] = None,
    min_step: Annotated[int | None, Query(ge=INT64_MIN, le=INT64_MAX)] = None,
    max_step: Annotated[int | None, Query(ge=INT64_MIN, le=INT64_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_HISTORY_ROWS)] = 1000,
) -> KisekiJSONResponse:
    """``{"rows": [...], "next_min_step": n or null}``: up to ``limit`` rows with
    ``min_step <= _step < max_step`` (as ``scan_history``); ask again from ``next_min_step``
    for the next page."""
    run = service.run(viewer, entity, project, run_id)
    reader = service.history(viewer, run)
    rows = list(islice(reader.scan(keys, min_step, max_step, page_size=limit), limit + 1))
    following = rows[limit]["_step"] if len(rows) > limit else None
    return KisekiJSONResponse({"rows": rows[:limit], "next_min_step": following})


@router.get("/runs/{entity}/{project}/{run_id}/history/keys", summary="History keys of a run")
def get_history_keys(
    entity: Entity, project: ProjectName, run_id: RunId, service: ServiceDep, viewer: ViewerDep
) -> KisekiJSONResponse:
    """``{"keys": [...]}``: every key of the run's history, sorted."""
    run = service.run(viewer, entity, project, run_id)
    return KisekiJSONResponse({"keys": service.history(viewer, run).keys()})


@router.get(
    "/runs/{entity}/{project}/{run_id}/history/sample", summary="An even sample of history rows"
)
def get_history_sample(
    entity: Entity,
    project: ProjectName,
    run_id: RunId,
    service: ServiceDep,
    viewer: ViewerDep,
    samples: Annotated[int, Query(ge=1, le=MAX_HISTORY_ROWS)] = 500,
    keys: Annotated[list[str] | None, Query()] = None,
    x_axis: Annotated[str, Query(max_length=512)] = "_step",
    stream: Annotated[Literal["default", "system"], Query()] = "default",
) -> KisekiJSONResponse:
    """``{"columns": [...], "rows": [...]}``: what ``run.history(samples, keys, x_axis,
    stream=...)`` returns (first and last row always included)."""
    run = service.run(viewer, entity, project, run_id)
    columns, rows = service.history(viewer, run).sample(samples, keys, x_axis, stream)
    return KisekiJSONResponse({"columns": columns, "rows": rows})
