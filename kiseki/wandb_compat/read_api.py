"""What ``wandb.Api`` reads: projects, runs (filtered, ordered, paged), a run's config,
summary, history, system metrics and files, in the encodings the client expects.

Run and project objects are plain dicts whose costly or argument-taking fields are callables
(see :mod:`kiseki.wandb_compat.executor`); config, summary and system metrics are JSON
*strings*, ``historyKeys`` a JSON object, history rows JSON strings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from kiseki import jsoncodec
from kiseki.errors import UsageError
from kiseki.store.applier import RunKey
from kiseki.store.queries import ProjectRecord, RunRecord
from kiseki.store.schema import projects
from kiseki.wandb_compat.context import WandbContext, run_node_id
from kiseki.wandb_compat.urls import file_path
from kiseki.wandb_compat.values import wrap_config

DEFAULT_PAGE = 50
MAX_HISTORY_SAMPLES = 100_000


def iso_time(timestamp: float | None) -> str | None:
    """``2024-05-01T12:00:00`` (UTC, no zone suffix), as the client parses it."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _dumps(value: Any) -> str:
    return jsoncodec.dumps(value)


def wandb_filters(filters: Any) -> Any:
    """A client filter document in kiseki's field names (``config.lr.value`` -> ``config.lr``)."""
    if isinstance(filters, list):
        return [wandb_filters(item) for item in filters]
    if not isinstance(filters, Mapping):
        return filters
    translated: dict[str, Any] = {}
    for key, value in filters.items():
        name = key
        if key.startswith("config.") and key.endswith(".value"):
            name = key[: -len(".value")]
        translated[name] = wandb_filters(value)
    return translated


def _order(order: Any) -> str:
    if not isinstance(order, str) or not order.strip(" +-"):
        return "-created_at"
    sign = "-" if order.startswith("-") else "+"
    name = order.lstrip("+-")
    if name.startswith("config.") and name.endswith(".value"):
        name = name[: -len(".value")]
    return sign + name


def project_id(ctx: WandbContext, entity: str, name: str) -> int | None:
    """The store's numeric id of project ``entity/name`` (the client's ``internalId``)."""
    with ctx.service.queries.reading() as conn:
        found = conn.execute(
            sa.select(projects.c.id).where(projects.c.entity == entity, projects.c.name == name)
        ).scalar()
    return None if found is None else int(found)


def entity_node(name: str) -> dict[str, Any]:
    """An entity (user or team) as the client reads it."""
    return {"__typename": "Entity", "id": name, "name": name, "isTeam": False}


def project_node(ctx: WandbContext, entity: str, name: str) -> dict[str, Any]:
    """A project; runs are read lazily."""
    record: ProjectRecord | None = ctx.service.queries.project(entity, name)

    def runs(args: dict[str, Any]) -> dict[str, Any]:
        return runs_connection(ctx, entity, name, args)

    def run_count(args: dict[str, Any]) -> int:
        filters = _filters_arg(args.get("filters"))
        try:
            return ctx.service.count_runs(ctx.viewer, entity, name, filters)
        except LookupError:
            return 0

    def run(args: dict[str, Any]) -> dict[str, Any] | None:
        run_id = args.get("name")
        if not isinstance(run_id, str):
            return None
        found = ctx.service.queries.run(entity, name, run_id)
        if found is None or not ctx.service.can_read(ctx.viewer, found):
            return None
        return run_node(ctx, found)

    return {
        "__typename": "Project",
        "id": f"{entity}/{name}",
        "internalId": lambda _args: str(project_id(ctx, entity, name) or 0),
        "name": name,
        "entityName": entity,
        "entity": entity_node(entity),
        "readOnly": not ctx.service.can_write_entity(ctx.viewer, entity),
        "createdAt": iso_time(record.created_at if record else None),
        "isBenchmark": False,
        "description": None,
        "views": "{}",
        "user": {"name": entity, "username": entity},
        "artifact": lambda args: _artifact_field(ctx, entity, name, "artifact", args),
        "artifactCollection": lambda args: _artifact_field(
            ctx, entity, name, "artifactCollection", args
        ),
        "artifactCollectionMembership": lambda args: _artifact_field(
            ctx, entity, name, "artifactCollectionMembership", args
        ),
        "runCount": run_count,
        "runs": runs,
        "run": run,
        "bucket": run,
    }


def _artifact_field(
    ctx: WandbContext, entity: str, project: str, field: str, args: dict[str, Any]
) -> Any:
    from kiseki.wandb_compat import artifact_operations as operations

    resolver = {
        "artifact": operations.project_artifact,
        "artifactCollection": operations.artifact_collection,
        "artifactCollectionMembership": operations.collection_membership,
    }[field]
    return resolver(ctx, entity, project)(args)


