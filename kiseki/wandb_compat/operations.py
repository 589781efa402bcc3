"""The root fields of ``POST /graphql``: login, run upsert, run files, server probes and the
read API's entry points. Each takes the field's arguments and answers plain data."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kiseki import jsoncodec
from kiseki.errors import NotFoundError, UsageError
from kiseki.server.api_ingest import require_writer
from kiseki.store.applier import RunKey
from kiseki.wandb_compat.artifact_operations import artifact_roots
from kiseki.wandb_compat.context import WandbContext, run_key_of_id
from kiseki.wandb_compat.introspection import type_info
from kiseki.wandb_compat.read_api import entity_node, project_node, run_node
from kiseki.wandb_compat.urls import file_path
from kiseki.wandb_compat.values import unwrap_config, user_summary
from kiseki.wandb_compat.writer import RunChanges

Resolver = Callable[[dict[str, Any]], Any]


def _json_arg(value: Any, what: str) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = jsoncodec.loads(value)
        except ValueError as exc:
            raise UsageError(f"{what} is not valid JSON: {exc}.") from exc
    if not isinstance(value, dict):
        raise UsageError(f"{what} must be a JSON object, not {type(value).__name__}.")
    return value


def _changes(data: Mapping[str, Any]) -> RunChanges:
    config = _json_arg(data.get("config"), "config")
    summary = _json_arg(data.get("summaryMetrics"), "summaryMetrics")
    metadata: dict[str, Any] = {}
    for name in ("host", "program"):
        if isinstance(data.get(name), str):
            metadata[name] = data[name]
    git = {
        name: data[source]
        for name, source in (("remote", "repo"), ("commit", "commit"))
        if isinstance(data.get(source), str)
    }
    if git:
        metadata["git"] = git
    tags = data.get("tags")
    return RunChanges(
        display_name=data.get("displayName") or None,
        notes=data.get("notes") if data.get("notes") is not None else data.get("description"),
        tags=[str(t) for t in tags] if isinstance(tags, list) else None,
        group=data.get("groupName"),
        job_type=data.get("jobType"),
        config=unwrap_config(config) if config is not None else None,
        summary=user_summary(summary) if summary is not None else None,
        metadata=metadata,
    )


def _run_key(ctx: WandbContext, data: Mapping[str, Any]) -> RunKey:
    if isinstance(data.get("id"), str) and not data.get("name"):
        return run_key_of_id(data["id"])
    run_id = data.get("name")
    project = data.get("modelName") or data.get("project") or "uncategorized"
    if not isinstance(run_id, str) or not run_id:
        raise UsageError("upsertBucket needs the run's id as input.name.")
    return RunKey(ctx.entity_or_default(data.get("entityName")), str(project), run_id)


def upsert_bucket(ctx: WandbContext, request: Any) -> Resolver:
    """``upsertBucket(input)``: create or change a run."""

    def resolve(args: dict[str, Any]) -> dict[str, Any]:
        data = args.get("input") or {}
        viewer = ctx.require_user()
        key = _run_key(ctx, data)
        require_writer(request, viewer, key)
        author = viewer.username if request.app.state.auth.enabled else None
        inserted = ctx.writer.upsert(key, author, _changes(data))
        record = ctx.service.queries.run(key.entity, key.project, key.run_id)
        if record is None:
            raise NotFoundError(f"Run {key.entity}/{key.project}/{key.run_id} was not stored.")
        return {"bucket": run_node(ctx, record), "inserted": inserted}

    return resolve


def create_run_files(ctx: WandbContext, request: Any) -> Resolver:
    """``createRunFiles(input)``: signed upload URLs, one per file asked for."""

    def resolve(args: dict[str, Any]) -> dict[str, Any]:
        data = args.get("input") or {}
        viewer = ctx.require_user()
        key = RunKey(
            ctx.entity_or_default(data.get("entityName")),
            str(data.get("projectName") or "uncategorized"),
            str(data.get("runName") or ""),
        )
        require_writer(request, viewer, key)
        names = [str(n) for n in data.get("files") or []]
        files = [
            {
                "name": name,
                "uploadUrl": ctx.signer.sign(
                    ctx.base_url,
                    "PUT",
                    file_path("upload", key.entity, key.project, key.run_id, name),
                ),
            }
            for name in names
        ]
        return {"runID": key.run_id, "files": files, "uploadHeaders": []}

    return resolve


def viewer(ctx: WandbContext) -> Resolver:
    """``viewer``: the signed-in user, or null ("invalid credentials")."""

    def resolve(_args: dict[str, Any]) -> dict[str, Any] | None:
        if ctx.viewer.is_anonymous:
            return None
        name = ctx.viewer.username
        return {
            "__typename": "User",
            "id": name,
            "name": name,
            "username": name,
            "entity": name,
            "email": None,
            "admin": ctx.viewer.is_admin,
            "flags": "{}",
            "teams": {"edges": [{"node": entity_node(t)} for t in _teams(ctx)]},
            "defaultEntity": entity_node(name),
            "userEntity": entity_node(name),
        }

    return resolve


def _teams(ctx: WandbContext) -> list[str]:
    return sorted(e for e in ctx.viewer.entities if e != ctx.viewer.username)


def server_info(_ctx: WandbContext) -> Resolver:
    """``serverInfo``: no optional server features (the client then uses the plain paths)."""

    def resolve(_args: dict[str, Any]) -> dict[str, Any]:
        return {
            "features": [],
            "cliVersionInfo": "{}",
            "latestLocalVersionInfo": None,
            "availableBucketConfigs": None,
            "frontendHost": None,
            "exposesExplicitRunQueueAckPath": False,
        }

    return resolve


def project(ctx: WandbContext) -> Resolver:
    """``project(name, entityName)`` (also ``model``): a project of the read API."""

    def resolve(args: dict[str, Any]) -> dict[str, Any] | None:
        name = args.get("name") or args.get("projectName")
        if not isinstance(name, str):
            return None
        return project_node(ctx, ctx.entity_or_default(args.get("entityName")), name)

    return resolve


def entity(ctx: WandbContext) -> Resolver:
    """``entity(name)``."""

    def resolve(args: dict[str, Any]) -> dict[str, Any]:
        return entity_node(ctx.entity_or_default(args.get("name")))

    return resolve


def introspect_type(_ctx: WandbContext) -> Resolver:
    """``__type(name)`` for the clients that probe the schema (wandb <= 0.25)."""

    def resolve(args: dict[str, Any]) -> dict[str, Any]:
        return type_info(str(args.get("name") or ""))

    return resolve


def roots(ctx: WandbContext, request: Any) -> dict[str, Resolver]:
    """Every root field this server answers (others are answered null)."""
    return {
        **artifact_roots(ctx, request),
        "viewer": viewer(ctx),
        "serverInfo": server_info(ctx),
        "upsertBucket": upsert_bucket(ctx, request),
        "createRunFiles": create_run_files(ctx, request),
        "project": project(ctx),
        "model": project(ctx),
        "entity": entity(ctx),
        "__type": introspect_type(ctx),
    }
