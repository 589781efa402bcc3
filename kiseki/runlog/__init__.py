"""The run log: an append-only, CRC-framed file of typed records, one per run.

Every value a training script logs is appended here first (by the SDK's writer thread) and
only then applied to a store, so a record that reached the log is never lost. See
``records`` for what a log holds, ``framing`` for the bytes, ``writer``/``reader`` for I/O,
``recovery`` for torn tails, damaged records and logs still being written.
"""

from kiseki.runlog.framing import UnencodableRecordError
from kiseki.runlog.reader import RunLogContents, parse_run_log, read_run_log
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
from kiseki.runlog.recovery import RecoveryReport, RunLogWarning, log_in_use, recover_run_log
from kiseki.runlog.writer import RunLogWriter

__all__ = [
    "ConfigChanged",
    "HistoryRow",
    "MetadataCaptured",
    "MetricDefined",
    "Record",
    "RecoveryReport",
    "RunFinished",
    "RunLogContents",
    "RunLogWarning",
    "RunLogWriter",
    "RunStarted",
    "RunUpdated",
    "SummaryChanged",
    "UnencodableRecordError",
    "log_in_use",
    "parse_run_log",
    "read_run_log",
    "recover_run_log",
]
