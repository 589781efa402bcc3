"""The web app's artifact pages and the artifact sections of a run's Overview (issue 6).

Pages:

* ``GET /projects/{entity}/{project}/artifacts``: the project's artifacts;
* ``GET /projects/{entity}/{project}/artifacts/{name}`` (the latest version) and
  ``.../artifacts/{name}/{version}``: one version — versions and aliases, files with sizes,
  metadata, the producing run, the consuming runs and a small lineage graph (inline SVG).

JSON and downloads:

* ``GET /web-api/runs/{entity}/{project}/{run_id}/artifacts``: the run's artifact outputs and
  inputs (the Overview's sections);
* ``GET /web-api/artifacts/{entity}/{project}/{name}/{version}/files/{path}``: one file.

Artifacts follow their project's privacy (see :class:`TrackerService`).
"""

from __future__ import annotations

from collections.abc import Iterator
from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.responses import HTMLResponse

from kiseki.errors import KisekiError, NotFoundError
from kiseki.server.encoding import KisekiJSONResponse
from kiseki.server.service import TrackerService, Viewer
from kiseki.store.artifact_queries import ArtifactQueries, ArtifactVersionRecord
from kiseki.store.queries import RunRecord
from kiseki.web.access import RunAccessDep, ServiceDep, ViewerDep

router = APIRouter(include_in_schema=False)
"""The artifact pages and JSON: included in the web app's router."""

GRAPH_ROW = 34
GRAPH_WIDTH = 640
MAX_GRAPH_CONSUMERS = 12


def version_row(version: ArtifactVersionRecord) -> dict[str, Any]:
    """A version as the pages and the Overview's script show it."""
    return {
        **version.to_json(),
        "url": f"/projects/{_seg(version.entity)}/{_seg(version.project)}/artifacts/"
        f"{_seg(version.name)}/{version.version}",
    }


def _seg(value: str) -> str:
    from kiseki.web.templating import path_segment

    return path_segment(value)


def run_link(run: RunRecord) -> dict[str, Any]:
    """A run as a link: name, id, state and URL."""
    return {
        "name": run.name,
        "id": run.run_id,
        "state": run.state,
        "project": run.project,
        "url": f"/projects/{_seg(run.entity)}/{_seg(run.project)}/runs/{_seg(run.run_id)}",
    }


def lineage_svg(
    version: dict[str, Any], producer: dict[str, Any] | None, consumers: list[Any]
) -> str:
    """A three-column lineage graph: the producing run → this version → the consuming runs,
    as inline SVG with links (only escaped text from the store goes in)."""
    shown = consumers[:MAX_GRAPH_CONSUMERS]
    rows = max(1, len(shown))
    height = rows * GRAPH_ROW + 16
    middle = height / 2
    box_w, box_h = 180, 24
    left_x, mid_x, right_x = 8, GRAPH_WIDTH / 2 - box_w / 2, GRAPH_WIDTH - box_w - 8

    def node(x: float, y: float, label: str, url: str | None, kind: str) -> str:
        text = escape(label if len(label) <= 24 else label[:23] + "…")
        body = (
            f'<rect x="{x:.0f}" y="{y - box_h / 2:.0f}" width="{box_w}" height="{box_h}" rx="5" '
            f'class="lineage-node lineage-{kind}"/><text x="{x + box_w / 2:.0f}" y="{y + 4:.0f}" '
            f'text-anchor="middle" class="lineage-label">{text}</text>'
        )
        return f'<a href="{escape(url)}">{body}</a>' if url else body

    parts = [
        f'<svg class="lineage" role="img" aria-label="Lineage of {escape(version["name"])}" '
        f'viewBox="0 0 {GRAPH_WIDTH} {height:.0f}" width="100%" '
        f'style="max-width:{GRAPH_WIDTH}px" xmlns="http://www.w3.org/2000/svg">'
    ]
    if producer is not None:
        parts.append(
            f'<line x1="{left_x + box_w}" y1="{middle:.0f}" x2="{mid_x:.0f}" y2="{middle:.0f}" '
            'class="lineage-edge"/>'
        )
        parts.append(node(left_x, middle, producer["name"], producer["url"], "run"))
    for index, consumer in enumerate(shown):
        y = 8 + GRAPH_ROW / 2 + index * GRAPH_ROW
        parts.append(
            f'<line x1="{mid_x + box_w:.0f}" y1="{middle:.0f}" x2="{right_x:.0f}" y2="{y:.0f}" '
            'class="lineage-edge"/>'
        )
        parts.append(node(right_x, y, consumer["name"], consumer["url"], "run"))
    label = f"{version['name']}:{version['version']}"
    parts.append(node(mid_x, middle, label, None, "artifact"))
    parts.append("</svg>")
    return "".join(parts)


def _visible_runs(
    service: TrackerService, viewer: Viewer, runs: list[RunRecord | None]
) -> list[RunRecord]:
    return [run for run in runs if run is not None and service.can_read(viewer, run)]


