"""The record types a run log holds.

Each record carries ``seq``: its sequence number within the run, 1, 2, 3, ... across the
whole life of the run (a resumed run continues the numbering). Stores apply records
idempotently by ``(run_id, seq)``: a record whose ``seq`` is not above the run's applied
cursor is skipped, so sending or syncing a log twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(slots=True)
class RunStarted:
    """A run was created (``resumed=False``) or resumed (``resumed=True``)."""

    seq: int
    run_id: str
    project: str
    entity: str
    name: str
    created_at: float
    notes: str | None = None
    tags: list[str] = field(default_factory=list)
    group: str | None = None
    job_type: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    author: str | None = None
    resumed: bool = False
    privacy: str | None = None
    type_code: ClassVar[int] = 1


@dataclass(slots=True)
class HistoryRow:
    """One committed history row: ``values`` maps flattened keys to JSON-able values."""

    seq: int
    step: int
    timestamp: float
    runtime: float
    values: dict[str, Any]
    type_code: ClassVar[int] = 2


@dataclass(slots=True)
class SummaryChanged:
    """The whole summary as it now stands (replaces the previous one)."""

    seq: int
    summary: dict[str, Any]
    type_code: ClassVar[int] = 3


@dataclass(slots=True)
class ConfigChanged:
    """The whole config as it now stands (replaces the previous one)."""

    seq: int
    config: dict[str, Any]
    type_code: ClassVar[int] = 4


@dataclass(slots=True)
class RunUpdated:
    """Run fields changed during the run: any of name, notes, tags, group, job_type."""

    seq: int
    fields: dict[str, Any]
    type_code: ClassVar[int] = 5


@dataclass(slots=True)
class MetricDefined:
    """``define_metric`` was called; ``definition`` holds name, step_metric, summary, hidden."""

    seq: int
    definition: dict[str, Any]
    type_code: ClassVar[int] = 6


@dataclass(slots=True)
class MetadataCaptured:
    """Facts about where and how the run ran (host, OS, Python, git, hardware, ...)."""

    seq: int
    metadata: dict[str, Any]
    type_code: ClassVar[int] = 7


@dataclass(slots=True)
class RunFinished:
    """The run ended with ``exit_code`` (0 means success) at ``finished_at``."""

    seq: int
    exit_code: int
    finished_at: float
    runtime: float
    type_code: ClassVar[int] = 8


# Type codes of further record types, one range per feature (each registers its applier in
# kiseki/store/record_handlers.py and adds its class to RECORD_TYPES below):
#   9-10 console lines and saved files, 11-13 artifacts, 14-15 media, 16-17 sweeps.

Record = (
    RunStarted
    | HistoryRow
    | SummaryChanged
    | ConfigChanged
    | RunUpdated
    | MetricDefined
    | MetadataCaptured
    | RunFinished
)

RECORD_TYPES: dict[int, type[Any]] = {
    cls.type_code: cls
    for cls in (
        RunStarted,
        HistoryRow,
        SummaryChanged,
        ConfigChanged,
        RunUpdated,
        MetricDefined,
        MetadataCaptured,
        RunFinished,
    )
}
