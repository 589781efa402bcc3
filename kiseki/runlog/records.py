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


@dataclass(slots=True)
class ConsoleLines:
    """Lines the script wrote to stdout or stderr: ``lines`` holds ``[timestamp, stream,
    text]`` triples (``stream`` is ``"stdout"`` or ``"stderr"``), in the order written.
    ``first_line`` (optional) numbers them from that line on, replacing lines already stored
    there (a redrawn progress bar); without it they are appended."""

    seq: int
    lines: list[list[Any]]
    first_line: int | None = None
    type_code: ClassVar[int] = 9


@dataclass(slots=True)
class FileSaved:
    """A file of the run was saved (``run.save``): its ``path`` relative to the run's files,
    the ``digest`` and ``size`` of its bytes (in the blob store already), its ``mtime``, and
    ``kind`` (``file``, or ``code`` for the main script's code)."""

    seq: int
    path: str
    digest: str
    size: int
    mtime: float
    kind: str = "file"
    type_code: ClassVar[int] = 10

    def blob_digests(self) -> list[str]:
        """The one blob holding the file's bytes."""
        return [self.digest]


@dataclass(slots=True)
class ArtifactLogged:
    """The run logged an artifact: its whole ``manifest`` (entries with ``path``,
    ``digest``, ``size`` and, for references, ``ref``), its content ``digest`` and the
    ``aliases`` to point at the version. The bytes are in the blob store already; the store
    creates the version (or finds the one with the same content) when it applies this."""

    seq: int
    name: str
    artifact_type: str
    digest: str
    manifest: list[dict[str, Any]]
    aliases: list[str] = field(default_factory=list)
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    type_code: ClassVar[int] = 11

    def blob_digests(self) -> list[str]:
        """The blobs of the manifest's stored files (references are not copied)."""
        return [e["digest"] for e in self.manifest if not e.get("ref") and e.get("digest")]


@dataclass(slots=True)
class ArtifactUsed:
    """The run used the artifact version with content ``digest`` of ``entity/project/name``."""

    seq: int
    entity: str
    project: str
    name: str
    digest: str
    type_code: ClassVar[int] = 12


@dataclass(slots=True)
class SystemSampled:
    """One sample of the system metrics (``values``: ``system/...`` keys to numbers), taken at
    ``timestamp``, ``runtime`` seconds into the run. Samples have their own numbering in the
    store: they never advance or touch the run's ``_step``."""

    seq: int
    timestamp: float
    runtime: float
    values: dict[str, Any]
    type_code: ClassVar[int] = 18


@dataclass(slots=True)
class MediaStored:
    """Media logged by the run were written to the blob store as ``digests`` (images, large
    tables); the history row referring to them comes after this record."""

    seq: int
    digests: list[str]
    type_code: ClassVar[int] = 14

    def blob_digests(self) -> list[str]:
        """The media blobs, which a server must hold before the history row arrives."""
        return list(self.digests)


# Type codes of further record types, one range per feature (each registers its applier in
# kiseki/store/record_handlers.py and adds its class to RECORD_TYPES below):
#   9-10 console lines and saved files, 11-13 artifacts, 14-15 media, 16-17 sweeps,
#   18-19 system metrics.

Record = (
    RunStarted
    | HistoryRow
    | SummaryChanged
    | ConfigChanged
    | RunUpdated
    | MetricDefined
    | MetadataCaptured
    | RunFinished
    | ArtifactLogged
    | ArtifactUsed
    | ConsoleLines
    | FileSaved
    | SystemSampled
    | MediaStored
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
        ArtifactLogged,
        ArtifactUsed,
        ConsoleLines,
        FileSaved,
        SystemSampled,
        MediaStored,
    )
}