@router.get("/projects/{entity}/{project}/artifacts", response_class=HTMLResponse)
def artifacts_page(
    request: Request, entity: str, project: str, service: ServiceDep, viewer: ViewerDep
) -> HTMLResponse:
    """The project's artifacts with their types, version counts and latest versions."""
    from kiseki.web.routes import _error_page, _page

    try:
        service.project(viewer, entity, project)
        artifacts = ArtifactQueries(service.queries)
        collections = artifacts.collections(entity, project)
    except KisekiError as exc:
        return _error_page(request, viewer, exc)
    context = {
        "project": {"entity": entity, "name": project},
        "collections": [
            {
                "name": c.name,
                "type": c.type,
                "versions": c.version_count,
                "updated_at": c.updated_at,
                "url": f"/projects/{_seg(entity)}/{_seg(project)}/artifacts/{_seg(c.name)}",
            }
            for c in collections
        ],
    }
    return _page(request, "artifacts.html", context, viewer)


@router.get("/projects/{entity}/{project}/artifacts/{name}", response_class=HTMLResponse)
def artifact_latest_page(
    request: Request, entity: str, project: str, name: str, service: ServiceDep, viewer: ViewerDep
) -> HTMLResponse:
    """The latest version of an artifact."""
    return artifact_page(request, entity, project, name, "latest", service, viewer)


@router.get("/projects/{entity}/{project}/artifacts/{name}/{version}", response_class=HTMLResponse)
def artifact_page(
    request: Request,
    entity: str,
    project: str,
    name: str,
    version: str,
    service: ServiceDep,
    viewer: ViewerDep,
) -> HTMLResponse:
    """One artifact version: versions, aliases, files, metadata, lineage."""
    from kiseki.web.routes import _error_page, _page

    try:
        service.project(viewer, entity, project)
        artifacts = ArtifactQueries(service.queries)
        record = artifacts.resolve(entity, project, name, version)
        versions = artifacts.versions(entity, project, name)
        files = artifacts.manifest(record.id)
        queries = service.queries
        producer_record = None if record.run_pk is None else queries.run_by_pk(record.run_pk)
        producers = _visible_runs(service, viewer, [producer_record])
        consumers = _visible_runs(
            service, viewer, [queries.run_by_pk(pk) for pk in artifacts.consumers(record.id)]
        )
    except KisekiError as exc:
        return _error_page(request, viewer, exc)
    current = version_row(record)
    producer = run_link(producers[0]) if producers else None
    consumer_links = [run_link(run) for run in consumers]
    for entry in files:
        entry["url"] = (
            None
            if entry["ref"]
            else f"/web-api/artifacts/{_seg(entity)}/{_seg(project)}/{_seg(name)}/"
            f"{record.version}/files/{entry['path']}"
        )
    context = {
        "project": {"entity": entity, "name": project},
        "artifact": current,
        "versions": [version_row(v) for v in reversed(versions)],
        "files": files,
        "producer": producer,
        "consumers": consumer_links,
        "lineage_svg": lineage_svg(current, producer, consumer_links),
        "more_consumers": max(0, len(consumer_links) - MAX_GRAPH_CONSUMERS),
    }
    return _page(request, "artifact.html", context, viewer)


@router.get("/web-api/runs/{entity}/{project}/{run_id}/artifacts")
def run_artifacts_json(run: RunAccessDep) -> Response:
    """``{"outputs": [...], "inputs": [...]}``: the versions the run logged and used (inputs
    in projects the viewer may not see are left out)."""
    record = run.readable()
    artifacts = ArtifactQueries(run.service.queries)
    inputs = []
    for version in artifacts.used_by_run(record.pk):
        try:
            run.service.project(run.viewer, version.entity, version.project)
        except NotFoundError:
            continue
        inputs.append(version_row(version))
    response = KisekiJSONResponse(
        {
            "outputs": [version_row(v) for v in artifacts.logged_by_run(record.pk)],
            "inputs": inputs,
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/web-api/artifacts/{entity}/{project}/{name}/{version}/files/{path:path}")
def artifact_file(
    request: Request,
    entity: str,
    project: str,
    name: str,
    version: str,
    path: str,
    service: ServiceDep,
    viewer: ViewerDep,
) -> Response:
    """One file of an artifact version, streamed from the blob store."""
    service.project(viewer, entity, project)
    artifacts = ArtifactQueries(service.queries)
    record = artifacts.resolve(entity, project, name, version)
    entry = next((e for e in artifacts.manifest(record.id) if e["path"] == path), None)
    if entry is None or entry["ref"]:
        raise NotFoundError(f"Artifact {name}:{record.version} has no stored file {path!r}.")
    blobs = request.app.state.blobs
    if not blobs.has(entry["digest"]):
        raise NotFoundError(f"The bytes of {path!r} are not in this server's blob store.")
    stream = blobs.open(entry["digest"])

    def chunks() -> Iterator[bytes]:
        try:
            while chunk := stream.read(1024 * 1024):
                yield chunk
        finally:
            stream.close()

    filename = path.rsplit("/", 1)[-1].replace('"', "")
    return StreamingResponse(
        chunks(),
        media_type="application/octet-stream",
        headers={
            "Content-Length": str(entry["size"]),
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )
