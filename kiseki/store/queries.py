"""Reading projects and runs from a store, and the few edits the read API makes to runs.

:class:`StoreQueries` wraps a SQLAlchemy engine on the store (SQLite or PostgreSQL) and
returns plain records (:class:`ProjectRecord`, :class:`RunRecord`) with times as epoch
seconds; ``kiseki.api`` turns them into user-facing objects, and the CLI (``kiseki runs ls``)
and the server can use them directly::

    queries = StoreQueries(create_store_engine(location), heartbeat_timeout=60.0)
    for run in queries.runs("alice", "mnist", {"state": "finished"}, "-summary_metrics.acc"):
        print(run.run_id, run.state, run.runtime, run.summary.get("acc"))

A run's ``state`` is the one it reads as: a ``running`` run whose heartbeat is older than
``heartbeat_timeout`` seconds is ``crashed`` (see :func:`kiseki.store.filters.run_state`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from kiseki import jsoncodec
from kiseki.errors import StoreError, UsageError
from kiseki.store.filters import RunQueryCompiler
from kiseki.store.history import HistoryReader
from kiseki.store.schema import history_chunks, history_values, projects, runs

EDITABLE_RUN_FIELDS = (
    "name",
    "notes",
    "tags",
    "config",
    "summary",
    "group",
    "job_type",
    "privacy",
)
"""The run fields :meth:`StoreQueries.update_run` may change."""
PROJECT_RUN_COUNT = sa.func.count(runs.c.pk)
"""How many (visible) runs a project has, in :meth:`StoreQueries.projects`' grouped query."""
READ_ONLY_OPTION = "kiseki_read_only"
"""Execution option marking a connection that only reads (SQLite may then use a deferred
``BEGIN`` instead of ``BEGIN IMMEDIATE``, so readers never queue behind writers)."""


@dataclass(frozen=True)
class ProjectRecord:
    """A project and how many runs it has; times are epoch seconds."""

    entity: str
    name: str
    run_count: int
    created_at: float
    last_activity: float
    visibility: str = "private"


@dataclass
class RunRecord:
    """One row of ``runs`` with its project; ``state`` is the state it reads as."""

    pk: int
    entity: str
    project: str
    run_id: str
    name: str
    notes: str | None
    tags: list[str]
    group: str | None
    job_type: str | None
    state: str
    stored_state: str
    exit_code: int | None
    author: str | None
    config: dict[str, Any]
    summary: dict[str, Any]
    metadata: dict[str, Any]
    metric_definitions: dict[str, Any]
    created_at: float
    updated_at: float
    heartbeat_at: float
    finished_at: float | None
    runtime: float
    last_step: int
    history_rows: int
    privacy: str = "private"
    stop_requested: bool = False