def _filters_arg(filters: Any) -> Any:
    if filters is None or filters == "":
        return None
    if isinstance(filters, str):
        try:
            filters = jsoncodec.loads(filters)
        except ValueError as exc:
            raise UsageError(f"The run filter is not JSON: {exc}.") from exc
    translated = wandb_filters(filters)
    return translated or None


def runs_connection(
    ctx: WandbContext, entity: str, project: str, args: Mapping[str, Any]
) -> dict[str, Any]:
    """A page of runs: ``first`` runs after cursor ``after`` (the cursor is an offset)."""
    first = args.get("first")
    limit = first if isinstance(first, int) and first > 0 else DEFAULT_PAGE
    after = args.get("after")
    offset = int(after) if isinstance(after, str) and after.isdigit() else 0
    filters = _filters_arg(args.get("filters"))
    try:
        found = ctx.service.runs(
            ctx.viewer,
            entity,
            project,
            filters,
            _order(args.get("order")),
            limit=limit + 1,
            offset=offset,
        )
        total = ctx.service.count_runs(ctx.viewer, entity, project, filters)
    except LookupError:
        found, total = [], 0
    page = found[:limit]
    edges = [
        {"node": run_node(ctx, record), "cursor": str(offset + i + 1)}
        for i, record in enumerate(page)
    ]
    return {
        "totalCount": total,
        "edges": edges,
        "pageInfo": {
            "endCursor": str(offset + len(page)) if page else after,
            "hasNextPage": len(found) > limit,
        },
    }


def _history_keys(ctx: WandbContext, record: RunRecord) -> dict[str, Any]:
    keys = ctx.service.history(ctx.viewer, record).keys()
    counts = {"typeCounts": [{"type": "number", "count": record.history_rows}]}
    return {
        "lastStep": record.last_step,
        "keys": {key: counts for key in keys if key != "_step"},
    }


def _safe_rows(rows: Any) -> list[dict[str, Any]]:
    return [{k: _json_safe(v) for k, v in row.items()} for row in rows]


