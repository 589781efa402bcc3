"""The web app's media panels: images with a step slider, histograms over steps, tables.

JSON for ``media.js`` (the run page's Charts tab and the workspace's Media section):

* ``GET /web-api/runs/{entity}/{project}/{run_id}/media``: the run's media keys, each a panel:
  ``{"key", "kind": "images", "steps", "frames": [[{digest, caption, width, height}]]}``,
  ``{"key", "kind": "histogram", "steps", "bins": [[edges]], "values": [[counts]]}`` or
  ``{"key", "kind": "table", "steps", "step", "columns", "data"}`` (the last table logged);
* ``GET /web-api/runs/{entity}/{project}/{run_id}/media/{digest}``: an image's bytes, for
  whoever may see the run (the digest must be one of the run's media blobs). Blobs never
  change, so the answer is cached for a year (privately: runs may be private) and revalidated
  by its digest as ``ETag``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response, StreamingResponse

from kiseki import jsoncodec
from kiseki.errors import KisekiError, NotFoundError
from kiseki.store.media_queries import media_steps, media_values, run_has_media_blob
from kiseki.web import payloads
from kiseki.web.access import RunAccessDep

router = APIRouter(include_in_schema=False)
"""The media panels' data and images: included in the web app's router."""

Digest = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")]
MAX_FRAMES = 500
"""The most steps a panel carries (spread evenly over the run, first and last kept)."""
IMAGE_CACHE = "private, max-age=31536000, immutable"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _error(exc: KisekiError) -> Response:
    status = 404 if isinstance(exc, NotFoundError) else 400
    return Response(
        payloads.dumps({"error": str(exc)}),
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


@router.get("/web-api/runs/{entity}/{project}/{run_id}/media")
def media_json(run: RunAccessDep) -> Response:
    """Every media key of the run as a panel (see the module's docstring)."""
    try:
        record = run.readable()  # NotFoundError when hidden
        with run.service.queries.reading() as connection:
            found = _read_media(connection, record.pk)
        panels = media_panels(found, run.request.app.state.blobs)
    except KisekiError as exc:
        return _error(exc)
    return Response(
        payloads.dumps({"run": run.run_id, "panels": panels}),
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


@router.get("/web-api/runs/{entity}/{project}/{run_id}/media/{digest}")
def media_blob(run: RunAccessDep, digest: Digest) -> Response:
    """An image (or other media blob) of the run, with its content type."""
    try:
        record = run.readable()  # NotFoundError when hidden
        with run.service.queries.reading() as connection:
            listed = run_has_media_blob(connection, record.pk, digest)
        blobs = run.request.app.state.blobs
        if not listed or not blobs.has(digest):
            raise NotFoundError(f"Run {run.run_id} has no media blob {digest}.")
    except KisekiError as exc:
        return _error(exc)
    etag = f'"{digest}"'
    if run.request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": IMAGE_CACHE})
    stream = blobs.open(digest)
    head = stream.read(len(_PNG_MAGIC))
    media_type = "image/png" if head == _PNG_MAGIC else "application/json"

    def chunks() -> Iterator[bytes]:
        try:
            yield head
            while chunk := stream.read(256 * 1024):
                yield chunk
        finally:
            stream.close()

    return StreamingResponse(
        chunks(),
        media_type=media_type,
        headers={
            "ETag": etag,
            "Cache-Control": IMAGE_CACHE,
            "Content-Length": str(blobs.size(digest)),
            "X-Content-Type-Options": "nosniff",
        },
    )


def _read_media(connection: Any, run_pk: int) -> list[tuple[str, int, str]]:
    """``(key, step, JSON)`` of what the panels show: up to :data:`MAX_FRAMES` steps of each
    key, and of a table only the last (a run's history may hold far more)."""
    found = []
    for key, steps in media_steps(connection, run_pk).items():
        last = media_values(connection, run_pk, key, steps[-1:])
        if not last or _kind(jsoncodec.loads(last[0][1]).get("_type")) == "table":
            picked = last
        else:
            picked = media_values(connection, run_pk, key, _spread(steps))
        found.extend((key, step, text) for step, text in picked)
    return found


def media_panels(found: list[tuple[str, int, str]], blobs: Any) -> list[dict[str, Any]]:
    """Panels from ``(key, step, JSON)`` media values ordered by key and step; large tables
    are read from ``blobs``."""
    by_key: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for key, step, text in found:
        value = jsoncodec.loads(text)
        if isinstance(value, dict):
            by_key.setdefault(key, []).append((step, value))
    panels = []
    for key, values in by_key.items():
        kind = values[-1][1].get("_type")
        same = [(s, v) for s, v in values if _kind(v.get("_type")) == _kind(kind)]
        panel = _panel(key, _kind(kind), _spread(same), blobs)
        if panel is not None:
            panels.append(panel)
    return panels


def _kind(json_type: Any) -> str:
    return {
        "image-file": "images",
        "images": "images",
        "histogram": "histogram",
        "table": "table",
        "table-file": "table",
    }.get(str(json_type), "")


def _spread(values: list[Any]) -> list[Any]:
    """At most :data:`MAX_FRAMES` of ``values``, evenly spread, first and last kept."""
    if len(values) <= MAX_FRAMES:
        return values
    last = len(values) - 1
    picks = sorted({round(i * last / (MAX_FRAMES - 1)) for i in range(MAX_FRAMES)})
    return [values[i] for i in picks]


def _image(ref: dict[str, Any]) -> dict[str, Any]:
    return {
        "digest": ref.get("digest"),
        "caption": ref.get("caption"),
        "width": ref.get("width"),
        "height": ref.get("height"),
    }


def _panel(
    key: str, kind: str, values: list[tuple[int, dict[str, Any]]], blobs: Any
) -> dict[str, Any] | None:
    steps = [step for step, _ in values]
    if kind == "images":
        frames = [
            [_image(v)] if v.get("_type") == "image-file" else [_image(i) for i in v["images"]]
            for _, v in values
        ]
        return {"key": key, "kind": kind, "steps": steps, "frames": frames}
    if kind == "histogram":
        return {
            "key": key,
            "kind": kind,
            "steps": steps,
            "bins": [v.get("bins") or [] for _, v in values],
            "values": [v.get("values") or [] for _, v in values],
        }
    if kind == "table":
        step, table = values[-1]
        if table.get("_type") == "table-file":
            table = jsoncodec.loads(blobs.read_bytes(table["digest"]))
        return {
            "key": key,
            "kind": kind,
            "steps": steps,
            "step": step,
            "columns": table.get("columns") or [],
            "data": table.get("data") or [],
        }
    return None
