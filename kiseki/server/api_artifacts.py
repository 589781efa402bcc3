"""Artifacts on the server: ``/api/v1/artifacts`` and a run's ``.../artifacts``.

* ``GET /api/v1/artifacts/{entity}/{project}``: ``{"artifacts": [...]}`` (name, type,
  version count).
* ``GET .../{entity}/{project}/types``: ``{"types": [...]}``.
* ``GET .../{entity}/{project}/versions?name=&type=``: ``{"versions": [...]}``, oldest first.
* ``GET .../{entity}/{project}/{name}/{alias}``: one version (``alias``: ``latest``, ``v3``,
  ``best``).
* ``GET .../{name}/{alias}/manifest``: ``{"entries": [{"path", "digest", "size", "ref"}]}``.
* ``GET .../{name}/{alias}/lineage``: ``{"logged_by": run | null, "used_by": [run, ...]}``.
* ``PUT .../{name}/{alias}/aliases`` ``{"aliases": ["best"]}``: move aliases to the version.
* ``GET /api/v1/runs/{entity}/{project}/{run_id}/artifacts``: ``{"logged": [...],
  "used": [...]}``.

Artifacts follow their project's privacy: a caller who may not see the project gets 404;
runs in lineage are listed only when the caller may see them. Moving aliases needs the right
to write to the project's entity.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from kiseki.artifacts.names import check_alias
from kiseki.errors import AuthError, NotFoundError
from kiseki.server.api_ingest import Entity, ProjectName, RunId
from kiseki.server.deps import get_service, get_viewer
from kiseki.server.encoding import KisekiJSONResponse, run_json
from kiseki.server.service import TrackerService, Viewer
from kiseki.store.artifact_queries import ArtifactQueries, ArtifactVersionRecord

router = APIRouter(prefix="/api/v1", tags=["artifacts"])

ViewerDep = Annotated[Viewer, Depends(get_viewer)]
ServiceDep = Annotated[TrackerService, Depends(get_service)]
ArtifactName = Annotated[str, Path(min_length=1, max_length=128)]
Alias = Annotated[str, Path(min_length=1, max_length=128, description="latest, v3, best, ...")]


class AliasMove(BaseModel):
    """``PUT .../aliases``: the aliases to point at this version."""

    model_config = ConfigDict(extra="forbid")
    aliases: list[str] = Field(max_length=100)


def _artifacts(
    service: TrackerService, viewer: Viewer, entity: str, project: str
) -> ArtifactQueries:
    service.project(viewer, entity, project)  # 404 unless the viewer may see the project
    return ArtifactQueries(service.queries)


def _version(
    service: TrackerService, viewer: Viewer, entity: str, project: str, name: str, alias: str
) -> tuple[ArtifactQueries, ArtifactVersionRecord]:
    artifacts = _artifacts(service, viewer, entity, project)
    return artifacts, artifacts.resolve(entity, project, name, alias)


def _project_visible(service: TrackerService, viewer: Viewer, entity: str, project: str) -> bool:
    try:
        service.project(viewer, entity, project)
    except NotFoundError:
        return False
    return True


@router.get("/artifacts/{entity}/{project}", summary="The artifacts of a project")
def list_artifacts(
    entity: Entity, project: ProjectName, service: ServiceDep, viewer: ViewerDep
) -> KisekiJSONResponse:
    """``{"artifacts": [{"name", "type", "version_count", "updated_at"}]}``."""
    found = _artifacts(service, viewer, entity, project).collections(entity, project)
    return KisekiJSONResponse(
        {
            "artifacts": [
                {
                    "name": c.name,
                    "type": c.type,
                    "version_count": c.version_count,
                    "updated_at": c.updated_at,
                }
                for c in found
            ]
        }
    )


@router.get("/artifacts/{entity}/{project}/types", summary="Artifact types of a project")
def artifact_types(
    entity: Entity, project: ProjectName, service: ServiceDep, viewer: ViewerDep
) -> KisekiJSONResponse:
    """``{"types": [...]}``."""
    found = _artifacts(service, viewer, entity, project).types(entity, project)
    return KisekiJSONResponse({"types": found})


@router.get("/artifacts/{entity}/{project}/versions", summary="Artifact versions")
def artifact_versions(
    entity: Entity,
    project: ProjectName,
    service: ServiceDep,
    viewer: ViewerDep,
    name: Annotated[str | None, Query(max_length=128)] = None,
    type: Annotated[str | None, Query(max_length=128)] = None,
) -> KisekiJSONResponse:
    """``{"versions": [...]}`` of artifact ``name`` (or every artifact of ``type``)."""
    found = _artifacts(service, viewer, entity, project).versions(entity, project, name, type)
    return KisekiJSONResponse({"versions": [v.to_json() for v in found]})


@router.get("/artifacts/{entity}/{project}/{name}/{alias}", summary="One artifact version")
def get_version(
    entity: Entity,
    project: ProjectName,
    name: ArtifactName,
    alias: Alias,
    service: ServiceDep,
    viewer: ViewerDep,
) -> KisekiJSONResponse:
    """The version ``alias`` names."""
    return KisekiJSONResponse(_version(service, viewer, entity, project, name, alias)[1].to_json())


@router.get("/artifacts/{entity}/{project}/{name}/{alias}/manifest", summary="Files")
def get_manifest(
    entity: Entity,
    project: ProjectName,
    name: ArtifactName,
    alias: Alias,
    service: ServiceDep,
    viewer: ViewerDep,
) -> KisekiJSONResponse:
    """``{"entries": [...]}``: every file's path, digest, size and reference."""
    artifacts, record = _version(service, viewer, entity, project, name, alias)
    return KisekiJSONResponse({"entries": artifacts.manifest(record.id)})


