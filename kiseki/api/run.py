"""A run as the read API returns it, and the list of runs a query returns."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, overload

from kiseki import jsoncodec
from kiseki.errors import NotFoundError, UsageError
from kiseki.media.blob_sources import blob_reader_for
from kiseki.media.references import media_from_row, media_to_references
from kiseki.store.queries import EDITABLE_RUN_FIELDS, RunRecord, StoreQueries

if TYPE_CHECKING:
    from kiseki.store.history import HistoryReader


def to_datetime(epoch: float | None) -> datetime | None:
    """A timezone-aware UTC ``datetime`` from epoch seconds (``None`` stays ``None``)."""
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=timezone.utc)


class Run:
    """One run in a store, as ``kiseki.Api().run(path)`` returns it.

    Plain attributes: ``id name project entity state config summary tags notes group job_type
    privacy created_at heartbeat_at finished_at metadata metric_definitions exit_code author runtime
    last_step history_rows``. Times are timezone-aware UTC ``datetime`` objects; ``runtime``
    is in seconds. ``state`` is ``running``, ``finished``, ``failed``, ``killed`` or ``crashed``
    (running but no heartbeat within the heartbeat timeout).

    Change ``name notes tags config summary group job_type privacy`` in place and call
    :meth:`update` to save them::

        run = kiseki.Api().run("mnist/3kd9x2")
        run.tags.append("baseline")
        run.summary["best_acc"] = 0.98
        run.update()
    """

    id: str
    name: str
    project: str
    entity: str
    state: str
    config: dict[str, Any]
    summary: dict[str, Any]
    tags: list[str]
    notes: str | None
    group: str | None
    job_type: str | None
    privacy: str
    created_at: datetime
    heartbeat_at: datetime
    finished_at: datetime | None
    metadata: dict[str, Any]
    metric_definitions: dict[str, Any]
    exit_code: int | None
    author: str | None
    runtime: float
    last_step: int
    history_rows: int

    def __init__(self, queries: StoreQueries, record: RunRecord) -> None:
        self._queries = queries
        self._deleted = False
        self._load(record)

    def _load(self, record: RunRecord) -> None:
        self._pk = record.pk
        self.id = record.run_id
        self.name = record.name
        self.project = record.project
        self.entity = record.entity
        self.state = record.state
        self.config = record.config
        self.summary = record.summary
        self.tags = record.tags
        self.notes = record.notes
        self.group = record.group
        self.job_type = record.job_type
        self.privacy = record.privacy
        self.created_at = to_datetime(record.created_at)  # type: ignore[assignment]
        self.heartbeat_at = to_datetime(record.heartbeat_at)  # type: ignore[assignment]
        self.finished_at = to_datetime(record.finished_at)
        self.metadata = record.metadata
        self.metric_definitions = record.metric_definitions
        self.exit_code = record.exit_code
        self.author = record.author
        self.runtime = record.runtime
        self.last_step = record.last_step
        self.history_rows = record.history_rows
        self._saved = {name: copy.deepcopy(getattr(self, name)) for name in EDITABLE_RUN_FIELDS}
        self._media_reader = blob_reader_for(self._queries)
        media_from_row(self.summary, self._media_reader)  # after _saved, which keeps the JSON

    # -- derived attributes -----------------------------------------------------------------
    @property
    def path(self) -> list[str]:
        """``[entity, project, id]``, as in wandb."""
        return [self.entity, self.project, self.id]

    @property
    def display_name(self) -> str:
        """The run's name (wandb's name for it)."""
        return self.name

    @display_name.setter
    def display_name(self, value: str) -> None:
        self.name = value

    @property
    def summary_metrics(self) -> dict[str, Any]:
        """The summary (wandb's other name for it)."""
        return self.summary

    @property
    def duration(self) -> float:
        """Seconds the run ran (same as ``runtime``)."""
        return self.runtime

    def __repr__(self) -> str:
        return f"<Run {'/'.join(self.path)} ({self.state})>"

    # -- history ----------------------------------------------------------------------------
    def _history(self) -> HistoryReader:
        self._check_not_deleted()
        return self._queries.history(self._pk)

    def history(
        self,
        samples: int = 500,
        keys: Sequence[str] | None = None,
        x_axis: str = "_step",
        pandas: bool = True,
        stream: str = "default",
    ) -> Any:
        """Up to ``samples`` history rows spread evenly over the run, first and last included.

        With ``keys``, only rows that have all of them (and ``x_axis``), with columns
        ``keys + [x_axis, "_step"]``. ``stream="system"`` gives the system metrics (keys
        starting ``system/`` or ``system.``) instead of the logged ones. Returns a pandas
        ``DataFrame`` when pandas is installed and ``pandas=True``, else a list of dicts.

        >>> run.history(keys=["train/loss"])  # doctest: +SKIP
        """
        columns, rows = self._history().sample(samples, keys, x_axis, stream)
        for row in rows:
            media_from_row(row, self._media_reader)
        if not pandas:
            return rows
        try:
            import pandas as pd
        except ImportError:
            return rows
        return pd.DataFrame(rows, columns=columns)

    def scan_history(
        self,
        keys: Sequence[str] | None = None,
        *,
        min_step: int | None = None,
        max_step: int | None = None,
        page_size: int = 1000,
    ) -> Iterator[dict[str, Any]]:
        """Every history row in step order, as dicts, read a page at a time.

        A row holds ``_step``, ``_runtime``, ``_timestamp`` and the keys logged at that step,
        with values exactly as logged. With ``keys``, only rows having all of them, holding
        ``_step`` and those keys. ``min_step`` is inclusive and ``max_step`` exclusive, as in
        wandb.

        >>> losses = [row["loss"] for row in run.scan_history(keys=["loss"])]  # doctest: +SKIP
        """
        reader = self._media_reader
        return (
            media_from_row(row, reader)
            for row in self._history().scan(keys, min_step, max_step, page_size)
        )

    def history_keys(self) -> list[str]:
        """Every key in the run's history, sorted (``_runtime`` and ``_timestamp`` included)."""
        return self._history().keys()

    # -- artifacts (lineage) ----------------------------------------------------------------
    def logged_artifacts(self) -> list[Any]:
        """The artifact versions this run logged (its outputs), as ``kiseki.Artifact``."""
        return self._artifacts("outputs")

    def used_artifacts(self) -> list[Any]:
        """The artifact versions this run used (its inputs), as ``kiseki.Artifact``."""
        return self._artifacts("inputs")

    def _artifacts(self, direction: str) -> list[Any]:
        from kiseki.artifacts.reads import run_artifacts

        self._check_not_deleted()
        record = self._queries.run_by_pk(self._pk)
        if record is None:
            raise self._gone()
        return run_artifacts(self._queries, record, direction)

    # -- files and console output (kiseki/api/run_files.py) ----------------------------------
    def files(self) -> list[Any]:
        """The files the run saved (``run.save``, ``requirements.txt``, its code), by name,
        as :class:`~kiseki.api.run_files.RunFile` objects with ``download()``."""
        from kiseki.api.run_files import run_data_source

        self._check_not_deleted()
        return run_data_source(self._queries, self._pk).files()

    def file(self, name: str) -> Any:
        """The saved file ``name`` (a :class:`~kiseki.api.run_files.RunFile`)."""
        for found in self.files():
            if found.name == name:
                return found
        raise NotFoundError(
            f"Run {'/'.join(self.path)} has no saved file {name!r}: run.files() lists its files."
        )

    def logs(self, search: str | None = None, stream: str | None = None) -> list[Any]:
        """What the run printed, as lines with ``line_no``, ``timestamp``, ``stream``
        (``stdout``, ``stderr``, or ``kiseki`` for kiseki's own marker) and ``text``.
        ``search`` keeps the lines containing it (case-insensitive); ``stream`` one stream.

        >>> errors = [line.text for line in run.logs(stream="stderr")]  # doctest: +SKIP
        """
        from kiseki.api.run_files import iter_console, run_data_source

        self._check_not_deleted()
        return list(iter_console(run_data_source(self._queries, self._pk), search, stream))

    # -- changes ----------------------------------------------------------------------------
    def update(self) -> None:
        """Save changes to ``name notes tags config summary group job_type privacy`` in one
        transaction, then reload the run."""
        self._check_not_deleted()
        current = {name: getattr(self, name) for name in EDITABLE_RUN_FIELDS}
        current["summary"] = media_to_references(current["summary"])
        changes = {
            name: value for name, value in current.items() if _differs(value, self._saved[name])
        }
        if not self._queries.update_run(self._pk, changes):
            raise self._gone()
        self.refresh()

    def delete(self) -> None:
        """Delete the run and its history from the store."""
        self._check_not_deleted()
        if not self._queries.delete_run(self._pk):
            raise self._gone()
        self._deleted = True

    def refresh(self) -> None:
        """Reload every attribute from the store (unsaved changes are dropped)."""
        self._check_not_deleted()
        record = self._queries.run_by_pk(self._pk)
        if record is None:
            raise self._gone()
        self._load(record)

    load = refresh

    def _check_not_deleted(self) -> None:
        if self._deleted:
            raise UsageError(f"Run {'/'.join(self.path)} was deleted: it can no longer be used.")

    def _gone(self) -> NotFoundError:
        return NotFoundError(
            f"Run {'/'.join(self.path)} is no longer in the store (it was deleted elsewhere)."
        )


def _differs(value: Any, saved: Any) -> bool:
    try:
        return jsoncodec.dumps(value) != jsoncodec.dumps(saved)
    except TypeError:
        return True


class Runs(Sequence[Run]):
    """The runs a query returned, in order; a read-only sequence of :class:`Run`.

    ``entity``, ``project``, ``filters`` and ``order`` record the query.
    """

    def __init__(
        self,
        entity: str,
        project: str,
        runs: list[Run],
        filters: Mapping[str, Any] | None,
        order: str | Sequence[str] | None,
    ) -> None:
        self.entity = entity
        self.project = project
        self.filters = filters
        self.order = order
        self._runs = runs

    @overload
    def __getitem__(self, index: int) -> Run: ...

    @overload
    def __getitem__(self, index: slice) -> list[Run]: ...

    def __getitem__(self, index: int | slice) -> Run | list[Run]:
        return self._runs[index]

    def __len__(self) -> int:
        return len(self._runs)

    def __iter__(self) -> Iterator[Run]:
        return iter(self._runs)

    def __repr__(self) -> str:
        return f"<Runs {self.entity}/{self.project} ({len(self._runs)})>"
