"""Run logs already on disk (offline runs, crashed runs): applying, inspecting, cleaning up.

``sync_run_log`` applies a log to a sink exactly once (records at or below the store's
``applied_seq`` are skipped) after setting a torn tail aside; ``inspect_run_dir`` says what
``kiseki sync --status`` shows; ``plan_gc`` decides what ``kiseki gc`` may delete. A log that
a live process still writes (it holds the log's lock) is never changed, synced or deleted.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kiseki.errors import KisekiError, RunLogError
from kiseki.runlog.reader import RunLogContents, read_run_log
from kiseki.runlog.records import HistoryRow, RunFinished, RunStarted, SummaryChanged
from kiseki.runlog.recovery import RecoveryReport, RunLogWarning, log_in_use, recover_run_log
from kiseki.store.applier import RunKey
from kiseki.store.lookup import StoredRun

SYNCED_MARKER = "synced"
"""A file of this name in a run directory means its whole log is in the store; it holds the
highest sequence number of the log."""
RUN_LOG = "run.log"


class RecordSink(Protocol):
    """What syncing needs of a sink: apply records, and tell how far a run is applied."""

    def apply(self, key: RunKey, records: Sequence[Any]) -> int:
        """Apply ``records`` of run ``key`` idempotently; return the run's cursor."""
        ...

    def applied_seq(self, key: RunKey) -> int:
        """The highest sequence number of run ``key`` already stored (0 when none)."""
        ...


@dataclass
class SyncResult:
    """What syncing one run log did.

    ``skipped`` says why nothing was done (``None`` when the log was synced); ``recovery``
    describes the torn tail and damaged records found, if any.
    """

    path: Path
    key: RunKey | None
    records: int
    applied: int
    damaged_ranges: int
    torn_tail: bool
    recovery: RecoveryReport | None = None
    skipped: str | None = None


def run_logs_of(runs_root: Path, run_id: str) -> list[Path]:
    """The run logs under ``runs_root`` written for run ``run_id``, oldest first."""
    pattern = re.compile(rf"run-\d{{8}}_\d{{6}}-{re.escape(run_id)}(-\d+)?")
    if not runs_root.is_dir():
        return []
    return sorted(
        path / RUN_LOG
        for path in runs_root.iterdir()
        if pattern.fullmatch(path.name) and (path / RUN_LOG).is_file()
    )


def find_run_dirs(runs_root: Path) -> list[Path]:
    """Every run directory (holding a ``run.log``) under ``runs_root``, oldest first."""
    if not runs_root.is_dir():
        return []
    return sorted(path.parent for path in runs_root.glob(f"run-*/{RUN_LOG}"))


def run_id_from_dir(run_dir: Path) -> str | None:
    """The run id in a run directory's name (``run-<date>_<time>-<id>[-<n>]``), if any."""
    match = _RUN_DIR.fullmatch(run_dir.name)
    return match.group(1) if match else None


_RUN_DIR = re.compile(r"run-\d{8}_\d{6}-(.+?)(?:-\d+)?")


def run_log_path(path: Path) -> Path:
    """The ``run.log`` of a run directory (or ``path`` itself when it is the log)."""
    return path / RUN_LOG if path.is_dir() else path


def is_synced(run_dir: Path) -> bool:
    """Whether the run directory carries the ``synced`` marker."""
    return (run_dir / SYNCED_MARKER).exists()


def run_key_of(path: Path, project: str | None = None, entity: str | None = None) -> RunKey:
    """The run a log belongs to, read from its first ``RunStarted`` record."""
    contents = read_run_log(run_log_path(path))
    return _key_from(contents.records, path, project, entity)


def _key_from(
    records: Sequence[Any], path: Path, project: str | None, entity: str | None
) -> RunKey:
    key = _find_key(records, project, entity)
    if key is None:
        raise RunLogError(
            f"{path} holds no run start record, so the run it belongs to is unknown; "
            "it cannot be synced."
        )
    return key


