"""Content-addressed blobs on the server: ``/api/v1/blobs``.

* ``POST /api/v1/blobs/missing`` ``{"digests": [...]}`` answers ``{"missing": [...]}``: the
  ones the server lacks (a client asks once, then uploads only those).
* ``HEAD /api/v1/blobs/{digest}``: 200 with the size in ``Content-Length``, or 404.
* ``PUT /api/v1/blobs/{digest}``: the bytes, streamed to a staging file while hashed; stored
  only when they hash to ``digest`` (else 400 and nothing is kept), refused with 413 beyond
  ``Limits.max_blob_bytes``.
* ``GET /api/v1/blobs/{digest}``: the bytes, streamed.

Asking and uploading need a signed-in user; downloading needs the right to see an artifact
version or a run that refers to the blob (see :mod:`kiseki.store.artifacts`).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from kiseki.blobs.local import BlobCorruptError, is_digest
from kiseki.errors import AuthError, NotFoundError, UsageError
from kiseki.server.deps import get_service, get_viewer
from kiseki.server.encoding import KisekiJSONResponse
from kiseki.server.errors import PayloadTooLargeError
from kiseki.server.service import TrackerService, Viewer

router = APIRouter(prefix="/api/v1", tags=["blobs"])

Digest = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="SHA-256, lowercase hex")]
ViewerDep = Annotated[Viewer, Depends(get_viewer)]
ServiceDep = Annotated[TrackerService, Depends(get_service)]
DOWNLOAD_CHUNK = 1024 * 1024
SMALL_BLOB = 256 * 1024


class DigestList(BaseModel):
    """``POST /api/v1/blobs/missing``: the digests a client is about to refer to."""

    model_config = ConfigDict(extra="forbid")
    digests: list[str] = Field(max_length=10_000)


def _signed_in(viewer: Viewer, what: str) -> None:
    if viewer.is_anonymous:
        raise AuthError(f"Sign in to {what}: send 'Authorization: Bearer <api key>'.")


def blob_store_of(request: Request) -> Any:
    """The app's blob store (local directory or S3-compatible)."""
    return request.app.state.blobs


@router.post("/blobs/missing", summary="Which of these blobs the server lacks")
def missing_blobs(body: DigestList, request: Request, viewer: ViewerDep) -> KisekiJSONResponse:
    """``{"missing": [...]}``: the digests of ``body`` the server does not hold."""
    _signed_in(viewer, "upload blobs")
    bad = [d for d in body.digests if not is_digest(d)]
    if bad:
        raise UsageError(f"{bad[0]!r} is not a SHA-256 digest (64 lowercase hex characters).")
    store = blob_store_of(request)
    return KisekiJSONResponse({"missing": [d for d in body.digests if not store.has(d)]})


@router.head("/blobs/{digest}", summary="Whether the server holds a blob")
def head_blob(digest: Digest, request: Request, viewer: ViewerDep) -> Response:
    """200 with ``Content-Length`` when the blob is stored, else 404."""
    _signed_in(viewer, "look up blobs")
    store = blob_store_of(request)
    if not store.has(digest):
        raise NotFoundError(f"No blob {digest} on this server: upload it with PUT.")
    return Response(status_code=200, headers={"Content-Length": str(store.size(digest))})


@router.put("/blobs/{digest}", summary="Upload a blob (streamed, verified)")
async def put_blob(digest: Digest, request: Request, viewer: ViewerDep) -> KisekiJSONResponse:
    """Store the request body as blob ``digest``; ``{"digest", "size", "stored"}``
    (``stored`` is false when the server already held it)."""
    _signed_in(viewer, "upload blobs")
    store = blob_store_of(request)
    limit = request.app.state.config.limits.max_blob_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(
            f"The blob ({int(declared)} bytes) is larger than this server's limit of {limit} "
            "bytes; ask its admin to raise it."
        )
    if await run_in_threadpool(store.has, digest):
        async for _chunk in request.stream():  # drain, so the connection can be reused
            pass
        return KisekiJSONResponse({"digest": digest, "size": store.size(digest), "stored": False})
    staging = store.staging_dir()
    staging.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=".upload-", dir=staging)
    hasher = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLargeError(
                        f"The blob is larger than this server's limit of {limit} bytes; ask "
                        "its admin to raise it."
                    )
                hasher.update(chunk)
                out.write(chunk)
        if hasher.hexdigest() != digest:
            raise BlobCorruptError(
                f"The uploaded bytes hash to {hasher.hexdigest()}, not {digest}: the upload "
                "was damaged or named the wrong digest; upload it again."
            )
        await run_in_threadpool(store.adopt_file, temp_name, digest)
    finally:
        if os.path.exists(temp_name):
            os.unlink(temp_name)
    return KisekiJSONResponse({"digest": digest, "size": size, "stored": True}, status_code=201)


@router.get("/blobs/{digest}", summary="Download a blob (streamed)")
def get_blob(digest: Digest, request: Request, viewer: ViewerDep, service: ServiceDep) -> Response:
    """The blob's bytes; 404 when it is not stored or the caller may not see anything that
    refers to it."""
    from kiseki.store.artifact_queries import blob_visible

    store = blob_store_of(request)
    if not blob_visible(service.queries, viewer, digest) or not store.has(digest):
        raise NotFoundError(f"No blob {digest} that you may read on this server.")
    size = store.size(digest)
    headers = {"Content-Length": str(size), "ETag": f'"{digest}"'}
    if size <= SMALL_BLOB:  # one read: no streaming machinery for the many small files
        return Response(
            store.read_bytes(digest), media_type="application/octet-stream", headers=headers
        )
    stream = store.open(digest)

    def chunks() -> Iterator[bytes]:
        try:
            while chunk := stream.read(DOWNLOAD_CHUNK):
                yield chunk
        finally:
            stream.close()

    return StreamingResponse(chunks(), media_type="application/octet-stream", headers=headers)
