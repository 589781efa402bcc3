"""``Api``: the entry point of the read API, shaped like ``wandb.Api``."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from kiseki.api.project import Project
from kiseki.api.run import Run, Runs
from kiseki.errors import NotFoundError, UsageError
from kiseki.settings import resolve_settings
from kiseki.store.database import StoreLocation, create_store_engine, ensure_schema
from kiseki.store.queries import ProjectRecord, StoreQueries

_HINT_LIMIT = 10


class Api:
    """Reads projects and runs from a kiseki store.

    ``dir`` is a kiseki directory (the store is ``<dir>/kiseki.db``; default: the
    ``KISEKI_DIR`` setting, ``~/.kiseki``); ``store`` is a SQLite file or a
    ``postgresql://`` URL instead. ``entity`` is used for paths that name none (default: the
    ``KISEKI_ENTITY`` setting, else the local user name); ``heartbeat_timeout`` is how many
    seconds without a heartbeat make a running run read as ``crashed``.

    >>> api = kiseki.Api()  # doctest: +SKIP
    >>> finished = api.runs("mnist", {"state": "finished"}, order="-summary_metrics.acc")
    """

    def __init__(
        self,
        dir: str | os.PathLike[str] | None = None,
        *,
        store: str | os.PathLike[str] | None = None,
        heartbeat_timeout: float | None = None,
        entity: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
    ) -> None:
        if dir is not None and store is not None:
            raise UsageError("Pass Api either dir= (a kiseki directory) or store=, not both.")
        settings = resolve_settings(
            {
                "kiseki_dir": dir,
                "entity": entity,
                "heartbeat_timeout": heartbeat_timeout,
                "base_url": base_url,
                "api_key": api_key,
            }
        )
        # a server is used when asked for, or configured and no local store was named
        self.base_url = settings.base_url if (base_url or (dir is None and store is None)) else None
        self._api_key = settings.api_key
        self.location = (
            StoreLocation.parse(os.fspath(store))
            if store is not None
            else StoreLocation.in_dir(settings.kiseki_dir)
        )
        self.default_entity = settings.default_entity
        self._entity_named = settings.entity is not None
        self.default_project = settings.project
        self.heartbeat_timeout = settings.heartbeat_timeout
        self._queries: StoreQueries | None = None

    # -- the store --------------------------------------------------------------------------
    def _store(self) -> StoreQueries | None:
        """The store's queries, or ``None`` when no SQLite store exists there yet."""
        if self._queries is None and self.base_url is not None:
            from kiseki.api.remote import RemoteQueries
            from kiseki.httpclient import HttpClient

            remote = RemoteQueries(HttpClient(self.base_url, self._api_key))
            if not self._entity_named:  # paths without an entity mean the key's user
                viewer = remote.client.request("GET", "/api/v1/viewer").data or {}
                self.default_entity = str(viewer.get("entity") or viewer.get("username"))
            self._queries = remote  # type: ignore[assignment]
        if self._queries is None:
            path = self.location.sqlite_path
            if path is not None and not path.exists():
                return None
            ensure_schema(self.location)
            self._queries = StoreQueries(create_store_engine(self.location), self.heartbeat_timeout)
        return self._queries

    def _require_store(self, wanted: str = "") -> StoreQueries:
        queries = self._store()
        if queries is None:
            raise NotFoundError(
                f"{wanted or 'Nothing found'}: there is no kiseki store at "
                f"{self.location.sqlite_path}, so nothing was logged there. Pass Api(dir=...) "
                "the KISEKI_DIR your runs were logged to."
            )
        return queries

    @property
    def _where(self) -> str:
        if self.base_url is not None:
            return self.base_url
        path = self.location.sqlite_path
        return str(path) if path is not None else self.location.url.split("@")[-1]

    def close(self) -> None:
        """Close the store's connections (the ``Api`` reconnects if used again)."""
        if self._queries is not None:
            close = getattr(self._queries, "close", None)
            if close is not None:
                close()
            else:
                self._queries.engine.dispose()
            self._queries = None

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- projects ---------------------------------------------------------------------------
    def projects(self, entity: str | None = None) -> list[Project]:
        """Every project in the store (only ``entity``'s when given), by entity and name."""
        queries = self._store()
        if queries is None:
            return []
        return [Project(self, record) for record in queries.projects(entity)]

    def project(self, name: str, entity: str | None = None) -> Project:
        """The project ``name`` (of ``entity``; see :meth:`runs` for how a missing entity is
        resolved). Raises :class:`~kiseki.errors.NotFoundError` when there is none."""
        return Project(self, self._resolve_project(entity, name))

    def _resolve_project(self, entity: str | None, name: str) -> ProjectRecord:
        if not isinstance(name, str) or not name:
            raise UsageError(f"A project name must be a non-empty string, not {name!r}.")
        wanted = f"No project {name!r}" if entity is None else f"No project {entity}/{name}"
        queries = self._require_store(wanted)
        if entity is not None:
            found = queries.project(entity, name)
            if found is not None:
                return found
            raise NotFoundError(
                f"No project {entity}/{name} in {self._where}.{self._project_hint(name)}"
            )
        found = queries.project(self.default_entity, name)
        if found is not None:
            return found
        entities = queries.entities_with_project(name)
        if len(entities) == 1:
            found = queries.project(entities[0], name)
            if found is not None:
                return found
        if len(entities) > 1:
            choices = ", ".join(f"{e}/{name}" for e in entities)
            raise NotFoundError(
                f"Project {name!r} is not under your default entity {self.default_entity!r} "
                f"and several entities have one: {choices}. Name the entity, e.g. "
                f"'{entities[0]}/{name}'."
            )
        raise NotFoundError(f"No project {name!r} in {self._where}.{self._project_hint(name)}")

    def _project_hint(self, name: str) -> str:
        queries = self._require_store()
        entities = queries.entities_with_project(name)
        if entities:
            return " It exists as: " + ", ".join(f"{e}/{name}" for e in entities) + "."
        known = [f"{p.entity}/{p.name}" for p in queries.projects()]
        if not known:
            return " The store has no projects yet."
        more = f" (and {len(known) - _HINT_LIMIT} more)" if len(known) > _HINT_LIMIT else ""
        return f" Projects there: {', '.join(known[:_HINT_LIMIT])}{more}."

    # -- runs -------------------------------------------------------------------------------
    def runs(
        self,
        path: str | None = None,
        filters: Mapping[str, Any] | None = None,
        order: str | Sequence[str] = "+created_at",
        *,
        limit: int | None = None,
    ) -> Runs:
        """The runs of a project that match ``filters``, in ``order``.

        ``path`` is ``"project"`` or ``"entity/project"`` (default: the ``KISEKI_PROJECT``
        setting). Without an entity, the default entity's project is used; if it has none of
        that name but exactly one entity does, that one. ``filters`` is a MongoDB-style
        document (``$and $or $eq $ne $gt $gte $lt $lte $in $nin $regex $exists``) over
        ``config.<key>``, ``summary_metrics.<key>``, ``state``, ``display_name``, ``tags``,
        ``created_at``, ``group``, ``job_type``, ``id`` and more (see docs/read-api.md).
        ``order`` is a field with ``+`` (ascending) or ``-`` (descending) in front; runs
        missing the value come last.

        >>> api.runs("mnist", {"config.lr": {"$lt": 0.01}}, order="-summary_metrics.acc")
        """
        entity, project = self._split_project_path(path)
        record = self._resolve_project(entity, project)
        return self._runs(record.entity, record.name, filters, order, limit)

    def _runs(
        self,
        entity: str,
        project: str,
        filters: Mapping[str, Any] | None,
        order: str | Sequence[str],
        limit: int | None,
    ) -> Runs:
        queries = self._require_store()
        records = queries.runs(entity, project, filters, order, limit=limit)
        return Runs(entity, project, [Run(queries, r) for r in records], filters, order)

    def run(self, path: str) -> Run:
        """One run: ``"project/run_id"``, ``"entity/project/run_id"`` or
        ``"entity/project/runs/run_id"``. Raises :class:`~kiseki.errors.NotFoundError` when
        there is no such run."""
        parts = path.strip("/").split("/") if isinstance(path, str) else []
        if len(parts) == 4 and parts[2] == "runs":
            parts = [parts[0], parts[1], parts[3]]
        if len(parts) not in (2, 3) or not all(parts):
            raise UsageError(
                f"A run path is 'project/run_id' or 'entity/project/run_id', not {path!r}."
            )
        entity = parts[0] if len(parts) == 3 else None
        project, run_id = parts[-2], parts[-1]
        record = self._resolve_project(entity, project)
        queries = self._require_store()
        found = queries.run(record.entity, record.name, run_id)
        if found is None:
            raise NotFoundError(self._run_hint(queries, record, run_id))
        return Run(queries, found)

    def _run_hint(self, queries: StoreQueries, project: ProjectRecord, run_id: str) -> str:
        where = f"{project.entity}/{project.name}"
        message = f"No run {run_id!r} in project {where} ({self._where})."
        named = queries.run_ids(project.entity, project.name, name=run_id)
        if named:
            return (
                f"{message} A run named {run_id!r} has id {named[0]!r}: use "
                f"api.run('{where}/{named[0]}') (paths take run ids, not names)."
            )
        newest = queries.run_ids(project.entity, project.name)
        if newest:
            return f"{message} Newest run ids there: {', '.join(newest)}."
        return f"{message} The project has no runs."

    # -- sweeps -----------------------------------------------------------------------------
    def sweep(self, path: str) -> Any:
        """One sweep: ``"project/sweep_id"`` or ``"entity/project/sweep_id"`` (see
        :class:`kiseki.api.sweep.Sweep`: ``.runs``, ``.best_run()``, ``.config``, ``.state``)."""
        from kiseki.api.sweep import load_sweep

        parts = path.strip("/").split("/") if isinstance(path, str) else []
        if len(parts) not in (2, 3) or not all(parts):
            raise UsageError(
                f"A sweep path is 'project/sweep_id' or 'entity/project/sweep_id', not {path!r}."
            )
        record = self._resolve_project(parts[0] if len(parts) == 3 else None, parts[-2])
        return load_sweep(self, record.entity, record.name, parts[-1])

    # -- artifacts --------------------------------------------------------------------------
    def artifact(self, name: str, type: str | None = None) -> Any:
        """One artifact version: ``"project/name:alias"``, ``"entity/project/name:v3"`` or
        ``"name:best"`` (in the ``KISEKI_PROJECT`` project); the alias defaults to ``latest``.
        ``type`` checks the artifact's type."""
        from kiseki.artifacts.names import parse_artifact_ref
        from kiseki.artifacts.reads import artifact_by_ref
        from kiseki.artifacts.sources import source_for

        ref = parse_artifact_ref(name)
        project = self._resolve_project(ref.entity, ref.project or self._project_or_fail())
        source = source_for(self._require_store())
        reference = f"{ref.name}:{ref.alias}"
        return artifact_by_ref(source, project.entity, project.name, reference, type)

    def artifacts(self, type_name: str | None, name: str) -> list[Any]:
        """Every version of artifact ``name`` (``"project/name"`` or
        ``"entity/project/name"``), oldest first; ``type_name`` keeps that type only."""
        from kiseki.artifacts.reads import artifact_versions
        from kiseki.artifacts.sources import source_for

        entity, project_name = self._split_project_path(name.rpartition("/")[0] or None)
        project = self._resolve_project(entity, project_name)
        source = source_for(self._require_store())
        return artifact_versions(
            source, project.entity, project.name, name.rpartition("/")[2], type_name
        )

    def artifact_types(self, project: str | None = None) -> list[str]:
        """The artifact types used in ``project`` (``"project"`` or ``"entity/project"``)."""
        from kiseki.artifacts.sources import source_for

        entity, name = self._split_project_path(project)
        record = self._resolve_project(entity, name)
        return source_for(self._require_store()).types(record.entity, record.name)

    def _project_or_fail(self) -> str:
        return self._split_project_path(None)[1]

    def _split_project_path(self, path: str | None) -> tuple[str | None, str]:
        if path is None:
            if not self.default_project:
                raise UsageError(
                    "Name a project: api.runs('project') or api.runs('entity/project') "
                    "(or set KISEKI_PROJECT)."
                )
            return None, self.default_project
        parts = path.strip("/").split("/") if isinstance(path, str) else []
        if len(parts) not in (1, 2) or not all(parts):
            raise UsageError(
                f"A project path is 'project' or 'entity/project', not {path!r} "
                "(use api.run() for a single run)."
            )
        return (parts[0] if len(parts) == 2 else None), parts[-1]

    def __repr__(self) -> str:
        return f"<Api {self._where}>"