def _find_key(
    records: Sequence[Any], project: str | None = None, entity: str | None = None
) -> RunKey | None:
    for record in records:
        if type(record) is RunStarted:
            return RunKey(entity or record.entity, project or record.project, record.run_id)
    return None


def _warn(message: str) -> None:
    warnings.warn(message, RunLogWarning, stacklevel=3)


def sync_run_log(
    path: Path,
    sink: RecordSink,
    project: str | None = None,
    entity: str | None = None,
    dry_run: bool = False,
    report: Callable[[str], None] | None = None,
) -> SyncResult:
    """Apply every record of the run log at ``path`` not yet in the store; idempotent.

    A torn tail is set aside first (``run.log.torn-<offset>``) and damaged records are
    skipped; each problem is passed to ``report`` (default: a :class:`RunLogWarning`).
    ``project``/``entity`` override where the run goes. Writes the ``synced`` marker into the
    run directory when the whole log was applied. A log that a live process still writes is
    left alone (``skipped`` says so). ``dry_run`` changes nothing, on disk or in the store.
    """
    log_path = run_log_path(path)
    if log_in_use(log_path):
        return SyncResult(
            path=log_path,
            key=None,
            records=0,
            applied=0,
            damaged_ranges=0,
            torn_tail=False,
            skipped="a running process is still writing it",
        )
    contents, recovery = recover_run_log(log_path, dry_run=dry_run)
    for line in recovery.describe():
        (report or _warn)(line)
    if not contents.records:  # the process stopped before its first write: nothing to lose
        if not dry_run:
            _write_marker(log_path.parent, 0)
        return SyncResult(
            path=log_path,
            key=None,
            records=0,
            applied=0,
            damaged_ranges=len(contents.damaged_ranges),
            torn_tail=contents.torn_tail_offset is not None,
            recovery=recovery,
            skipped="it holds no records (its process stopped before writing any)",
        )
    key = _key_from(contents.records, log_path, project, entity)
    records = contents.records
    if project or entity:
        for record in records:
            if type(record) is RunStarted:
                record.project, record.entity = key.project, key.entity
    before = sink.applied_seq(key)
    if records and records[0].seq > before + 1 and not dry_run:
        # a resumed run's log: its earlier logs must go first, or their records would be
        # skipped as already applied
        for earlier in run_logs_of(log_path.parent.parent, key.run_id):
            if earlier.parent.name < log_path.parent.name and not is_synced(earlier.parent):
                sync_run_log(earlier, sink, project, entity, dry_run, report)
        before = sink.applied_seq(key)
    new = [r for r in records if r.seq > before]
    if not dry_run and new:
        sink.apply(key, new)
    if not dry_run:
        _write_marker(log_path.parent, contents.last_seq)
    return SyncResult(
        path=log_path,
        key=key,
        records=len(records),
        applied=len(new),
        damaged_ranges=len(contents.damaged_ranges),
        torn_tail=contents.torn_tail_offset is not None,
        recovery=recovery,
    )


def _write_marker(run_dir: Path, last_seq: int) -> None:
    marker = run_dir / SYNCED_MARKER
    try:
        marker.write_text(str(last_seq))
    except OSError as exc:
        raise RunLogError(
            f"The run log in {run_dir} was applied, but the marker {marker} cannot be "
            f"written ({exc.strerror}); the next `kiseki sync` will skip what is already "
            "stored."
        ) from exc


