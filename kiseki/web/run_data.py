"""The web app's Logs and Files tabs of a run and the data of its System charts (issue 9).

Pages (the run page, ``run.html``, with another tab):

* ``GET /projects/{entity}/{project}/runs/{run_id}/logs``: console output with search,
  stderr highlighted and a live tail while the run is running;
* ``GET /projects/{entity}/{project}/runs/{run_id}/files``: saved files with sizes and
  download links.

JSON for their scripts and for the System section of the charts:

* ``GET /web-api/runs/{entity}/{project}/{run_id}/logs?after=&search=``: lines numbered above
  ``after`` (the live tail asks only for new ones);
* ``GET /web-api/runs/{entity}/{project}/{run_id}/files`` and ``.../files/{path}`` (download);
* ``GET /web-api/runs/{entity}/{project}/{run_id}/system?samples=``: system-metric samples.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.responses import HTMLResponse

from kiseki.server import api_run_data
from kiseki.server.encoding import KisekiJSONResponse
from kiseki.store import run_data_queries
from kiseki.web.access import RunAccess, RunAccessDep, ServiceDep, ViewerDep

router = APIRouter(include_in_schema=False)
"""The Logs and Files tabs and the System charts' data: included in the web app's router."""

LOG_PAGE = 2000
"""Lines one request of the Logs tab returns (it asks again while more come)."""


def _tab(run: RunAccess, tab: str) -> HTMLResponse:
    from kiseki.web.routes import _run_page  # the run page's shared layout and header

    return _run_page(run, tab)


@router.get("/projects/{entity}/{project}/runs/{run_id}/logs", response_class=HTMLResponse)
def run_logs_page(run: RunAccessDep) -> HTMLResponse:
    """A run's Logs tab."""
    return _tab(run, "logs")


@router.get("/projects/{entity}/{project}/runs/{run_id}/files", response_class=HTMLResponse)
def run_files_page(run: RunAccessDep) -> HTMLResponse:
    """A run's Files tab."""
    return _tab(run, "files")


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/web-api/runs/{entity}/{project}/{run_id}/logs")
def logs_json(
    run: RunAccessDep,
    after: Annotated[int, Query(ge=-1)] = -1,
    search: Annotated[str | None, Query(max_length=1000)] = None,
    stream: Literal["stdout", "stderr"] | None = None,
) -> Response:
    """Console lines numbered above ``after`` (``next_after`` is the last one's number) and the
    run's state (the page stops tailing when it is no longer running)."""
    record = run.readable()
    with run.service.queries.reading() as conn:
        lines = run_data_queries.console_lines(conn, record.pk, after, LOG_PAGE, search, stream)
    return _no_store(
        KisekiJSONResponse(
            {
                "lines": [line.to_dict() for line in lines],
                "next_after": lines[-1].line_no if lines else after,
                "more": len(lines) == LOG_PAGE,
                "state": record.state,
            }
        )
    )


@router.get("/web-api/runs/{entity}/{project}/{run_id}/files")
def files_json(
    entity: str, project: str, run_id: str, service: ServiceDep, viewer: ViewerDep
) -> Response:
    """The run's saved files."""
    return _no_store(api_run_data.list_files(entity, project, run_id, service, viewer))


@router.get("/web-api/runs/{entity}/{project}/{run_id}/files/{path:path}")
def file_download(
    entity: str,
    project: str,
    run_id: str,
    path: str,
    request: Request,
    service: ServiceDep,
    viewer: ViewerDep,
) -> StreamingResponse:
    """One saved file's bytes, as a download."""
    return api_run_data.download_file(entity, project, run_id, path, request, service, viewer)


@router.get("/web-api/runs/{entity}/{project}/{run_id}/system")
def system_json(
    entity: str,
    project: str,
    run_id: str,
    service: ServiceDep,
    viewer: ViewerDep,
    samples: Annotated[int, Query(ge=1, le=api_run_data.MAX_SYSTEM_SAMPLES)] = 300,
) -> Response:
    """System-metric samples spread evenly over the run, and its state."""
    response = api_run_data.system_samples(entity, project, run_id, service, viewer, samples)
    return _no_store(response)
