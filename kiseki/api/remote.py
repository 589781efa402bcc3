"""The read API over a kiseki server: the same queries as the embedded store, over HTTP.

:class:`RemoteQueries` answers the questions ``kiseki.Api`` asks of
:class:`~kiseki.store.queries.StoreQueries` by calling the server's ``/api/v1`` endpoints, so
``Api(base_url=..., api_key=...)`` returns the same projects, runs, filters, order and history
as ``Api()`` on the embedded store. A run's ``pk`` is its path ``(entity, project, run_id)``.
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from kiseki.errors import NotFoundError
from kiseki.httpclient import HttpClient
from kiseki.store.queries import ProjectRecord, RunRecord

_RUN_FIELDS = [f.name for f in dataclasses.fields(RunRecord)]
RunPath = tuple[str, str, str]


def _quote(*parts: str) -> str:
    return "/".join(urllib.parse.quote(part, safe="") for part in parts)


def _run_record(data: Mapping[str, Any]) -> RunRecord:
    values = {name: data.get(name) for name in _RUN_FIELDS if name != "pk"}
    values["pk"] = (data["entity"], data["project"], data["run_id"])
    for name in ("config", "summary", "metadata", "metric_definitions"):
        values[name] = values[name] or {}
    values["tags"] = list(values["tags"] or [])
    values["stored_state"] = values["stored_state"] or values["state"]
    return RunRecord(**values)


def _project_record(data: Mapping[str, Any]) -> ProjectRecord:
    return ProjectRecord(
        entity=data["entity"],
        name=data["name"],
        run_count=int(data.get("run_count") or 0),
        created_at=float(data.get("created_at") or 0.0),
        last_activity=float(data.get("last_activity") or 0.0),
    )


class RemoteHistory:
    """A run's history read from the server (the interface of ``HistoryReader``)."""

    def __init__(self, client: HttpClient, path: RunPath) -> None:
        self._client = client
        self._base = "/api/v1/runs/" + _quote(*path) + "/history"

    def keys(self) -> list[str]:
        """Every key in the run's history, sorted."""
        return list(self._client.request("GET", self._base + "/keys").data["keys"])

    def scan(
        self,
        keys: Sequence[str] | None = None,
        min_step: int | None = None,
        max_step: int | None = None,
        page_size: int = 1000,
    ) -> Iterator[dict[str, Any]]:
        """Every row in step order, fetched a page at a time."""
        query: dict[str, Any] = {"limit": page_size}
        if keys:
            query["keys"] = list(keys)  # sent as keys=a&keys=b
        if max_step is not None:
            query["max_step"] = max_step
        next_step = min_step
        while True:
            if next_step is not None:
                query["min_step"] = next_step
            url = self._base + "?" + urllib.parse.urlencode(query, doseq=True)
            data = self._client.request("GET", url).data
            yield from data["rows"]
            next_step = data.get("next_min_step")
            if next_step is None:
                return

    def sample(
        self,
        samples: int = 500,
        keys: Sequence[str] | None = None,
        x_axis: str = "_step",
        stream: str = "default",
    ) -> tuple[list[str], list[dict[str, Any]]]:
        """Up to ``samples`` rows spread evenly over the run; ``(columns, rows)``."""
        query: dict[str, Any] = {"samples": samples, "x_axis": x_axis, "stream": stream}
        if keys:
            query["keys"] = list(keys)  # sent as keys=a&keys=b
        data = self._client.request(
            "GET", self._base + "/sample?" + urllib.parse.urlencode(query, doseq=True)
        ).data
        return list(data["columns"]), list(data["rows"])


class RemoteQueries:
    """What ``kiseki.Api`` needs, answered by a kiseki server."""

    def __init__(self, client: HttpClient) -> None:
        self.client = client

    def close(self) -> None:
        """Close the connection."""
        self.client.close()

    def projects(self, entity: str | None = None, name: str | None = None) -> list[ProjectRecord]:
        """Projects the caller may see (of ``entity``, named ``name`` when given)."""
        url = "/api/v1/projects"
        if entity:
            url += "?" + urllib.parse.urlencode({"entity": entity})
        found = [_project_record(p) for p in self.client.request("GET", url).data["projects"]]
        return [p for p in found if name is None or p.name == name]

    def project(self, entity: str, name: str) -> ProjectRecord | None:
        """One project, or ``None``."""
        try:
            data = self.client.request("GET", "/api/v1/projects/" + _quote(entity, name)).data
        except NotFoundError:
            return None
        return _project_record(data)

    def entities_with_project(self, name: str) -> list[str]:
        """The entities having a project called ``name``."""
        return sorted({p.entity for p in self.projects(name=name)})

    def runs(
        self,
        entity: str,
        project: str,
        filters: Mapping[str, Any] | None = None,
        order: str | None = "+created_at",
        limit: int | None = None,
        offset: int = 0,
    ) -> list[RunRecord]:
        """Runs of a project, filtered and ordered by the server exactly as the store does."""
        body: dict[str, Any] = {"filters": dict(filters or {}), "order": order or "+created_at"}
        if limit is not None:
            body["limit"] = limit
        if offset:
            body["offset"] = offset
        url = "/api/v1/projects/" + _quote(entity, project) + "/runs/query"
        return [_run_record(r) for r in self.client.request("POST", url, body).data["runs"]]

    def run(self, entity: str, project: str, run_id: str) -> RunRecord | None:
        """One run, or ``None``."""
        try:
            data = self.client.request("GET", "/api/v1/runs/" + _quote(entity, project, run_id))
        except NotFoundError:
            return None
        return _run_record(data.data)

    def run_by_pk(self, pk: RunPath) -> RunRecord | None:
        """The run at path ``pk``."""
        return self.run(*pk)

    def run_ids(self, entity: str, project: str, name: str | None = None) -> list[str]:
        """Ids of the project's runs (named ``name`` when given), newest first."""
        filters = {"display_name": name} if name is not None else None
        return [r.run_id for r in self.runs(entity, project, filters, "-created_at", limit=20)]

    def history(self, pk: RunPath) -> RemoteHistory:
        """The history of the run at path ``pk``."""
        return RemoteHistory(self.client, pk)

    def update_run(self, pk: RunPath, changes: Mapping[str, Any]) -> bool:
        """Change editable fields; ``False`` when the run is gone."""
        try:
            self.client.request("PATCH", "/api/v1/runs/" + _quote(*pk), dict(changes))
        except NotFoundError:
            return False
        return True

    def delete_run(self, pk: RunPath) -> bool:
        """Delete the run; ``False`` when it was already gone."""
        try:
            self.client.request("DELETE", "/api/v1/runs/" + _quote(*pk))
        except NotFoundError:
            return False
        return True