# -- what the store holds, read-only ---------------------------------------------------------
class StoreCursors:
    """Read-only look-ups of runs' ``applied_seq`` in the embedded store (never creates it).

    >>> cursors = StoreCursors(Path("~/.kiseki/kiseki.db").expanduser())   # doctest: +SKIP
    >>> cursors.applied_seq(RunKey("me", "mnist", "a1b2c3d4"))   # doctest: +SKIP
    1042
    """

    def __init__(self, sqlite_path: Path) -> None:
        self.sqlite_path = sqlite_path
        self._conn: sqlite3.Connection | None = None

    def applied_seq(self, key: RunKey) -> int | None:
        """The run's applied cursor, or ``None`` when the run (or the store) does not exist."""
        from kiseki.store.lookup import find_run

        if self._conn is None:
            if not self.sqlite_path.exists():
                return None
            try:
                self._conn = sqlite3.connect(
                    f"{self.sqlite_path.as_uri()}?mode=ro", uri=True, timeout=60
                )
            except sqlite3.Error as exc:
                raise _store_error(self.sqlite_path, exc) from exc
        try:
            stored = find_run(self._conn, key.entity, key.project, key.run_id)
        except sqlite3.Error as exc:
            raise _store_error(self.sqlite_path, exc) from exc
        return None if stored is None else stored.applied_seq

    def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _store_error(path: Path, exc: Exception) -> KisekiError:
    from kiseki.errors import StoreError

    return StoreError(f"Cannot read the kiseki store {path}: {exc}. Check the path.")


# -- kiseki sync --status ------------------------------------------------------------------------
@dataclass
class RunDirStatus:
    """One run directory as ``kiseki sync --status`` shows it.

    ``unsynced`` counts the log's records not yet in the store; ``last_seq`` is the log's
    highest sequence number; ``in_use`` means a live process still writes the log;
    ``problems`` lists torn tails and damaged records.
    """

    path: Path
    key: RunKey | None
    size: int
    records: int
    last_seq: int
    unsynced: int
    synced: bool
    in_use: bool
    finished: bool
    modified_at: float
    problems: list[str] = field(default_factory=list)


def directory_size(path: Path) -> int:
    """Total size in bytes of the files directly in ``path``."""
    total = 0
    try:
        entries = list(os.scandir(path))
    except OSError:
        return 0
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_size
        except OSError:
            pass
    return total


def inspect_run_dir(run_dir: Path, applied_seq: Callable[[RunKey], int | None]) -> RunDirStatus:
    """Describe a run directory without changing it: its run, size and what is not stored."""
    log_path = run_dir / RUN_LOG
    in_use = log_in_use(log_path)
    try:
        contents = read_run_log(log_path)
    except RunLogError as exc:
        contents, problems = RunLogContents(), [str(exc)]
    else:
        problems = RecoveryReport(
            path=log_path,
            torn_offset=contents.torn_tail_offset,
            torn_bytes=contents.size - (contents.torn_tail_offset or 0),
            damaged_ranges=contents.damaged_ranges,
            in_use=in_use,
        ).describe()
    key = _find_key(contents.records)
    stored = applied_seq(key) if key is not None else None
    unsynced = sum(1 for record in contents.records if record.seq > (stored or 0))
    try:
        modified_at = max(p.stat().st_mtime for p in run_dir.iterdir())
    except (OSError, ValueError):
        modified_at = 0.0
    return RunDirStatus(
        path=run_dir,
        key=key,
        size=directory_size(run_dir),
        records=len(contents.records),
        last_seq=contents.last_seq,
        unsynced=unsynced,
        synced=is_synced(run_dir),
        in_use=in_use,
        finished=any(type(record) is RunFinished for record in contents.records),
        modified_at=modified_at,
        problems=problems,
    )


# -- kiseki gc -----------------------------------------------------------------------------------
@dataclass
class GcDecision:
    """Whether ``kiseki gc`` may delete a run directory, and why (not)."""

    status: RunDirStatus
    remove: bool
    reason: str


def plan_gc(
    run_dirs: Sequence[Path],
    applied_seq: Callable[[RunKey], int | None],
    older_than_days: float,
    now: float | None = None,
) -> list[GcDecision]:
    """Decide, for each run directory, whether its whole log is safely in the store.

    A directory may go when it carries the ``synced`` marker, no process writes its log,
    the store's ``applied_seq`` of its run is at least the log's last sequence number (and
    the marker's), and nothing in it changed for ``older_than_days`` days.
    """
    now = time.time() if now is None else now
    cutoff = now - older_than_days * 86400.0
    decisions = []
    for run_dir in run_dirs:
        status = inspect_run_dir(run_dir, applied_seq)
        decisions.append(_decide(status, applied_seq, cutoff))
    return decisions


