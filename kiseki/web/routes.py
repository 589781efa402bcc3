"""The web app's routes: HTML pages, the JSON their scripts call, and static files.

Pages:

* ``GET /``: home, every project with a search box;
* ``GET /projects/{entity}/{project}``: the project workspace (runs sidebar, charts);
* ``GET /projects/{entity}/{project}/runs/{run_id}``: a run's Overview tab;
* ``GET /projects/{entity}/{project}/runs/{run_id}/charts``: a run's Charts tab;
* ``GET /projects/{entity}/{project}/compare?runs=a,b``: 2 to 5 runs side by side, and the
  parallel coordinates of the workspace's visible runs.

JSON for the pages' scripts (under ``/web-api/``, described in docs/web.md):

* ``GET /web-api/projects``;
* ``POST /web-api/projects/{entity}/{project}/runs``: search, filters, order;
* ``POST /web-api/projects/{entity}/{project}/keys``: metric keys of some runs;
* ``POST /web-api/projects/{entity}/{project}/series``: downsampled chart series;
* ``GET``, ``PATCH``, ``DELETE /web-api/runs/{entity}/{project}/{run_id}``: read, change
  (name, notes, tags, privacy) or delete one run;
* ``POST /web-api/runs/{entity}/{project}/{run_id}/stop``: stop a running run;
* ``GET``, ``PUT``, ``DELETE /web-api/projects/{entity}/{project}/state``: the signed-in
  viewer's own saved workspace of a project (read, save, reset).

Scripts, styles and Plotly's JS are served under ``/web-static/``. Every handler reads and
writes through :class:`TrackerService` with the request's viewer. Requests that change
something must carry the header ``X-Kiseki-Web: 1`` (browsers send custom headers only from the
same origin, so another site cannot make a visitor's browser do it) and, when users sign in
with a session cookie, the page's CSRF token as ``X-CSRF-Token``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import HTMLResponse

from kiseki.errors import (
    ApiError,
    AuthError,
    ConfigError,
    KisekiError,
    NotFoundError,
    StoreError,
    UsageError,
)
from kiseki.server.service import TrackerService, Viewer
from kiseki.store.queries import RunRecord
from kiseki.store.series import DEFAULT_POINTS, STEP_AXIS
from kiseki.web import payloads
from kiseki.web.access import (
    RunAccess,
    RunAccessDep,
    ServiceDep,
    ViewerDep,
    require_write_header,
)
from kiseki.web.templating import STATIC_DIR, plotly_js_path, render

router = APIRouter(include_in_schema=False)
"""The web app: include it in the server's FastAPI app."""

RUNS_LIMIT = 20_000
"""The most runs one runs request returns (the sidebar pages through nothing bigger)."""
CHART_AXES = ("_step", "_runtime", "_timestamp")
_STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def _status(error: KisekiError) -> int:
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, AuthError):
        return 403
    if isinstance(error, (UsageError, ConfigError)):
        return 400
    if isinstance(error, ApiError):
        return error.status
    if isinstance(error, StoreError):
        return 503
    return 500


