"""A project as the read API returns it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kiseki.api.run import Runs, to_datetime
from kiseki.store.queries import ProjectRecord

if TYPE_CHECKING:
    from kiseki.api.api import Api


class Project:
    """A project: ``name``, ``entity``, ``run_count``, ``created_at`` and ``last_activity``
    (timezone-aware UTC ``datetime`` objects; the last activity is the newest write or
    heartbeat of any of its runs).

    >>> kiseki.Api().project("mnist").runs({"state": "finished"})  # doctest: +SKIP
    """

    name: str
    entity: str
    run_count: int
    created_at: datetime
    last_activity: datetime

    def __init__(self, api: Api, record: ProjectRecord) -> None:
        self._api = api
        self.name = record.name
        self.entity = record.entity
        self.run_count = record.run_count
        self.created_at = to_datetime(record.created_at)  # type: ignore[assignment]
        self.last_activity = to_datetime(record.last_activity)  # type: ignore[assignment]

    @property
    def path(self) -> list[str]:
        """``[entity, name]``."""
        return [self.entity, self.name]

    def runs(
        self,
        filters: Mapping[str, Any] | None = None,
        order: str | Sequence[str] = "+created_at",
        limit: int | None = None,
    ) -> Runs:
        """The project's runs matching ``filters``, in ``order`` (see :meth:`Api.runs`)."""
        return self._api._runs(self.entity, self.name, filters, order, limit)

    def __repr__(self) -> str:
        return f"<Project {self.entity}/{self.name} ({self.run_count} runs)>"
