"""The HTTP side of the W&B-compatible endpoint, mounted in ``kiseki server``:

* ``POST /graphql``: the lenient executor over :mod:`kiseki.wandb_compat.operations`;
* ``POST /files/{entity}/{project}/{run}/file_stream``: history, summary, system metrics,
  console output and the run's end (see :meth:`WandbRunWriter.stream`); answers
  ``{"stopped": true}`` once the run was stopped from the web app;
* ``PUT``/``GET /wandb-files/{upload|download}/{entity}/{project}/{run}/{name}``: the signed
  URLs the client uploads run files to and downloads them from.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from kiseki.errors import AuthError, NotFoundError, UsageError
from kiseki.server.api_ingest import require_writer
from kiseki.server.deps import get_viewer
from kiseki.server.service import ANONYMOUS, Viewer
from kiseki.store.applier import RunKey
from kiseki.wandb_compat.artifact_operations import artifact_queries, pending_artifacts
from kiseki.wandb_compat.artifacts import PendingArtifacts, client_manifest
from kiseki.wandb_compat.context import WandbContext
from kiseki.wandb_compat.executor import execute
from kiseki.wandb_compat.operations import roots
from kiseki.wandb_compat.shared_state import load_or_create_secret, state_dir
from kiseki.wandb_compat.urls import UrlSigner, file_path
from kiseki.wandb_compat.writer import WandbRunWriter

router = APIRouter(tags=["wandb"], include_in_schema=False)
_setup_lock = threading.Lock()


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _context(request: Request, viewer: Viewer) -> WandbContext:
    state = request.app.state
    if getattr(state, "wandb_writer", None) is None:
        with _setup_lock:
            if getattr(state, "wandb_writer", None) is None:
                shared = state_dir(state.config)
                state.wandb_signer = UrlSigner(load_or_create_secret(shared))
                state.wandb_artifacts = PendingArtifacts(shared / "artifacts")
                state.wandb_writer = WandbRunWriter(state.ingest, shared / "run-locks")
    return WandbContext(state, viewer, str(request.base_url))


def _viewer_or_anonymous(request: Request) -> Viewer:
    try:
        return get_viewer(request)
    except AuthError:
        return ANONYMOUS


@router.post("/graphql")
async def graphql(request: Request) -> Response:
    """Answer one GraphQL request of the official client."""
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return _json({"errors": [{"message": "The request body is not JSON."}]}, 400)
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return _json({"errors": [{"message": "Send {query, variables, operationName}."}]}, 400)
    ctx = _context(request, _viewer_or_anonymous(request))
    variables = body.get("variables") if isinstance(body.get("variables"), dict) else {}

    def work() -> dict[str, Any]:
        return execute(body["query"], variables, body.get("operationName"), roots(ctx, request))

    return _json(await run_in_threadpool(work))


@router.post("/files/{entity}/{project}/{run_id}/file_stream")
async def file_stream(entity: str, project: str, run_id: str, request: Request) -> Response:
    """Apply one file_stream request; ``{"stopped": true}`` asks the client to stop."""
    viewer = get_viewer(request)
    key = RunKey(entity, project, run_id)
    require_writer(request, viewer, key)
    raw = await request.body()
    try:
        body = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"The file_stream body is not JSON: {exc}.") from exc
    if not isinstance(body, dict):
        raise UsageError("The file_stream body must be a JSON object.")
    ctx = _context(request, viewer)
    author = viewer.username if request.app.state.auth.enabled else None
    ack = await run_in_threadpool(ctx.writer.stream, key, author, body)
    return _json({"stopped": True} if ack.stop_requested else {})


def _check_signed(request: Request, method: str, kind: str, key: RunKey, name: str) -> None:
    signer: UrlSigner = _context(request, ANONYMOUS).signer
    path = file_path(kind, key.entity, key.project, key.run_id, name)
    signer.check(
        method, path, request.query_params.get("expires"), request.query_params.get("signature")
    )


@router.put("/wandb-files/upload/{entity}/{project}/{run_id}/{name:path}")
async def upload_file(
    entity: str, project: str, run_id: str, name: str, request: Request
) -> Response:
    """Store an uploaded run file (a signed URL from ``createRunFiles``)."""
    key = RunKey(entity, project, run_id)
    _check_signed(request, "PUT", "upload", key, name)
    data = await request.body()
    ctx = _context(request, ANONYMOUS)

    def work() -> None:
        digest = request.app.state.blobs.put_bytes(data)
        ctx.writer.save_file(key, name, data, digest)

    await run_in_threadpool(work)
    return Response(status_code=200)


@router.get("/wandb-files/download/{entity}/{project}/{run_id}/{name:path}")
async def download_file(
    entity: str, project: str, run_id: str, name: str, request: Request
) -> Response:
    """The bytes of a saved run file (a signed URL from the read API)."""
    key = RunKey(entity, project, run_id)
    _check_signed(request, "GET", "download", key, name)
    ctx = _context(request, ANONYMOUS)

    def work() -> bytes:
        from kiseki.store.run_data_queries import file as run_file

        record = ctx.service.queries.run(entity, project, run_id)
        if record is None:
            raise NotFoundError(f"No run {entity}/{project}/{run_id}.")
        with ctx.service.queries.reading() as conn:
            saved = run_file(conn, record.pk, name)
        if saved is None:
            raise NotFoundError(f"Run {entity}/{project}/{run_id} has no file {name!r}.")
        data: bytes = request.app.state.blobs.read_bytes(saved.digest)
        return data

    data = await run_in_threadpool(work)
    return Response(data, media_type="application/octet-stream")


def _check_path(request: Request, method: str, path: str) -> None:
    signer: UrlSigner = _context(request, ANONYMOUS).signer
    signer.check(
        method, path, request.query_params.get("expires"), request.query_params.get("signature")
    )


@router.put("/wandb-files/artifact/{artifact_id}/file/{name:path}")
async def upload_artifact_file(artifact_id: str, name: str, request: Request) -> Response:
    """Store one file of an artifact being uploaded (a URL from ``createArtifactFiles``)."""
    _check_path(request, "PUT", f"/wandb-files/artifact/{artifact_id}/file/{name}")
    data = await request.body()
    ctx = _context(request, ANONYMOUS)

    def work() -> None:
        digest = request.app.state.blobs.put_bytes(data)
        pending_artifacts(ctx).add_file(artifact_id, name, digest, len(data))

    await run_in_threadpool(work)
    return Response(status_code=200)


@router.put("/wandb-files/artifact/{artifact_id}/manifest")
async def upload_artifact_manifest(artifact_id: str, request: Request) -> Response:
    """Take the client's manifest of an artifact being uploaded."""
    _check_path(request, "PUT", f"/wandb-files/artifact/{artifact_id}/manifest")
    try:
        manifest = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"The artifact manifest is not JSON: {exc}.") from exc
    if not isinstance(manifest, dict):
        raise UsageError("The artifact manifest must be a JSON object.")
    pending_artifacts(_context(request, ANONYMOUS)).set_manifest(artifact_id, manifest)
    return Response(status_code=200)


@router.get("/wandb-files/manifest/{version_id}")
async def download_artifact_manifest(version_id: int, request: Request) -> Response:
    """A stored artifact version's manifest in the client's format."""
    _check_path(request, "GET", f"/wandb-files/manifest/{version_id}")
    ctx = _context(request, ANONYMOUS)

    def work() -> dict[str, Any]:
        entries = artifact_queries(ctx).manifest(version_id)
        blobs = request.app.state.blobs
        md5s = {
            e["digest"]: base64.b64encode(
                hashlib.md5(blobs.read_bytes(e["digest"])).digest()
            ).decode()
            for e in entries
            if not e.get("ref")
        }
        return client_manifest(entries, md5s)

    return _json(await run_in_threadpool(work))


@router.get("/wandb-files/blob/{digest}")
async def download_blob(digest: str, request: Request) -> Response:
    """The bytes of a stored file by SHA-256 (a signed URL of an artifact's file list)."""
    _check_path(request, "GET", f"/wandb-files/blob/{digest}")
    blobs = request.app.state.blobs
    if not blobs.has(digest):
        raise NotFoundError(f"No stored file {digest}.")
    data = await run_in_threadpool(blobs.read_bytes, digest)
    return Response(data, media_type="application/octet-stream")
