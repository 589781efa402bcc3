"""Who may see which runs and projects, as SQL conditions, and changing privacy.

A run is **private** (the default) or **public**. A private run is visible to its author,
to the members of its entity (the user themself, or a team's members) and to admins; a public
run to anyone, signed in or not. A project's ``visibility`` is the privacy its new runs get
when ``init`` names none; a project is listed to a viewer who owns its entity, when it is
public, or when it holds a run the viewer may see.

The rules take an :class:`Audience` (``kiseki.server.service.Viewer`` is one) so the store
knows nothing of HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any, Protocol

import sqlalchemy as sa

from kiseki.errors import NotFoundError, UsageError
from kiseki.store.queries import PROJECT_RUN_COUNT, ProjectRecord, StoreQueries
from kiseki.store.schema import PRIVACIES, projects, runs


class Audience(Protocol):
    """Who is looking: a user name (``None`` for anonymous), the entities they own, admin."""

    @property
    def username(self) -> str | None:
        """The user's name, ``None`` when anonymous."""

    @property
    def is_admin(self) -> bool:
        """Admins see and change everything."""

    @property
    def entities(self) -> Collection[str]:
        """The entities whose runs the user owns (their own and their teams')."""


def checked_privacy(value: Any, what: str = "privacy") -> str:
    """``value`` if it is ``"private"`` or ``"public"``, else :class:`UsageError`."""
    if value not in PRIVACIES:
        raise UsageError(f"{what} must be 'private' or 'public', not {value!r}.")
    return str(value)


def run_visible(audience: Audience) -> sa.ColumnElement[bool] | None:
    """The condition on ``runs`` (joined with ``projects``) for runs ``audience`` may see;
    ``None`` when they may see every run (admins)."""
    if audience.is_admin:
        return None
    terms: list[sa.ColumnElement[bool]] = [runs.c.privacy == "public"]
    if audience.entities:
        terms.append(projects.c.entity.in_(sorted(audience.entities)))
    if audience.username is not None:
        terms.append(runs.c.author == audience.username)
    return sa.or_(*terms)


def owns_entity(audience: Audience, entity: str) -> bool:
    """Whether ``audience`` may create and change runs under ``entity``."""
    return audience.is_admin or entity in audience.entities


def visible_projects(
    queries: StoreQueries,
    audience: Audience,
    entity: str | None = None,
    name: str | None = None,
) -> list[ProjectRecord]:
    """Projects ``audience`` may see, with the count of the runs they may see in each."""
    listed = None
    if not audience.is_admin:
        owned = sorted(audience.entities)
        listed = sa.or_(
            projects.c.entity.in_(owned) if owned else sa.false(),
            projects.c.visibility == "public",
            PROJECT_RUN_COUNT > 0,
        )
    return queries.projects(entity, name, visible=run_visible(audience), listed=listed)


def set_run_privacy(queries: StoreQueries, pk: int, privacy: str) -> None:
    """Make run ``pk`` ``"private"`` or ``"public"``."""
    privacy = checked_privacy(privacy)
    with queries.writing() as conn:
        conn.execute(runs.update().where(runs.c.pk == pk).values(privacy=privacy))


def set_project_visibility(
    queries: StoreQueries, entity: str, name: str, visibility: str, *, create: bool = False
) -> None:
    """Set the privacy new runs of ``entity/name`` get; ``create`` makes the project if missing."""
    visibility = checked_privacy(visibility, "A project's visibility")
    params = {"entity": entity, "name": name, "visibility": visibility, "now": time.time()}
    with queries.writing() as conn:
        if create:
            conn.execute(
                sa.text(
                    "INSERT INTO projects (entity, name, created_at, updated_at, visibility) "
                    "VALUES (:entity, :name, :now, :now, :visibility) "
                    "ON CONFLICT (entity, name) DO UPDATE SET "
                    "visibility = excluded.visibility, updated_at = excluded.updated_at"
                ),
                params,
            )
            return
        result = conn.execute(
            projects.update()
            .where(projects.c.entity == entity, projects.c.name == name)
            .values(visibility=visibility, updated_at=params["now"])
        )
        if not result.rowcount:
            raise NotFoundError(f"No project {entity}/{name}.")
