"""The operations the REST API and the web app share, with the viewer's rights applied.

Both ``kiseki ui`` (embedded store, loopback, no login: the viewer is the local user and may
do everything) and ``kiseki server`` (logins, privacy) go through :class:`TrackerService`, so
a rule about who may see or change a run lives in one place. Route handlers never query the
store directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kiseki.errors import AuthError, NotFoundError
from kiseki.store.history import HistoryReader
from kiseki.store.privacy import (
    checked_privacy,
    owns_entity,
    run_visible,
    set_project_visibility,
    set_run_privacy,
    visible_projects,
)
from kiseki.store.queries import ProjectRecord, RunRecord, StoreQueries
from kiseki.store.runcontrol import request_stop

if TYPE_CHECKING:
    from kiseki.store.series import Series


@dataclass(frozen=True)
class Viewer:
    """Who is asking: a signed-in user, the local user of ``kiseki ui``, or anonymous.

    ``entities`` are the entities whose runs the viewer owns (their own and their teams').
    """

    username: str | None
    is_admin: bool = False
    entities: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_anonymous(self) -> bool:
        """Whether nobody is signed in."""
        return self.username is None

    @classmethod
    def local(cls, username: str) -> Viewer:
        """The user of ``kiseki ui``: sees and changes everything in the embedded store."""
        return cls(username=username, is_admin=True, entities=frozenset({username}))


ANONYMOUS = Viewer(username=None)


class TrackerService:
    """Projects and runs as a given viewer may see and change them."""

    def __init__(self, queries: StoreQueries) -> None:
        self.queries = queries

    # -- rights (see kiseki.store.privacy) ----------------------------------------------------
    def can_read(self, viewer: Viewer, run: RunRecord) -> bool:
        """Whether ``viewer`` may see ``run``: public runs anyone; private runs their author,
        the members of their entity, and admins."""
        return run.privacy == "public" or self.can_write(viewer, run)

    def can_write(self, viewer: Viewer, run: RunRecord) -> bool:
        """Whether ``viewer`` may change, stop or delete ``run``: its author, the members of
        its entity (a user's own, or a team's), and admins."""
        return (
            viewer.is_admin
            or run.entity in viewer.entities
            or (viewer.username is not None and run.author == viewer.username)
        )

    def can_write_entity(self, viewer: Viewer, entity: str) -> bool:
        """Whether ``viewer`` may create runs and projects under ``entity``."""
        return owns_entity(viewer, entity)

    # -- projects ----------------------------------------------------------------------------------
    def projects(self, viewer: Viewer, entity: str | None = None) -> list[ProjectRecord]:
        """The projects ``viewer`` may see (with run counts of the runs they may see): those of
        entities they own, public ones, and those holding a run they may see."""
        return visible_projects(self.queries, viewer, entity)

    def project(self, viewer: Viewer, entity: str, name: str) -> ProjectRecord:
        """One project, or :class:`NotFoundError` (also when it is hidden from ``viewer``)."""
        found = visible_projects(self.queries, viewer, entity, name)
        if not found:
            raise NotFoundError(f"No project {entity}/{name}.")
        return found[0]

    def update_project(
        self, viewer: Viewer, entity: str, name: str, visibility: str, *, create: bool = False
    ) -> ProjectRecord:
        """Set the privacy new runs of a project get (``create`` makes a missing project);
        only the owners of ``entity`` may."""
        if not owns_entity(viewer, entity):
            if self.queries.project(entity, name) is None and not create:
                raise NotFoundError(f"No project {entity}/{name}.")
            raise AuthError(
                f"You may not change project {entity}/{name}: only members of {entity!r} can."
            )
        set_project_visibility(self.queries, entity, name, visibility, create=create)
        return self.project(viewer, entity, name)

    # -- runs ------------------------------------------------------------------------------------
    def runs(
        self,
        viewer: Viewer,
        entity: str,
        project: str,
        filters: Mapping[str, Any] | None = None,
        order: str = "+created_at",
        limit: int | None = None,
        offset: int = 0,
    ) -> list[RunRecord]:
        """The runs of a project ``viewer`` may see, filtered and ordered as the read API does
        (``limit`` and ``offset`` count only runs ``viewer`` may see)."""
        self.project(viewer, entity, project)
        return self.queries.runs(
            entity, project, filters, order, limit=limit, offset=offset, visible=run_visible(viewer)
        )

    def count_runs(
        self,
        viewer: Viewer,
        entity: str,
        project: str,
        filters: Mapping[str, Any] | None = None,
    ) -> int:
        """How many runs of a project that ``viewer`` may see match ``filters``."""
        self.project(viewer, entity, project)
        return self.queries.count_runs(entity, project, filters, visible=run_visible(viewer))

    def run(self, viewer: Viewer, entity: str, project: str, run_id: str) -> RunRecord:
        """One run ``viewer`` may see, or :class:`NotFoundError` (also when it is hidden)."""
        record = self.queries.run(entity, project, run_id)
        if record is None or not self.can_read(viewer, record):
            raise NotFoundError(f"No run {entity}/{project}/{run_id}.")
        return record

    def history(self, viewer: Viewer, run: RunRecord) -> HistoryReader:
        """The history reader of a run ``viewer`` may see."""
        if not self.can_read(viewer, run):
            raise NotFoundError(f"No run {run.entity}/{run.project}/{run.run_id}.")
        return self.queries.history(run.pk)

    # -- chart series (the web app's workspace and run charts) -------------------------------
    def metric_keys(self, viewer: Viewer, runs: Sequence[RunRecord]) -> dict[str, list[str]]:
        """Each readable run's numeric history keys (run id -> sorted keys); see
        :class:`kiseki.store.series.SeriesReader`."""
        from kiseki.store.series import SeriesReader

        readable = [r for r in runs if self.can_read(viewer, r)]
        found = SeriesReader(self.queries.reading).numeric_keys([r.pk for r in readable])
        return {r.run_id: found.get(r.pk, []) for r in readable}

    def series(
        self,
        viewer: Viewer,
        runs: Sequence[RunRecord],
        keys: Sequence[str],
        x_axis: str = "_step",
        points: int = 1000,
        min_step: int | None = None,
        max_step: int | None = None,
        after_steps: Mapping[str, Mapping[str, int]] | None = None,
    ) -> dict[tuple[str, str], Series]:
        """Downsampled chart series of ``keys`` for the readable ``runs``, keyed by
        ``(run_id, key)``; ``after_steps[run_id][key]`` asks only for newer points."""
        from kiseki.store.series import SeriesReader

        readable = [r for r in runs if self.can_read(viewer, r)]
        by_pk = {r.pk: r.run_id for r in readable}
        after = {
            r.pk: dict(after_steps[r.run_id])
            for r in readable
            if after_steps and r.run_id in after_steps
        }
        found = SeriesReader(self.queries.reading).read(
            list(by_pk), keys, x_axis, points, min_step, max_step, after
        )
        return {(by_pk[pk], key): series for (pk, key), series in found.items()}

    def update_run(self, viewer: Viewer, run: RunRecord, changes: Mapping[str, Any]) -> RunRecord:
        """Change editable fields of ``run`` (those of
        :data:`~kiseki.store.queries.EDITABLE_RUN_FIELDS`, and ``privacy``); returns the run
        as stored afterwards."""
        self._require_write(viewer, run)
        changes = dict(changes)
        privacy = changes.pop("privacy", None)
        if privacy is not None:
            checked_privacy(privacy)
        self.queries.update_run(run.pk, changes)
        if privacy is not None:
            set_run_privacy(self.queries, run.pk, privacy)
        updated = self.queries.run_by_pk(run.pk)
        if updated is None:
            raise NotFoundError(f"Run {run.entity}/{run.project}/{run.run_id} was deleted.")
        return updated

    def delete_run(self, viewer: Viewer, run: RunRecord) -> None:
        """Delete ``run`` and its history."""
        self._require_write(viewer, run)
        self.queries.delete_run(run.pk)

    def stop_run(self, viewer: Viewer, run: RunRecord) -> RunRecord:
        """Ask a running run to stop; returns the run as stored afterwards.

        A live run gets ``stop_requested``: its process learns of it from the answer to its
        next heartbeat or batch, finishes, and is stored as ``killed``. A run whose heartbeats
        have already stopped is marked ``killed`` at once. :class:`UsageError` when it has
        ended.
        """
        self._require_write(viewer, run)
        request_stop(self.queries, run.pk, f"{run.entity}/{run.project}/{run.run_id}")
        updated = self.queries.run_by_pk(run.pk)
        if updated is None:
            raise NotFoundError(f"Run {run.entity}/{run.project}/{run.run_id} was deleted.")
        return updated

    # -- saved workspaces (the web app) -----------------------------------------------------
    def workspace_state(
        self, viewer: Viewer, entity: str, project: str
    ) -> tuple[dict[str, Any] | None, float | None]:
        """``viewer``'s own saved workspace of a project they may see, and when it was saved
        (``None, None`` when none); each user reads only their own. Anonymous viewers have
        none to read (:class:`AuthError`)."""
        from kiseki.store.workspace_states import load_state

        self.project(viewer, entity, project)
        return load_state(self.queries, self._workspace_owner(viewer), entity, project)

    def save_workspace_state(
        self, viewer: Viewer, entity: str, project: str, state: Mapping[str, Any]
    ) -> float:
        """Save ``viewer``'s own workspace of a project they may see; returns when."""
        from kiseki.store.workspace_states import save_state

        self.project(viewer, entity, project)
        return save_state(self.queries, self._workspace_owner(viewer), entity, project, state)

    def reset_workspace_state(self, viewer: Viewer, entity: str, project: str) -> bool:
        """Forget ``viewer``'s own saved workspace of a project; whether there was one."""
        from kiseki.store.workspace_states import delete_state

        self.project(viewer, entity, project)
        return delete_state(self.queries, self._workspace_owner(viewer), entity, project)

    def _workspace_owner(self, viewer: Viewer) -> str:
        if viewer.username is None:
            raise AuthError(
                "Sign in to save your workspace on the server (anonymous views are kept in "
                "this browser only)."
            )
        return viewer.username

    def _require_write(self, viewer: Viewer, run: RunRecord) -> None:
        if not self.can_write(viewer, run):
            raise AuthError(
                f"You may not change run {run.entity}/{run.project}/{run.run_id}: only its "
                "owner (or a member of its team) can."
            )
