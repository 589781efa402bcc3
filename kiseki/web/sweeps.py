"""The web app's sweep pages and the JSON their scripts call.

Pages:

* ``GET /projects/{entity}/{project}/sweeps``: a project's sweeps;
* ``GET /projects/{entity}/{project}/sweeps/{sweep_id}``: one sweep: trials table, the metric
  over time, a parallel-coordinates chart of parameters against the metric, parameter
  importance, and pause/resume/stop/cancel buttons.

JSON (under ``/web-api/``):

* ``GET /web-api/sweeps/{entity}/{project}/{sweep_id}``: everything the sweep page draws;
* ``POST /web-api/sweeps/{entity}/{project}/{sweep_id}/control``: ``{"action": ...}``;
* ``GET /web-api/sweep-of-run/{entity}/{project}/{run_id}``: the sweep and trial of a run
  (the run page links to its sweep and says why the sweep stopped it).

Rights are those of :class:`kiseki.server.api_sweeps.SweepService`.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict
from starlette.responses import HTMLResponse

from kiseki.errors import KisekiError
from kiseki.server.api_sweeps import SweepService
from kiseki.server.service import TrackerService, Viewer
from kiseki.sweeps.importance import flatten_params, parameter_importance
from kiseki.web import payloads
from kiseki.web.access import ServiceDep, ViewerDep, require_write_header
from kiseki.web.routes import _CSP_WEBGL, _api, _error_page, _page

router = APIRouter(include_in_schema=False)
"""The sweep pages: included in the web app's router."""

SERIES_POINTS = 300
"""Points per trial in the metric-over-time chart."""


class SweepAction(BaseModel):
    """Body of ``POST .../control``."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["pause", "resume", "stop", "cancel"]


@router.get("/projects/{entity}/{project}/sweeps", response_class=HTMLResponse)
def sweeps_page(
    request: Request, entity: str, project: str, service: ServiceDep, viewer: ViewerDep
) -> HTMLResponse:
    """A project's sweeps, newest first."""
    try:
        record = service.project(viewer, entity, project)
        found = SweepService(service).sweeps(viewer, entity, project)
    except KisekiError as exc:
        return _error_page(request, viewer, exc)
    context = {
        "project": payloads.project_row(record),
        "sweeps": [s.to_json() for s in found],
    }
    return _page(request, "sweeps.html", context, viewer)


@router.get("/projects/{entity}/{project}/sweeps/{sweep_id}", response_class=HTMLResponse)
def sweep_page(
    request: Request,
    entity: str,
    project: str,
    sweep_id: str,
    service: ServiceDep,
    viewer: ViewerDep,
) -> HTMLResponse:
    """One sweep: its trials, charts, importance and controls."""
    try:
        record = service.project(viewer, entity, project)
        sweep = SweepService(service).sweep(viewer, entity, project, sweep_id)
    except KisekiError as exc:
        return _error_page(request, viewer, exc)
    context = {
        "project": payloads.project_row(record),
        "sweep": sweep.to_json(),
        "can_write": service.can_write_entity(viewer, entity),
    }
    return _page(request, "sweep.html", context, viewer, policy=_CSP_WEBGL)


def sweep_detail(
    service: TrackerService, viewer: Viewer, entity: str, project: str, sweep_id: str
) -> dict[str, Any]:
    """Everything the sweep page draws: the sweep, its trials (with their runs' states and
    metric), the metric's series per trial, and parameter importance."""
    sweeps = SweepService(service)
    sweep = sweeps.sweep(viewer, entity, project, sweep_id)
    trials = sweeps.trials(viewer, sweep)
    metric = sweep.config.get("metric") or {}
    metric_name = metric.get("name")
    readable = []
    for trial in trials:
        if trial.run_pk is None:
            continue
        try:
            readable.append(service.run(viewer, entity, project, trial.run_id))
        except KisekiError:
            continue
    series: dict[str, dict[str, list[float]]] = {}
    if metric_name and readable:
        found = service.series(viewer, readable, [metric_name], points=SERIES_POINTS)
        for (run_id, _key), points in found.items():
            series[run_id] = {"x": points.xs, "y": points.ys}
    names = {r.run_id: r.name for r in readable}
    rows = []
    for trial in trials:
        row = trial.to_json()
        row["flat_params"] = flatten_params(trial.params)
        row["run_name"] = names.get(trial.run_id)
        rows.append(row)
    params = sorted({name for row in rows for name in row["flat_params"]})
    importance = parameter_importance([(t.params, t.value) for t in trials if t.value is not None])
    return {
        "sweep": sweep.to_json(),
        "metric": metric,
        "params": params,
        "trials": rows,
        "series": series,
        "importance": importance,
        "can_write": service.can_write_entity(viewer, entity),
    }


@router.get("/web-api/sweeps/{entity}/{project}/{sweep_id}")
@_api
def sweep_json(
    entity: str, project: str, sweep_id: str, service: ServiceDep, viewer: ViewerDep
) -> dict[str, Any]:
    """The sweep page's data."""
    return sweep_detail(service, viewer, entity, project, sweep_id)


@router.post("/web-api/sweeps/{entity}/{project}/{sweep_id}/control")
@_api
def control_json(
    request: Request,
    entity: str,
    project: str,
    sweep_id: str,
    body: SweepAction,
    service: ServiceDep,
    viewer: ViewerDep,
) -> dict[str, Any]:
    """Pause, resume, stop or cancel the sweep."""
    require_write_header(request)
    sweeps = SweepService(service)
    sweep = sweeps.writable(viewer, entity, project, sweep_id)
    return sweeps.control(viewer, sweep, body.action).to_json()


@router.get("/web-api/sweep-of-run/{entity}/{project}/{run_id}")
@_api
def sweep_of_run_json(
    entity: str, project: str, run_id: str, service: ServiceDep, viewer: ViewerDep
) -> dict[str, Any]:
    """``{"sweep": {...}, "trial": {...}}`` for a trial's run, else ``{"sweep": null}``."""
    found = SweepService(service).trial_of_run(viewer, entity, project, run_id)
    if found is None:
        return {"sweep": None, "trial": None}
    sweep, trial = found
    return {"sweep": sweep.to_json(), "trial": trial.to_json()}
