"""Content-addressed blobs on the server: ``/api/v1/blobs``.

* ``POST /api/v1/blobs/missing`` ``{"digests": [...]}`` answers ``{"missing": [...]}``: the
  ones the server lacks (a client asks once, then uploads only those).
* ``HEAD /api/v1/blobs/{digest}``: 200 with the size in ``Content-Length``, or 404.
* ``PUT /api/v1/blobs/{digest}``: the bytes, streamed to a staging file while hashed; stored
  only when they hash to ``digest`` (else 400 and nothing is kept), refused with 413 beyond
  ``Limits.max_blob_bytes``.
* ``GET /api/v1/blobs/{digest}``: the bytes, streamed.
* ``POST /api/v1/blobs/batch``: many blobs in one request, as length-prefixed frames (see
  :mod:`kiseki.blobs.frames`); each is verified against its digest and stored on its own
  (atomically), so a damaged frame is refused (400) and nothing of it is kept.
* ``POST /api/v1/blobs/fetch`` ``{"digests": [...]}``: those blobs as frames, streamed; 404
  (and nothing sent) when any of them is not stored or not readable by the caller.

Asking and uploading need a signed-in user; downloading needs the right to see an artifact
version or a run that refers to the blob (see :mod:`kiseki.store.artifacts`).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from kiseki.blobs.frames import FRAME_MEDIA_TYPE, HEADER, frame_header, parse_header
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
MAX_BATCH_BLOBS = 10_000
"""Frames in one ``POST /api/v1/blobs/batch`` (the body is also under ``max_body_bytes``)."""
MAX_FETCH_DIGESTS = 10_000
SMALL_FRAME_BYTES = 1024 * 1024
"""Frames up to this size are received in memory and stored together."""
PENDING_BYTES = 8 * 1024 * 1024
"""Bytes of small frames held in memory before they are stored."""


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


class _FrameReader:
    """Reads exact byte counts from a request body's chunks, holding at most one chunk."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""
        self._done = False

    async def _fill(self) -> bool:
        while not self._buffer and not self._done:
            try:
                self._buffer = await self._chunks.__anext__()
            except StopAsyncIteration:
                self._done = True
        return bool(self._buffer)

    async def at_end(self) -> bool:
        """Whether the body is exhausted."""
        return not await self._fill()

    async def read_exact(self, count: int) -> bytes:
        """``count`` bytes (a small count: a header); raises when the body ends first."""
        parts: list[bytes] = []
        async for part in self.pieces(count):
            parts.append(part)
        return b"".join(parts)

    async def pieces(self, count: int) -> AsyncIterator[bytes]:
        """The next ``count`` bytes in pieces as they arrive."""
        left = count
        while left:
            if not await self._fill():
                raise UsageError(
                    f"The blob batch ended {left} bytes before its last frame did: every frame "
                    "is a 64-character digest, an 8-byte big-endian size and that many bytes."
                )
            piece, self._buffer = self._buffer[:left], self._buffer[left:]
            left -= len(piece)
            yield piece


def _corrupt_frame(digest: str, actual: str) -> BlobCorruptError:
    return BlobCorruptError(
        f"The bytes of the batch's frame for {digest} hash to {actual}: the upload was damaged "
        "or named the wrong digest; that blob and the frames after it were not stored; upload "
        "them again."
    )


def _store_small_frames(store: Any, frames: list[tuple[str, bytes]]) -> list[bool]:
    """Verify and store small frames held in memory, in order (one worker-thread hop for
    many blobs); whether each was new. A bad frame raises; the frames before it stay stored."""
    results: list[bool] = []
    staging = store.staging_dir()
    staging.mkdir(parents=True, exist_ok=True)
    for digest, data in frames:
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise _corrupt_frame(digest, actual)
        if store.has(digest):
            results.append(False)
            continue
        fd, temp_name = tempfile.mkstemp(prefix=".upload-", dir=staging)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            store.adopt_file(temp_name, digest)
        finally:
            if os.path.exists(temp_name):
                os.unlink(temp_name)
        results.append(True)
    return results


async def _store_large_frame(reader: _FrameReader, store: Any, digest: str, size: int) -> bool:
    """Receive one large frame's bytes into a staging file while hashing, then store the
    blob (or drop the bytes when the store already holds it); whether it was new."""
    if await run_in_threadpool(store.has, digest):
        async for _piece in reader.pieces(size):
            pass
        return False
    staging = store.staging_dir()
    staging.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=".upload-", dir=staging)
    hasher = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            async for piece in reader.pieces(size):
                hasher.update(piece)
                out.write(piece)
        if hasher.hexdigest() != digest:
            raise _corrupt_frame(digest, hasher.hexdigest())
        await run_in_threadpool(store.adopt_file, temp_name, digest)
    finally:
        if os.path.exists(temp_name):
            os.unlink(temp_name)
    return True


