"""Applying a run log that is already on disk (offline runs, crashed runs) to a sink."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from kiseki.errors import RunLogError
from kiseki.runlog.reader import read_run_log
from kiseki.runlog.records import RunStarted
from kiseki.sinks.local import LocalSink
from kiseki.store.applier import RunKey

SYNCED_MARKER = "synced"
"""A file of this name in a run directory means its whole log is in the store."""


@dataclass
class SyncResult:
    """What syncing one run log did."""

    path: Path
    key: RunKey
    records: int
    applied: int
    damaged_ranges: int
    torn_tail: bool


def run_logs_of(runs_root: Path, run_id: str) -> list[Path]:
    """The run logs under ``runs_root`` written for run ``run_id``, oldest first."""
    pattern = re.compile(rf"run-\d{{8}}_\d{{6}}-{re.escape(run_id)}(-\d+)?")
    if not runs_root.is_dir():
        return []
    return sorted(
        path / "run.log"
        for path in runs_root.iterdir()
        if pattern.fullmatch(path.name) and (path / "run.log").is_file()
    )


def run_log_path(path: Path) -> Path:
    """The ``run.log`` of a run directory (or ``path`` itself when it is the log)."""
    return path / "run.log" if path.is_dir() else path


def run_key_of(path: Path, project: str | None = None, entity: str | None = None) -> RunKey:
    """The run a log belongs to, read from its first ``RunStarted`` record."""
    contents = read_run_log(run_log_path(path))
    return _key_from(contents.records, path, project, entity)


def _key_from(records: list, path: Path, project: str | None, entity: str | None) -> RunKey:
    for record in records:
        if type(record) is RunStarted:
            return RunKey(entity or record.entity, project or record.project, record.run_id)
    raise RunLogError(
        f"{path} holds no run start record, so the run it belongs to is unknown; "
        "it cannot be synced."
    )


def sync_run_log(
    path: Path,
    sink: LocalSink,
    project: str | None = None,
    entity: str | None = None,
    dry_run: bool = False,
) -> SyncResult:
    """Apply every record of the run log at ``path`` not yet in the store; idempotent.

    ``project``/``entity`` override where the run goes. Writes the ``synced`` marker into the
    run directory when the whole log was applied.
    """
    log_path = run_log_path(path)
    contents = read_run_log(log_path)
    key = _key_from(contents.records, log_path, project, entity)
    records = contents.records
    if project or entity:
        for record in records:
            if type(record) is RunStarted:
                record.project, record.entity = key.project, key.entity
    before = sink.applied_seq(key)
    new = [r for r in records if r.seq > before]
    if not dry_run and new:
        sink.apply(key, new)
    if not dry_run:
        (log_path.parent / SYNCED_MARKER).write_text(str(max((r.seq for r in records), default=0)))
    return SyncResult(
        path=log_path,
        key=key,
        records=len(records),
        applied=len(new),
        damaged_ranges=len(contents.damaged_ranges),
        torn_tail=contents.torn_tail_offset is not None,
    )
