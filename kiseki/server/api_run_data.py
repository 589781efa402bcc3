"""A run's saved files, console lines and system metrics over ``/api/v1`` (issue 9).

* ``GET /api/v1/runs/{entity}/{project}/{run_id}/files``: the saved files (latest versions);
* ``GET .../files/{path}``: one file's bytes (streamed);
* ``GET .../logs?after=&limit=&search=&stream=``: console lines numbered above ``after``;
* ``GET .../system?samples=``: system-metric samples spread evenly over the run.

Every handler finds the run through :class:`TrackerService`, so privacy rules apply: a run
the caller may not see answers 404 like a missing one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from kiseki.errors import NotFoundError
from kiseki.server.api_ingest import Entity, ProjectName, RunId
from kiseki.server.deps import get_service, get_viewer
from kiseki.server.encoding import KisekiJSONResponse
from kiseki.server.service import TrackerService, Viewer
from kiseki.store import run_data_queries

router = APIRouter(prefix="/api/v1", tags=["run data"])

ViewerDep = Annotated[Viewer, Depends(get_viewer)]
ServiceDep = Annotated[TrackerService, Depends(get_service)]
DOWNLOAD_CHUNK = 1024 * 1024
MAX_SYSTEM_SAMPLES = 10_000


def _run_pk(service: TrackerService, viewer: Viewer, entity: str, project: str, run_id: str) -> Any:
    return service.run(viewer, entity, project, run_id).pk


@router.get("/runs/{entity}/{project}/{run_id}/files", summary="A run's saved files")
def list_files(
    entity: Entity, project: ProjectName, run_id: RunId, service: ServiceDep, viewer: ViewerDep
) -> KisekiJSONResponse:
    """``{"files": [{path, digest, size, mtime, kind, saved_at, versions}, ...]}`` by path."""
    pk = _run_pk(service, viewer, entity, project, run_id)
    with service.queries.reading() as conn:
        found = run_data_queries.files(conn, pk)
    return KisekiJSONResponse({"files": [f.to_dict() for f in found]})


@router.get("/runs/{entity}/{project}/{run_id}/files/{path:path}", summary="Download a file")
def download_file(
    entity: Entity,
    project: ProjectName,
    run_id: RunId,
    path: str,
    request: Request,
    service: ServiceDep,
    viewer: ViewerDep,
) -> StreamingResponse:
    """The bytes of the latest version of the run's file ``path``."""
    pk = _run_pk(service, viewer, entity, project, run_id)
    with service.queries.reading() as conn:
        found = run_data_queries.file(conn, pk, path)
    store = request.app.state.blobs
    if found is None:
        raise NotFoundError(f"Run {entity}/{project}/{run_id} has no saved file {path!r}.")
    if not store.has(found.digest):
        raise NotFoundError(
            f"The bytes of {path!r} (blob {found.digest}) are not on this server yet: the run's "
            "process uploads them before the record; `kiseki sync` sends what is left."
        )
    stream = store.open(found.digest)

    def chunks() -> Iterator[bytes]:
        try:
            while chunk := stream.read(DOWNLOAD_CHUNK):
                yield chunk
        finally:
            stream.close()

    name = path.rsplit("/", 1)[-1].replace('"', "")
    return StreamingResponse(
        chunks(),
        media_type="application/octet-stream",
        headers={
            "Content-Length": str(found.size),
            "Content-Disposition": f'attachment; filename="{name}"',
            "ETag": f'"{found.digest}"',
        },
    )


@router.get("/runs/{entity}/{project}/{run_id}/logs", summary="A run's console lines")
def console_lines(
    entity: Entity,
    project: ProjectName,
    run_id: RunId,
    service: ServiceDep,
    viewer: ViewerDep,
    after: Annotated[int, Query(ge=-1)] = -1,
    limit: Annotated[int, Query(ge=1, le=run_data_queries.MAX_CONSOLE_PAGE)] = 1000,
    search: Annotated[str | None, Query(max_length=1000)] = None,
    stream: Literal["stdout", "stderr"] | None = None,
) -> KisekiJSONResponse:
    """``{"lines": [{line_no, timestamp, stream, text}, ...], "next_after": n}``: lines
    numbered above ``after`` (pass ``next_after`` back to get only newer ones)."""
    pk = _run_pk(service, viewer, entity, project, run_id)
    with service.queries.reading() as conn:
        lines = run_data_queries.console_lines(conn, pk, after, limit, search, stream)
    next_after = lines[-1].line_no if lines else after
    return KisekiJSONResponse({"lines": [x.to_dict() for x in lines], "next_after": next_after})


@router.get("/runs/{entity}/{project}/{run_id}/system", summary="A run's system metrics")
def system_samples(
    entity: Entity,
    project: ProjectName,
    run_id: RunId,
    service: ServiceDep,
    viewer: ViewerDep,
    samples: Annotated[int, Query(ge=1, le=MAX_SYSTEM_SAMPLES)] = 500,
) -> KisekiJSONResponse:
    """``{"count": n, "samples": [{"_step", "_runtime", "_timestamp", "system/...": v}]}``."""
    pk = _run_pk(service, viewer, entity, project, run_id)
    with service.queries.reading() as conn:
        count = run_data_queries.system_sample_count(conn, pk)
        rows = run_data_queries.system_rows(conn, pk, samples)
    out = [
        {"_step": n, "_runtime": runtime, "_timestamp": timestamp, **values}
        for n, timestamp, runtime, values in rows
    ]
    return KisekiJSONResponse({"count": count, "samples": out})