@router.get("/artifacts/{entity}/{project}/{name}/{alias}/lineage", summary="Lineage")
def get_lineage(
    entity: Entity,
    project: ProjectName,
    name: ArtifactName,
    alias: Alias,
    service: ServiceDep,
    viewer: ViewerDep,
) -> KisekiJSONResponse:
    """The run that logged the version and the runs that used it (those the caller may see)."""
    artifacts, record = _version(service, viewer, entity, project, name, alias)
    queries = service.queries
    producer = None if record.run_pk is None else queries.run_by_pk(record.run_pk)
    if producer is not None and not service.can_read(viewer, producer):
        producer = None
    consumers = [queries.run_by_pk(pk) for pk in artifacts.consumers(record.id)]
    return KisekiJSONResponse(
        {
            "logged_by": None if producer is None else run_json(producer),
            "used_by": [
                run_json(run)
                for run in consumers
                if run is not None and service.can_read(viewer, run)
            ],
        }
    )


@router.put("/artifacts/{entity}/{project}/{name}/{alias}/aliases", summary="Move aliases")
def move_aliases(
    entity: Entity,
    project: ProjectName,
    name: ArtifactName,
    alias: Alias,
    body: AliasMove,
    service: ServiceDep,
    viewer: ViewerDep,
) -> KisekiJSONResponse:
    """Point ``body.aliases`` at the version ``alias`` names (moving them from others)."""
    artifacts, record = _version(service, viewer, entity, project, name, alias)
    if not service.can_write_entity(viewer, entity):
        raise AuthError(f"Only members of {entity!r} and admins may move its artifact aliases.")
    moved = artifacts.set_aliases(record.id, [check_alias(a) for a in body.aliases])
    return KisekiJSONResponse(moved.to_json())


@router.get("/runs/{entity}/{project}/{run_id}/artifacts", summary="A run's artifacts")
def run_artifacts(
    entity: Entity, project: ProjectName, run_id: RunId, service: ServiceDep, viewer: ViewerDep
) -> KisekiJSONResponse:
    """``{"logged": [...], "used": [...]}``: the versions the run logged and used."""
    run = service.run(viewer, entity, project, run_id)
    artifacts = ArtifactQueries(service.queries)
    return KisekiJSONResponse(
        {
            "logged": [v.to_json() for v in artifacts.logged_by_run(run.pk)],
            "used": [
                v.to_json()
                for v in artifacts.used_by_run(run.pk)
                if _project_visible(service, viewer, v.entity, v.project)
            ],
        }
    )