class _Failure(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@contextmanager
def _json_errors() -> Iterator[None]:
    """kiseki errors as a JSON ``{"error": message}`` with the matching status."""
    try:
        yield
    except KisekiError as exc:
        raise _Failure(_status(exc), str(exc)) from exc


def _json(value: Any, status: int = 200) -> Response:
    return Response(
        payloads.dumps(value),
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _api(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a JSON handler: kiseki errors and refused writes become ``{"error": ...}``."""
    from functools import wraps

    @wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            with _json_errors():
                return _json(handler(*args, **kwargs))
        except _Failure as failure:
            return _json({"error": str(failure)}, failure.status)

    return wrapper


def _csrf(request: Request) -> str | None:
    """The CSRF token the page's scripts send with writes (only when users sign in)."""
    auth = getattr(request.app.state, "auth", None)
    if auth is None or not getattr(auth, "enabled", False):
        return None
    from kiseki.server.auth import csrf_token

    return csrf_token(request)


# -- pages ------------------------------------------------------------------------------------
_CSP_WEBGL = _CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-eval'")
"""The policy of the pages with a parallel-coordinates chart (compare, sweep): Plotly's WebGL
charts (parcoords) compile their shader drivers with ``new Function``; scripts still come only
from this server."""


def _page(
    request: Request,
    name: str,
    context: dict[str, Any],
    viewer: Viewer,
    status: int = 200,
    policy: str = _CSP,
) -> HTMLResponse:
    context = {**context, "viewer": payloads.viewer_info(viewer), "csrf": _csrf(request)}
    response = render(request, name, context, status=status)
    response.headers["Content-Security-Policy"] = policy
    return response


def _error_page(request: Request, viewer: Viewer, error: KisekiError) -> HTMLResponse:
    status = _status(error)
    return _page(
        request, "error.html", {"status": status, "message": str(error)}, viewer, status=status
    )


@router.get("/", response_class=HTMLResponse)
def home_page(request: Request, service: ServiceDep, viewer: ViewerDep) -> HTMLResponse:
    """Home: every project the viewer may see, with a search box."""
    try:
        projects = sorted(
            (payloads.project_row(p) for p in service.projects(viewer)),
            key=lambda p: -p["last_activity"],
        )
    except KisekiError as exc:
        return _error_page(request, viewer, exc)
    return _page(request, "home.html", {"projects": projects}, viewer)


@router.get("/projects/{entity}/{project}", response_class=HTMLResponse)
def workspace_page(
    request: Request, entity: str, project: str, service: ServiceDep, viewer: ViewerDep
) -> HTMLResponse:
    """A project's workspace: runs sidebar and charts."""
    try:
        record = service.project(viewer, entity, project)
    except KisekiError as exc:
        return _error_page(request, viewer, exc)
    context = {
        "project": payloads.project_row(record),
        "page": "workspace",
        "save_on_server": not viewer.is_anonymous,
    }
    return _page(request, "workspace.html", context, viewer)


COMPARE_MIN = 2
COMPARE_MAX = 5
"""How many runs the compare view puts side by side."""


@router.get("/projects/{entity}/{project}/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    entity: str,
    project: str,
    service: ServiceDep,
    viewer: ViewerDep,
    runs: str = "",
) -> HTMLResponse:
    """2 to 5 runs' config and summary side by side (differences marked), and the parallel
    coordinates of the workspace's visible runs."""
    try:
        record = service.project(viewer, entity, project)
        ids = list(dict.fromkeys(r.strip() for r in runs.split(",") if r.strip()))
        problem = None
        if not COMPARE_MIN <= len(ids) <= COMPARE_MAX:
            problem = (
                f"Pick {COMPARE_MIN} to {COMPARE_MAX} runs to compare ({len(ids)} given): tick "
                "them in the workspace's runs list or table, then press Compare."
            )
            found: list[RunRecord] = []
        else:
            found = [service.run(viewer, entity, project, run_id) for run_id in ids]
    except KisekiError as exc:
        return _error_page(request, viewer, exc)
    context = {
        "project": payloads.project_row(record),
        "page": "compare",
        "problem": problem,
        "compare": payloads.comparison(found),
    }
    return _page(request, "compare.html", context, viewer, policy=_CSP_WEBGL)


def _run_page(access: RunAccess, tab: str) -> HTMLResponse:
    try:
        run = access.readable()
    except KisekiError as exc:
        return _error_page(access.request, access.viewer, exc)
    detail = payloads.run_detail(run, access.can_write(run))
    project = {"entity": access.entity, "name": access.project}
    context = {"run": detail, "tab": tab, "project": project}
    return _page(access.request, "run.html", context, access.viewer)


@router.get("/projects/{entity}/{project}/runs/{run_id}", response_class=HTMLResponse)
def run_overview_page(
    run: RunAccessDep,
) -> HTMLResponse:
    """A run's Overview tab."""
    return _run_page(run, "overview")


@router.get("/projects/{entity}/{project}/runs/{run_id}/charts", response_class=HTMLResponse)
def run_charts_page(
    run: RunAccessDep,
) -> HTMLResponse:
    """A run's Charts tab."""
    return _run_page(run, "charts")


# -- static files ---------------------------------------------------------------------------
@router.get("/web-static/plotly.min.js")
def plotly_js() -> Response:
    """Plotly's JavaScript, from the installed ``plotly`` package."""
    try:
        path = plotly_js_path()
    except NotFoundError as exc:
        return Response(str(exc), status_code=404, media_type="text/plain")
    return FileResponse(
        path,
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/web-static/{name}")
def static_file(name: str) -> Response:
    """One of the app's own scripts or styles (a flat directory: no sub-paths)."""
    path = STATIC_DIR / name
    media_type = _STATIC_TYPES.get(path.suffix)
    if "/" in name or name.startswith(".") or media_type is None or not path.is_file():
        return Response("Not found.", status_code=404, media_type="text/plain")
    return FileResponse(
        path,
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )


# -- JSON ------------------------------------------------------------------------------------
class RunsQuery(BaseModel):
    """Body of ``POST /web-api/projects/{entity}/{project}/runs``."""

    model_config = ConfigDict(extra="forbid")
    filters: dict[str, Any] | None = None
    search: str | None = None
    order: str = "-created_at"
    limit: int = Field(default=RUNS_LIMIT, ge=1, le=RUNS_LIMIT)


class KeysQuery(BaseModel):
    """Body of ``POST /web-api/projects/{entity}/{project}/keys``."""

    model_config = ConfigDict(extra="forbid")
    runs: list[str] = Field(max_length=RUNS_LIMIT)


class SeriesQuery(BaseModel):
    """Body of ``POST /web-api/projects/{entity}/{project}/series``."""

    model_config = ConfigDict(extra="forbid")
    runs: list[str] = Field(max_length=1000)
    keys: list[str] = Field(max_length=500)
    x: str = STEP_AXIS
    points: int = DEFAULT_POINTS
    min_step: int | None = None
    max_step: int | None = None
    after: dict[str, dict[str, int]] | None = None


class SavedWorkspace(BaseModel):
    """Body of ``PUT /web-api/projects/{entity}/{project}/state``."""

    model_config = ConfigDict(extra="forbid")
    state: dict[str, Any]


class RunChanges(BaseModel):
    """Body of ``PATCH /web-api/runs/{entity}/{project}/{run_id}`` (fields left out stay)."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    notes: str | None = None
    tags: list[str] | None = None
    privacy: str | None = None


def _combined_filters(query: RunsQuery) -> dict[str, Any] | None:
    parts: list[dict[str, Any]] = []
    if query.filters:
        parts.append(query.filters)
    if query.search:
        parts.append({"display_name": {"$regex": query.search, "$options": "i"}})
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"$and": parts}


@router.get("/web-api/projects")
@_api
def projects_json(service: ServiceDep, viewer: ViewerDep) -> dict[str, Any]:
    """Every project the viewer may see."""
    return {"projects": [payloads.project_row(p) for p in service.projects(viewer)]}


@router.post("/web-api/projects/{entity}/{project}/runs")
@_api
def runs_json(
    entity: str, project: str, query: RunsQuery, service: ServiceDep, viewer: ViewerDep
) -> dict[str, Any]:
    """The runs of a project matching the workspace's search and filters, in its order."""
    record = service.project(viewer, entity, project)
    found = service.runs(
        viewer, entity, project, _combined_filters(query), query.order, limit=query.limit
    )
    rows = [payloads.run_row(r) for r in found]
    return {
        "total": record.run_count,
        "matched": len(rows),
        "runs": rows,
        "columns": payloads.columns(rows),
        "now": time.time(),
    }


@router.get("/web-api/projects/{entity}/{project}/state")
@_api
def state_json(entity: str, project: str, service: ServiceDep, viewer: ViewerDep) -> dict[str, Any]:
    """The viewer's own saved workspace of a project (``state`` is null when none)."""
    state, saved_at = service.workspace_state(viewer, entity, project)
    return {"state": state, "saved_at": saved_at}


@router.put("/web-api/projects/{entity}/{project}/state")
@_api
def save_state_json(
    request: Request,
    entity: str,
    project: str,
    body: SavedWorkspace,
    service: ServiceDep,
    viewer: ViewerDep,
) -> dict[str, Any]:
    """Save the viewer's own workspace of a project (replacing what was saved)."""
    require_write_header(request)
    saved_at = service.save_workspace_state(viewer, entity, project, body.state)
    return {"saved_at": saved_at}


@router.delete("/web-api/projects/{entity}/{project}/state")
@_api
def reset_state_json(
    request: Request, entity: str, project: str, service: ServiceDep, viewer: ViewerDep
) -> dict[str, Any]:
    """Forget the viewer's saved workspace of a project (back to the defaults)."""
    require_write_header(request)
    return {"reset": service.reset_workspace_state(viewer, entity, project)}


def _runs_by_id(
    service: TrackerService, viewer: Viewer, entity: str, project: str, ids: list[str]
) -> list[RunRecord]:
    if not ids:
        return []
    found = service.runs(viewer, entity, project, {"id": {"$in": list(dict.fromkeys(ids))}})
    order = {run_id: i for i, run_id in enumerate(ids)}
    return sorted(found, key=lambda r: order.get(r.run_id, len(order)))


@router.post("/web-api/projects/{entity}/{project}/keys")
@_api
def keys_json(
    entity: str, project: str, query: KeysQuery, service: ServiceDep, viewer: ViewerDep
) -> dict[str, Any]:
    """The metric keys the given runs logged (for charts) and the x axes they can use."""
    found = _runs_by_id(service, viewer, entity, project, query.runs)
    per_run = service.metric_keys(viewer, found)
    keys = sorted({k for ks in per_run.values() for k in ks if not k.startswith("_")})
    return {"keys": keys, "x_axes": [*CHART_AXES, *keys], "runs": per_run}


@router.post("/web-api/projects/{entity}/{project}/series")
@_api
def series_json(
    entity: str, project: str, query: SeriesQuery, service: ServiceDep, viewer: ViewerDep
) -> dict[str, Any]:
    """Downsampled series of ``keys`` for ``runs`` (only newer points with ``after``)."""
    started = time.perf_counter()
    found = _runs_by_id(service, viewer, entity, project, query.runs)
    series = service.series(
        viewer,
        found,
        query.keys,
        x_axis=query.x,
        points=query.points,
        min_step=query.min_step,
        max_step=query.max_step,
        after_steps=query.after,
    )
    out = []
    for (run_id, key), s in series.items():
        item: dict[str, Any] = {
            "run": run_id,
            "key": key,
            "x": s.xs,
            "y": s.ys,
            "sampled": s.sampled,
            "last_step": s.last_step,
        }
        if query.x != STEP_AXIS:
            item["steps"] = s.steps
        out.append(item)
    states = {r.run_id: r.state for r in found}
    return {
        "series": out,
        "states": states,
        "server_ms": round((time.perf_counter() - started) * 1000, 1),
    }


@router.get("/web-api/runs/{entity}/{project}/{run_id}")
@_api
def run_json(run: RunAccessDep) -> dict[str, Any]:
    """One run with everything its Overview shows."""
    record = run.readable()
    return payloads.run_detail(record, run.can_write(record))


@router.patch("/web-api/runs/{entity}/{project}/{run_id}")
@_api
def update_run_json(run: RunAccessDep, changes: RunChanges) -> dict[str, Any]:
    """Rename a run, or change its notes, tags or privacy."""
    record = run.writable()
    values = changes.model_dump(exclude_unset=True)
    if "name" in values and (values["name"] is None or not values["name"].strip()):
        raise UsageError("A run's name cannot be empty: type a name, or press Escape to cancel.")
    if "tags" in values:
        tags = [t.strip() for t in values["tags"] or [] if t and t.strip()]
        values["tags"] = list(dict.fromkeys(tags))
    updated = run.service.update_run(run.viewer, record, values)
    return payloads.run_detail(updated, run.can_write(updated))


@router.delete("/web-api/runs/{entity}/{project}/{run_id}")
@_api
def delete_run_json(run: RunAccessDep) -> dict[str, Any]:
    """Delete a run and its history."""
    record = run.writable()
    run.service.delete_run(run.viewer, record)
    return {"deleted": run.run_id}


@router.post("/web-api/runs/{entity}/{project}/{run_id}/stop")
@_api
def stop_run_json(run: RunAccessDep) -> dict[str, Any]:
    """Ask a running run to stop (its process learns it at its next heartbeat)."""
    updated = run.service.stop_run(run.viewer, run.writable())
    return payloads.run_detail(updated, run.can_write(updated))


from kiseki.web.run_data import router as run_data_router  # noqa: E402 (its pages use _run_page)

router.include_router(run_data_router)


from kiseki.web.sweeps import router as sweeps_router  # noqa: E402 - it uses the helpers above

router.include_router(sweeps_router)

from kiseki.web.artifacts import router as artifacts_router  # noqa: E402 - it uses _page

router.include_router(artifacts_router)

from kiseki.web.media import router as media_router  # noqa: E402

router.include_router(media_router)