class StoreQueries:
    """Project and run queries on one store.

    ``heartbeat_timeout`` (seconds) decides when a ``running`` run reads as ``crashed``;
    ``clock`` gives the current time (epoch seconds) and exists for tests.
    """

    def __init__(
        self,
        engine: sa.Engine,
        heartbeat_timeout: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.heartbeat_timeout = heartbeat_timeout
        self._clock = clock

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @contextmanager
    def reading(self) -> Iterator[sa.Connection]:
        """A short-lived connection for reads; database errors become :class:`StoreError`."""
        try:
            with self.engine.connect().execution_options(**{READ_ONLY_OPTION: True}) as conn:
                yield conn
        except sa.exc.DBAPIError as exc:
            raise self._store_error("read", exc) from exc

    @contextmanager
    def writing(self) -> Iterator[sa.Connection]:
        """A transaction for writes; database errors become :class:`StoreError`."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except sa.exc.DBAPIError as exc:
            raise self._store_error("write", exc) from exc

    def _store_error(self, action: str, exc: sa.exc.DBAPIError) -> StoreError:
        where = self.engine.url.render_as_string(hide_password=True)
        return StoreError(
            f"Could not {action} the kiseki store {where}: {exc.orig}. Check that it is a "
            "kiseki store (kiseki.Api opens and migrates it) and that it is reachable."
        )

    def compiler(self) -> RunQueryCompiler:
        """A filter/order compiler whose ``crashed`` cutoff is now - heartbeat timeout."""
        return RunQueryCompiler(self.dialect, self._clock() - self.heartbeat_timeout)

    # -- projects ---------------------------------------------------------------------------
    def projects(
        self,
        entity: str | None = None,
        name: str | None = None,
        *,
        visible: sa.ColumnElement[bool] | None = None,
        listed: sa.ColumnElement[bool] | None = None,
    ) -> list[ProjectRecord]:
        """Projects (of ``entity``, named ``name`` when given), ordered by entity and name.

        ``visible`` is an extra condition on the runs counted in each project and ``listed`` a
        condition on each project's group (it may use :data:`PROJECT_RUN_COUNT`); the server's
        privacy rule passes both (see :func:`kiseki.store.privacy.visible_projects`).
        """
        run_join = runs.c.project_id == projects.c.id
        if visible is not None:
            run_join = sa.and_(run_join, visible)
        query = (
            sa.select(
                projects.c.entity,
                projects.c.name,
                projects.c.created_at,
                projects.c.updated_at,
                projects.c.visibility,
                PROJECT_RUN_COUNT,
                sa.func.max(runs.c.heartbeat_at),
                sa.func.max(runs.c.updated_at),
            )
            .select_from(projects.outerjoin(runs, run_join))
            .group_by(
                projects.c.id,
                projects.c.entity,
                projects.c.name,
                projects.c.created_at,
                projects.c.updated_at,
                projects.c.visibility,
            )
            .order_by(projects.c.entity, projects.c.name)
        )
        if entity is not None:
            query = query.where(projects.c.entity == entity)
        if name is not None:
            query = query.where(projects.c.name == name)
        if listed is not None:
            query = query.having(listed)
        with self.reading() as conn:
            rows = conn.execute(query).all()
        return [
            ProjectRecord(
                entity=row[0],
                name=row[1],
                run_count=row[5],
                created_at=row[2],
                last_activity=max(row[3], row[6] or 0.0, row[7] or 0.0),
                visibility=row[4],
            )
            for row in rows
        ]

    def project(self, entity: str, name: str) -> ProjectRecord | None:
        """One project, or ``None`` when it does not exist."""
        found = self.projects(entity, name)
        return found[0] if found else None

    def entities_with_project(self, name: str) -> list[str]:
        """The entities that have a project called ``name``, sorted."""
        with self.reading() as conn:
            return list(
                conn.scalars(
                    sa.select(projects.c.entity)
                    .where(projects.c.name == name)
                    .order_by(projects.c.entity)
                )
            )

    # -- runs -------------------------------------------------------------------------------
    def _select_runs(self, compiler: RunQueryCompiler) -> sa.Select[Any]:
        return sa.select(
            runs,
            projects.c.entity.label("project_entity"),
            projects.c.name.label("project_name"),
            compiler.state.label("read_state"),
        ).select_from(runs.join(projects, projects.c.id == runs.c.project_id))

    def runs(
        self,
        entity: str,
        project: str,
        filters: Mapping[str, Any] | None = None,
        order: str | Sequence[str] | None = "+created_at",
        limit: int | None = None,
        offset: int = 0,
        visible: sa.ColumnElement[bool] | None = None,
    ) -> list[RunRecord]:
        """Runs of ``entity/project`` matching a MongoDB-style filter, in ``order``.

        See :mod:`kiseki.store.filters` for the fields and operators. ``visible`` is an extra
        condition (the server's privacy rule, see :mod:`kiseki.store.privacy`).
        """
        compiler = self.compiler()
        query = (
            self._select_runs(compiler)
            .where(
                projects.c.entity == entity,
                projects.c.name == project,
                compiler.where(filters),
                sa.true() if visible is None else visible,
            )
            .order_by(*compiler.order_by(order))
        )
        if limit is not None:
            query = query.limit(_count(limit, "limit"))
        if offset:
            query = query.offset(_count(offset, "offset"))
        with self.reading() as conn:
            return [_run_record(row) for row in conn.execute(query)]

    def count_runs(
        self,
        entity: str,
        project: str,
        filters: Mapping[str, Any] | None = None,
        visible: sa.ColumnElement[bool] | None = None,
    ) -> int:
        """How many runs of ``entity/project`` match ``filters`` (and ``visible``)."""
        compiler = self.compiler()
        query = (
            sa.select(sa.func.count())
            .select_from(runs.join(projects, projects.c.id == runs.c.project_id))
            .where(
                projects.c.entity == entity,
                projects.c.name == project,
                compiler.where(filters),
                sa.true() if visible is None else visible,
            )
        )
        with self.reading() as conn:
            return int(conn.scalar(query) or 0)

    def run(self, entity: str, project: str, run_id: str) -> RunRecord | None:
        """One run, or ``None`` when it does not exist."""
        query = self._select_runs(self.compiler()).where(
            projects.c.entity == entity,
            projects.c.name == project,
            runs.c.run_id == run_id,
        )
        with self.reading() as conn:
            row = conn.execute(query).first()
        return None if row is None else _run_record(row)

    def run_by_pk(self, pk: int) -> RunRecord | None:
        """One run by its primary key, or ``None`` when it no longer exists."""
        query = self._select_runs(self.compiler()).where(runs.c.pk == pk)
        with self.reading() as conn:
            row = conn.execute(query).first()
        return None if row is None else _run_record(row)

    def run_ids(
        self, entity: str, project: str, name: str | None = None, limit: int = 5
    ) -> list[str]:
        """Ids of the newest runs of a project (only those named ``name`` when given):
        hints for "run not found" messages."""
        query = (
            sa.select(runs.c.run_id)
            .select_from(runs.join(projects, projects.c.id == runs.c.project_id))
            .where(projects.c.entity == entity, projects.c.name == project)
            .order_by(runs.c.created_at.desc(), runs.c.pk.desc())
            .limit(limit)
        )
        if name is not None:
            query = query.where(runs.c.name == name)
        with self.reading() as conn:
            return list(conn.scalars(query))

    def history(self, pk: int) -> HistoryReader:
        """A reader of the history of run ``pk``."""
        return HistoryReader(self.reading, pk)

    # -- edits ------------------------------------------------------------------------------
    def update_run(self, pk: int, changes: Mapping[str, Any]) -> bool:
        """Change the :data:`EDITABLE_RUN_FIELDS` of run ``pk`` in one transaction.

        Returns ``False`` when the run no longer exists. Values are checked first:
        ``name`` a non-empty string; ``notes``, ``group``, ``job_type`` a string or ``None``;
        ``tags`` a list of strings; ``config`` and ``summary`` dicts.
        """
        values = {
            ("group_name" if name == "group" else name): _checked(name, value)
            for name, value in changes.items()
        }
        if not values:
            return self.run_by_pk(pk) is not None
        now = self._clock()
        values["updated_at"] = now
        with self.writing() as conn:
            result = conn.execute(runs.update().where(runs.c.pk == pk).values(**values))
            if result.rowcount == 0:
                return False
            conn.execute(
                projects.update()
                .where(
                    projects.c.id
                    == sa.select(runs.c.project_id).where(runs.c.pk == pk).scalar_subquery()
                )
                .values(updated_at=now)
            )
        return True

    def delete_run(self, pk: int) -> bool:
        """Delete run ``pk`` and its history in one transaction; ``False`` if it was gone."""
        with self.writing() as conn:
            conn.execute(history_values.delete().where(history_values.c.run_pk == pk))
            conn.execute(history_chunks.delete().where(history_chunks.c.run_pk == pk))
            result = conn.execute(runs.delete().where(runs.c.pk == pk))
        return bool(result.rowcount)


def _run_record(row: Any) -> RunRecord:
    m = row._mapping
    return RunRecord(
        pk=m["pk"],
        entity=m["project_entity"],
        project=m["project_name"],
        run_id=m["run_id"],
        name=m["name"],
        notes=m["notes"],
        tags=list(m["tags"] or []),
        group=m["group_name"],
        job_type=m["job_type"],
        state=m["read_state"],
        stored_state=m["state"],
        exit_code=m["exit_code"],
        author=m["author"],
        config=dict(m["config"] or {}),
        summary=dict(m["summary"] or {}),
        metadata=dict(m["metadata"] or {}),
        metric_definitions=dict(m["metric_definitions"] or {}),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        heartbeat_at=m["heartbeat_at"],
        finished_at=m["finished_at"],
        runtime=m["runtime"],
        last_step=m["last_step"],
        history_rows=m["history_rows"],
        privacy=m["privacy"],
        stop_requested=bool(m["stop_requested"]),
    )


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UsageError(f"{name} must be a non-negative integer, not {value!r}.")
    return value


def _checked(name: str, value: Any) -> Any:
    if name not in EDITABLE_RUN_FIELDS:
        raise UsageError(
            f"Run field {name!r} cannot be changed: editable fields are "
            f"{', '.join(EDITABLE_RUN_FIELDS)}."
        )
    if name == "name":
        if not isinstance(value, str) or not value.strip():
            raise UsageError(f"A run's name must be a non-empty string, not {value!r}.")
        return value
    if name in ("notes", "group", "job_type"):
        if value is not None and not isinstance(value, str):
            raise UsageError(f"A run's {name} must be a string or None, not {value!r}.")
        return value
    if name == "privacy":
        if value not in ("private", "public"):
            raise UsageError(f"A run's privacy must be 'private' or 'public', not {value!r}.")
        return value
    if name == "tags":
        if isinstance(value, str) or not isinstance(value, (list, tuple, set, frozenset)):
            raise UsageError(f"A run's tags must be a list of strings, not {value!r}.")
        tags = list(dict.fromkeys(value))
        if not all(isinstance(tag, str) for tag in tags):
            raise UsageError(f"A run's tags must be a list of strings, not {value!r}.")
        return tags
    if not isinstance(value, Mapping):
        raise UsageError(f"A run's {name} must be a dict, not {value!r}.")
    try:
        jsoncodec.dumps(value)
    except TypeError as exc:
        raise UsageError(
            f"A run's {name} must hold JSON values (numbers, strings, booleans, None, lists, "
            f"dicts): {exc}."
        ) from None
    return dict(value)
