"""The read API's artifact questions (``Api().artifact``, ``Api().artifacts``,
``Api().artifact_types``, ``run.logged_artifacts()``, ``run.used_artifacts()``), answered
through an :class:`~kiseki.artifacts.sources.ArtifactSource`."""

from __future__ import annotations

from typing import Any

from kiseki.artifacts.artifact import Artifact
from kiseki.artifacts.names import check_artifact_name, parse_artifact_ref
from kiseki.artifacts.sources import ArtifactSource, source_for
from kiseki.errors import UsageError


def artifact_by_ref(
    source: ArtifactSource, entity: str, project: str, ref: str, artifact_type: str | None
) -> Artifact:
    """The stored version ``ref`` (``name:alias``) names in ``entity/project``; checks its
    type when ``artifact_type`` is given."""
    parsed = parse_artifact_ref(ref)
    record = source.resolve(entity, project, parsed.name, parsed.alias)
    if artifact_type is not None and record.type != artifact_type:
        raise UsageError(
            f"Artifact {entity}/{project}/{parsed.name} has type {record.type!r}, not "
            f"{artifact_type!r}."
        )
    return Artifact._from_record(record, source)


def artifact_versions(
    source: ArtifactSource, entity: str, project: str, name: str, artifact_type: str | None
) -> list[Artifact]:
    """Every version of an artifact, oldest first."""
    check_artifact_name(name)
    return [
        Artifact._from_record(record, source)
        for record in source.versions(entity, project, name, artifact_type)
    ]


def run_artifacts(queries: Any, run: Any, direction: str) -> list[Artifact]:
    """The versions run ``run`` (a stored run record) logged (``"outputs"``) or used
    (``"inputs"``)."""
    source = source_for(queries)
    records = source.outputs(run) if direction == "outputs" else source.inputs(run)
    return [Artifact._from_record(record, source) for record in records]