def _history_rows(
    ctx: WandbContext, record: RunRecord, args: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """``history(samples, minStep, maxStep)``: with a step range (``scan_history``'s pages),
    up to ``samples`` consecutive rows from ``minStep``; without, ``samples`` rows spread
    evenly over the run."""
    reader = ctx.service.history(ctx.viewer, record)
    min_step, max_step = args.get("minStep"), args.get("maxStep")
    samples = args.get("samples")
    limit = samples if isinstance(samples, int) and samples > 0 else MAX_HISTORY_SAMPLES
    if not isinstance(min_step, int) and not isinstance(max_step, int):
        return _safe_rows(reader.sample(min(limit, MAX_HISTORY_SAMPLES))[1])
    scan = reader.scan(
        None,
        min_step if isinstance(min_step, int) else None,
        max_step if isinstance(max_step, int) else None,
    )
    return _safe_rows(row for _, row in zip(range(limit), scan, strict=False))


def _sampled_history(
    ctx: WandbContext, record: RunRecord, args: Mapping[str, Any]
) -> list[list[dict[str, Any]]]:
    """``sampledHistory(specs)``: per spec, rows having all its ``keys``; spread evenly, or
    consecutive from ``minStep`` to ``maxStep`` (inclusive) when the spec has a range."""
    reader = ctx.service.history(ctx.viewer, record)
    answers: list[list[dict[str, Any]]] = []
    for spec in args.get("specs") or []:
        parsed = jsoncodec.loads(spec) if isinstance(spec, str) else dict(spec or {})
        keys = [k for k in parsed.get("keys") or [] if isinstance(k, str)]
        wanted = [k for k in keys if k != "_step"] or None
        samples = min(int(parsed.get("samples") or MAX_HISTORY_SAMPLES), MAX_HISTORY_SAMPLES)
        min_step, max_step = parsed.get("minStep"), parsed.get("maxStep")
        if not isinstance(min_step, int) and not isinstance(max_step, int):
            answers.append(_safe_rows(reader.sample(samples, wanted)[1]))
            continue
        scan = reader.scan(
            wanted,
            min_step if isinstance(min_step, int) else None,
            max_step + 1 if isinstance(max_step, int) else None,
        )
        answers.append(_safe_rows(row for _, row in zip(range(samples), scan, strict=False)))
    return answers


def _system_rows(
    ctx: WandbContext, record: RunRecord, args: Mapping[str, Any]
) -> list[dict[str, Any]]:
    samples = args.get("samples")
    limit = samples if isinstance(samples, int) and samples > 0 else 500
    reader = ctx.service.history(ctx.viewer, record)
    _columns, rows = reader.sample(min(limit, MAX_HISTORY_SAMPLES), stream="system")
    answer = []
    for row in rows:
        out: dict[str, Any] = {}
        for key, value in row.items():
            name = "system." + key[len("system/") :] if key.startswith("system/") else key
            out[name] = _json_safe(value)
        answer.append(out)
    return answer


def _files(ctx: WandbContext, record: RunRecord, args: Mapping[str, Any]) -> dict[str, Any]:
    from kiseki.store.run_data_queries import files as run_files

    with ctx.service.queries.reading() as conn:
        saved = run_files(conn, record.pk)
    names = args.get("names")
    if isinstance(names, list) and names:
        saved = [f for f in saved if f.path in names]
    first = args.get("first")
    limit = first if isinstance(first, int) and first > 0 else DEFAULT_PAGE
    after = args.get("after")
    offset = int(after) if isinstance(after, str) and after.isdigit() else 0
    page = saved[offset : offset + limit]
    edges = []
    for i, saved_file in enumerate(page):
        path = file_path("download", record.entity, record.project, record.run_id, saved_file.path)
        url = ctx.signer.sign(ctx.base_url, "GET", path)
        edges.append(
            {
                "cursor": str(offset + i + 1),
                "node": {
                    "__typename": "File",
                    "id": f"{record.run_id}/{saved_file.path}",
                    "name": saved_file.path,
                    "url": lambda _args, url=url: url,
                    "directUrl": url,
                    "sizeBytes": saved_file.size,
                    "mimetype": "application/octet-stream",
                    "updatedAt": iso_time(saved_file.saved_at),
                    "md5": None,
                    "digest": saved_file.digest,
                },
            }
        )
    return {
        "edges": edges,
        "pageInfo": {
            "endCursor": str(offset + len(page)) if page else after,
            "hasNextPage": offset + len(page) < len(saved),
        },
    }


def run_node(ctx: WandbContext, record: RunRecord) -> dict[str, Any]:
    """A run as the client reads it (also the ``bucket`` of ``upsertBucket``)."""
    key = RunKey(record.entity, record.project, record.run_id)
    summary = {**record.summary, "_runtime": record.runtime}
    if record.history_rows:
        summary["_step"] = record.last_step

    def file_count(_args: dict[str, Any]) -> int:
        return len(_files(ctx, record, {"first": 10**9})["edges"])

    return {
        "__typename": "Run",
        "id": run_node_id(key),
        "name": record.run_id,
        "displayName": record.name,
        "description": record.notes,
        "notes": record.notes,
        "tags": list(record.tags),
        "state": record.state,
        "group": record.group,
        "jobType": record.job_type,
        "commit": (record.metadata.get("git") or {}).get("commit"),
        "host": record.metadata.get("host"),
        "sweepName": None,
        "readOnly": not ctx.service.can_write(ctx.viewer, record),
        "createdAt": iso_time(record.created_at),
        "heartbeatAt": iso_time(record.heartbeat_at),
        "updatedAt": iso_time(record.updated_at),
        "historyLineCount": record.history_rows,
        "eventsLineCount": 0,
        "config": lambda _args: _dumps(wrap_config(record.config)),
        "summaryMetrics": lambda _args: _dumps({k: _json_safe(v) for k, v in summary.items()}),
        "systemMetrics": lambda _args: _dumps({}),
        "historyKeys": lambda _args: _history_keys(ctx, record),
        "history": lambda args: [_dumps(r) for r in _history_rows(ctx, record, args)],
        "sampledHistory": lambda args: _sampled_history(ctx, record, args),
        "events": lambda args: [_dumps(r) for r in _system_rows(ctx, record, args)],
        "parquetHistory": {"parquetUrls": []},
        "files": lambda args: _files(ctx, record, args),
        "fileCount": file_count,
        "user": {"id": record.author, "name": record.author, "username": record.author},
        "project": {
            "id": f"{record.entity}/{record.project}",
            "name": record.project,
            "entityName": record.entity,
            "entity": entity_node(record.entity),
        },
        "runInfo": None,
        "servicesAvailable": None,
        "exitcode": record.exit_code,
        "stopped": record.stop_requested,
        "projectId": lambda _args: str(project_id(ctx, record.entity, record.project) or 0),
    }
