"""The run log: an append-only, CRC-framed file of typed records, one per run.

Every value a training script logs is appended here first (by the SDK's writer thread) and
only then applied to a store, so a record that reached the log is never lost. See
``records`` for what a log holds, ``framing`` for the bytes, ``writer``/``reader`` for I/O.
"""

from kiseki.runlog.reader import RunLogContents, read_run_log
from kiseki.runlog.records import (
    ConfigChanged,
    HistoryRow,
    MetadataCaptured,
    MetricDefined,
    Record,
    RunFinished,
    RunStarted,
    RunUpdated,
    SummaryChanged,
)
from kiseki.runlog.writer import RunLogWriter

__all__ = [
    "ConfigChanged",
    "HistoryRow",
    "MetadataCaptured",
    "MetricDefined",
    "Record",
    "RunFinished",
    "RunLogContents",
    "RunLogWriter",
    "RunStarted",
    "RunUpdated",
    "SummaryChanged",
    "read_run_log",
]