def _decide(
    status: RunDirStatus, applied_seq: Callable[[RunKey], int | None], cutoff: float
) -> GcDecision:
    def keep(reason: str) -> GcDecision:
        return GcDecision(status, False, reason)

    if status.in_use:
        return keep("a running process is still writing it")
    if not status.synced:
        return keep("not synced: run `kiseki sync` first")
    if status.key is None:
        if status.records == 0 and not status.problems and status.modified_at <= cutoff:
            return GcDecision(status, True, "empty")
        return keep("its log holds no run start record")
    try:
        marked = int((status.path / SYNCED_MARKER).read_text().strip() or 0)
    except (OSError, ValueError):
        return keep("its synced marker cannot be read")
    stored = applied_seq(status.key)
    if stored is None:
        return keep("its run is not in the store")
    needed = max(marked, status.last_seq)
    if stored < needed:
        return keep(f"the store holds records up to {stored} of {needed}: run `kiseki sync`")
    if status.modified_at > cutoff:
        return keep("more recent than --older-than")
    return GcDecision(status, True, "synced")


# -- resuming from logs not yet in the store ---------------------------------------------------
@dataclass
class LeftoverState:
    """Where unsynced run logs of a run left it: what an offline resume continues from."""

    name: str
    last_step: int
    runtime: float
    last_seq: int
    summary: dict[str, Any]
    config: dict[str, Any]


def leftover_state(runs_root: Path, key: RunKey) -> LeftoverState | None:
    """The state of run ``key`` after its unsynced run logs under ``runs_root``.

    Used when a run is resumed offline: the store does not have those logs yet, so the
    step, runtime and sequence numbers continue from them. ``None`` when there are none.
    """
    from kiseki.runlog.records import ConfigChanged, RunUpdated

    state: LeftoverState | None = None
    for log_path in run_logs_of(runs_root, key.run_id):
        if is_synced(log_path.parent):
            continue
        try:
            records = read_run_log(log_path).records
        except RunLogError:
            continue
        if _find_key(records) != key:
            continue
        for record in records:
            kind = type(record)
            if kind is RunStarted:
                if state is None:
                    state = LeftoverState(record.name, -1, 0.0, 0, {}, dict(record.config))
                else:
                    state.config.update(record.config)
            if state is None:
                continue
            state.last_seq = max(state.last_seq, record.seq)
            if kind is HistoryRow:
                state.last_step = max(state.last_step, record.step)
                state.runtime = max(state.runtime, record.runtime)
            elif kind is SummaryChanged:
                state.summary = dict(record.summary)
            elif kind is ConfigChanged:
                state.config = dict(record.config)
            elif kind is RunUpdated and "name" in record.fields:
                state.name = record.fields["name"]
            elif kind is RunFinished:
                state.runtime = max(state.runtime, record.runtime)
    return state


def resume_point(runs_root: Path, key: RunKey, stored: StoredRun | None) -> StoredRun | None:
    """Where an offline resume of run ``key`` continues: the store's state, or further on.

    Offline, the unsynced run logs of the run are not in the store yet; when they go further
    than the store (higher sequence numbers), the resumed run continues after them, so that
    syncing every log later keeps every record.
    """
    leftover = leftover_state(runs_root, key)
    if leftover is None or (stored is not None and leftover.last_seq <= stored.applied_seq):
        return stored
    summary = dict(stored.summary) if stored is not None else {}
    summary.update(leftover.summary)
    config = dict(stored.config) if stored is not None else {}
    config.update(leftover.config)
    return StoredRun(
        name=leftover.name,
        state="running",
        last_step=max(leftover.last_step, stored.last_step if stored else -1),
        runtime=max(leftover.runtime, stored.runtime if stored else 0.0),
        applied_seq=leftover.last_seq,
        summary=summary,
        config=config,
    )
