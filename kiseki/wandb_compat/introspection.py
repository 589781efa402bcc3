"""The ``__type`` answers older clients (wandb <= 0.25) need before they use a feature.

They ask which fields a type has and skip features whose fields are missing, so each type
lists the fields this server understands (others would be answered null anyway).
"""

from __future__ import annotations

from typing import Any

_FIELDS: dict[str, tuple[str, ...]] = {
    "Query": ("viewer", "serverInfo", "project", "model", "entity", "models", "projects"),
    "Mutation": ("upsertBucket", "createRunFiles"),
    "Project": (
        "id",
        "internalId",
        "name",
        "entityName",
        "entity",
        "readOnly",
        "createdAt",
        "runCount",
        "runs",
        "run",
        "user",
    ),
    "Run": (
        "id",
        "name",
        "displayName",
        "description",
        "notes",
        "tags",
        "state",
        "group",
        "jobType",
        "commit",
        "host",
        "sweepName",
        "readOnly",
        "createdAt",
        "heartbeatAt",
        "updatedAt",
        "config",
        "summaryMetrics",
        "systemMetrics",
        "historyLineCount",
        "historyKeys",
        "history",
        "sampledHistory",
        "events",
        "files",
        "fileCount",
        "user",
        "project",
    ),
    "ServerInfo": ("features", "cliVersionInfo", "latestLocalVersionInfo"),
}
_INPUT_FIELDS: dict[str, tuple[str, ...]] = {
    "UpsertBucketInput": (
        "id",
        "name",
        "groupName",
        "modelName",
        "entityName",
        "description",
        "displayName",
        "notes",
        "commit",
        "config",
        "host",
        "debug",
        "program",
        "repo",
        "jobType",
        "state",
        "sweep",
        "tags",
        "summaryMetrics",
    ),
    "CreateRunFilesInput": ("entityName", "projectName", "runName", "files"),
}


def _field(name: str) -> dict[str, Any]:
    return {"name": name, "args": [], "type": {"name": None, "kind": "SCALAR", "ofType": None}}


def type_info(name: str) -> dict[str, Any]:
    """The ``__type`` answer for ``name``. A type this server does not know has no fields:
    older clients read ``fields`` of every answer (a null type crashes them) and then leave
    the feature it would enable off."""
    if name in _FIELDS:
        return {
            "name": name,
            "kind": "OBJECT",
            "fields": [_field(f) for f in _FIELDS[name]],
            "inputFields": None,
        }
    if name in _INPUT_FIELDS:
        return {
            "name": name,
            "kind": "INPUT_OBJECT",
            "fields": None,
            "inputFields": [_field(f) for f in _INPUT_FIELDS[name]],
        }
    return {"name": name, "kind": "OBJECT", "fields": [], "inputFields": []}