@router.post("/blobs/batch", summary="Upload many blobs in one request (framed, verified)")
async def put_blob_batch(request: Request, viewer: ViewerDep) -> KisekiJSONResponse:
    """Store every frame of the body as a blob; ``{"stored": [...], "present": [...]}``
    (``present``: blobs the server already held). Frames before a bad one stay stored.

    Frames up to ``SMALL_FRAME_BYTES`` are gathered in memory (at most ``PENDING_BYTES`` at
    a time) and stored together; larger ones stream through a staging file."""
    _signed_in(viewer, "upload blobs")
    store = blob_store_of(request)
    limit = request.app.state.config.limits.max_blob_bytes
    reader = _FrameReader(request.stream().__aiter__())
    stored: list[str] = []
    present: list[str] = []
    pending: list[tuple[str, bytes]] = []
    pending_bytes = 0

    async def flush() -> None:
        nonlocal pending, pending_bytes
        if pending:
            news = await run_in_threadpool(_store_small_frames, store, pending)
            for (digest, _data), new in zip(pending, news, strict=True):
                (stored if new else present).append(digest)
            pending, pending_bytes = [], 0

    count = 0
    while not await reader.at_end():
        count += 1
        if count > MAX_BATCH_BLOBS:
            raise UsageError(
                f"A blob batch holds at most {MAX_BATCH_BLOBS} frames: send the rest in "
                "another request."
            )
        digest, size = parse_header(await reader.read_exact(HEADER.size))
        if not is_digest(digest):
            await flush()
            raise UsageError(
                f"Frame {count} of the blob batch names {digest!r}, not a SHA-256 digest (64 "
                "lowercase hex characters)."
            )
        if size > limit:
            await flush()
            raise PayloadTooLargeError(
                f"The blob {digest} ({size} bytes) is larger than this server's limit of "
                f"{limit} bytes; ask its admin to raise it."
            )
        if size <= SMALL_FRAME_BYTES:
            try:
                data = await reader.read_exact(size)
            except UsageError:
                await flush()
                raise
            pending.append((digest, data))
            pending_bytes += size
            if pending_bytes >= PENDING_BYTES:
                await flush()
            continue
        await flush()
        new = await _store_large_frame(reader, store, digest, size)
        (stored if new else present).append(digest)
    await flush()
    return KisekiJSONResponse({"stored": stored, "present": present}, status_code=201)


class FetchList(BaseModel):
    """``POST /api/v1/blobs/fetch``: the blobs to download."""

    model_config = ConfigDict(extra="forbid")
    digests: list[str] = Field(max_length=MAX_FETCH_DIGESTS)


@router.post("/blobs/fetch", summary="Download many blobs in one response (framed)")
def fetch_blobs(
    body: FetchList, request: Request, viewer: ViewerDep, service: ServiceDep
) -> StreamingResponse:
    """Every blob of ``body`` as a frame, in the order asked (each once); 404 before anything
    is sent when one is not stored or the caller may not read it."""
    from kiseki.store.blob_visibility import visible_blobs

    wanted = list(dict.fromkeys(body.digests))
    bad = [d for d in wanted if not is_digest(d)]
    if bad:
        raise UsageError(f"{bad[0]!r} is not a SHA-256 digest (64 lowercase hex characters).")
    store = blob_store_of(request)
    readable = visible_blobs(service.queries, viewer, wanted)
    for digest in wanted:
        if digest not in readable or not store.has(digest):
            raise NotFoundError(f"No blob {digest} that you may read on this server.")

    def frames() -> Iterator[bytes]:
        pending: list[bytes] = []  # small frames, sent together up to DOWNLOAD_CHUNK
        pending_bytes = 0
        for digest in wanted:
            size = store.size(digest)
            if size <= SMALL_BLOB:
                data = store.read_bytes(digest)
                pending += (frame_header(digest, len(data)), data)
                pending_bytes += HEADER.size + len(data)
                if pending_bytes >= DOWNLOAD_CHUNK:
                    yield b"".join(pending)
                    pending, pending_bytes = [], 0
                continue
            pending.append(frame_header(digest, size))
            yield b"".join(pending)
            pending, pending_bytes = [], 0
            stream = store.open(digest)
            try:
                while chunk := stream.read(DOWNLOAD_CHUNK):
                    yield chunk
            finally:
                stream.close()
        if pending:
            yield b"".join(pending)

    return StreamingResponse(frames(), media_type=FRAME_MEDIA_TYPE)
