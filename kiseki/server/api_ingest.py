"""The endpoints a training process talks to: records, heartbeats, resume info.

``POST /api/v1/runs/{entity}/{project}/{run_id}/records`` takes a batch of run-log records
(see :mod:`kiseki.server.records` for the body) and answers ``{"applied_seq": n,
"stop_requested": bool}``; the same answer comes from ``.../heartbeat``. Writing needs an API
key of a user who owns the entity (their own, a team they belong to; admins anywhere).
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from kiseki.errors import AuthError, NotFoundError
from kiseki.server.deps import get_service, get_viewer
from kiseki.server.encoding import KisekiJSONResponse
from kiseki.server.errors import PayloadTooLargeError
from kiseki.server.ingest import Ack
from kiseki.server.records import claim_run, decompress, parse_json, read_records
from kiseki.server.service import TrackerService, Viewer
from kiseki.store.applier import RunKey

router = APIRouter(prefix="/api/v1", tags=["ingest"])

Entity = Annotated[str, Path(min_length=1, max_length=128, description="user or team")]
ProjectName = Annotated[str, Path(min_length=1, max_length=128)]
RunId = Annotated[str, Path(min_length=1, max_length=64)]
ViewerDep = Annotated[Viewer, Depends(get_viewer)]
ServiceDep = Annotated[TrackerService, Depends(get_service)]

ACK_SCHEMA = {
    "type": "object",
    "properties": {"applied_seq": {"type": "integer"}, "stop_requested": {"type": "boolean"}},
    "required": ["applied_seq", "stop_requested"],
}
RECORDS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["records"],
                    "additionalProperties": False,
                    "properties": {
                        "records": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["type", "seq"],
                                "properties": {
                                    "type": {"type": "integer", "minimum": 1, "maximum": 8},
                                    "seq": {"type": "integer", "minimum": 1},
                                },
                                "additionalProperties": True,
                            },
                        }
                    },
                }
            }
        },
    },
    "responses": {"200": {"content": {"application/json": {"schema": ACK_SCHEMA}}}},
}


def require_writer(request: Request, viewer: Viewer, key: RunKey) -> None:
    """Refuse unless ``viewer`` may write run ``key``: they own its entity, or wrote the run.

    With sign-in on, the entity must be a user or a team.
    """
    service: TrackerService = request.app.state.service
    auth = request.app.state.auth
    if viewer.is_anonymous:
        raise AuthError(
            "Sign in to log runs: send 'Authorization: Bearer <api key>' (KISEKI_API_KEY, or "
            "`kiseki login`)."
        )
    if auth.enabled and not request.app.state.entities.exists(key.entity):
        raise NotFoundError(
            f"No entity {key.entity!r} on this server: log to your own user name or to a team "
            "you belong to (KISEKI_ENTITY)."
        )
    if service.can_write_entity(viewer, key.entity):
        return
    run = service.queries.run(key.entity, key.project, key.run_id)
    if run is not None and service.can_write(viewer, run):
        return
    raise AuthError(
        f"You may not log to {key.entity}/{key.project}: it belongs to {key.entity!r}; log to "
        "your own entity or to a team you belong to."
    )


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(
            f"The request body ({int(declared)} bytes) is larger than {limit} bytes: send fewer "
            "records per request."
        )
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(
                f"The request body is larger than {limit} bytes: send fewer records per request."
            )
        parts.append(chunk)
    return b"".join(parts)


def _ack(ack: Ack) -> Response:
    return Response(orjson.dumps(ack.to_json()), media_type="application/json")


@router.post(
    "/runs/{entity}/{project}/{run_id}/records",
    openapi_extra=RECORDS_BODY,
    summary="Append run-log records to a run (idempotent by seq)",
)
async def post_records(
    entity: Entity, project: ProjectName, run_id: RunId, request: Request
) -> Response:
    """Apply a batch of run-log records; records at or below the run's cursor are skipped.

    The run is created by its ``RunStarted`` record (the project with it); its author is the
    signed-in user whatever the record says. Answers the run's cursor and whether it should
    stop.
    """
    limits = request.app.state.config.limits
    key = RunKey(entity, project, run_id)

    # checked before the body is read, and in the event loop: key look-ups are cached
    viewer = get_viewer(request)
    require_writer(request, viewer, key)
    body = await _read_body(request, limits.max_body_bytes)
    encoding = request.headers.get("content-encoding")

    def work() -> Ack:
        ingest = request.app.state.ingest
        with ingest.gate.held():
            payload = parse_json(decompress(body, encoding, limits.max_body_bytes))
            records = read_records(payload, limits)
            author = viewer.username if request.app.state.auth.enabled else None
            claim_run(records, entity, project, run_id, author)
            ack: Ack = ingest.apply(key, records)
        return ack

    return _ack(await run_in_threadpool(work))


@router.post(
    "/runs/{entity}/{project}/{run_id}/heartbeat",
    responses={200: {"content": {"application/json": {"schema": ACK_SCHEMA}}}},
    summary="Tell the server a run is alive; learn whether it should stop",
)
def post_heartbeat(
    entity: Entity, project: ProjectName, run_id: RunId, request: Request, viewer: ViewerDep
) -> Response:
    """Refresh the run's heartbeat (a run stored as ``crashed`` comes back as ``running``)."""
    key = RunKey(entity, project, run_id)
    require_writer(request, viewer, key)
    return _ack(request.app.state.ingest.heartbeat(key))


@router.get(
    "/runs/{entity}/{project}/{run_id}/resume",
    summary="What kiseki.init needs to start or resume a run",
)
def get_resume(
    entity: Entity,
    project: ProjectName,
    run_id: RunId,
    request: Request,
    viewer: ViewerDep,
    service: ServiceDep,
) -> KisekiJSONResponse:
    """``exists``, and for an existing run its name, state, last step, runtime, cursor, summary
    and config; ``run_count`` of the project (for generated run names)."""
    key = RunKey(entity, project, run_id)
    require_writer(request, viewer, key)
    run = service.queries.run(entity, project, run_id)
    run_count = service.queries.count_runs(entity, project)
    if run is None:
        return KisekiJSONResponse({"exists": False, "applied_seq": 0, "run_count": run_count})
    return KisekiJSONResponse(
        {
            "exists": True,
            "name": run.name,
            "state": run.state,
            "last_step": run.last_step,
            "runtime": run.runtime,
            "applied_seq": _applied_seq(service, run.pk),
            "summary": run.summary,
            "config": run.config,
            "privacy": run.privacy,
            "stop_requested": run.stop_requested,
            "run_count": run_count,
        }
    )


def _applied_seq(service: TrackerService, pk: int) -> int:
    import sqlalchemy as sa

    from kiseki.store.schema import runs

    with service.queries.reading() as conn:
        return int(conn.scalar(sa.select(runs.c.applied_seq).where(runs.c.pk == pk)) or 0)
