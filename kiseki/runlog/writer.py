"""Appending records to a run log file."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kiseki import jsoncodec
from kiseki.errors import RunLogError
from kiseki.runlog.framing import FILE_HEADER, encode_record
from kiseki.runlog.records import HistoryRow


class RunLogWriter:
    """Appends framed records to one run log file.

    Records are written with one ``write`` per batch; :meth:`sync` makes them durable on disk
    (``fsync``), which the SDK does at finish and periodically.

    >>> writer = RunLogWriter(Path("run.log"))   # doctest: +SKIP
    >>> writer.append([record]); writer.sync(); writer.close()   # doctest: +SKIP
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            if os.fstat(self._fd).st_size == 0:
                os.write(self._fd, FILE_HEADER)
        except OSError as exc:
            raise RunLogError(
                f"Cannot open the run log {path}: {exc.strerror}. "
                "Check that the directory is writable, or set KISEKI_DIR to one that is."
            ) from exc
        self.bytes_written = os.fstat(self._fd).st_size

    def append(self, records: Iterable[Any]) -> int:
        """Append ``records`` in one write; return the number of bytes written.

        The records themselves are not modified.

        Raises ``OSError`` when the disk refuses the write (e.g. ``ENOSPC``); the caller decides
        what to do, nothing is half-written into the log's logical content (a torn frame is
        detected and set aside by the reader).
        """
        parts = []
        for record in records:
            if type(record) is HistoryRow and not jsoncodec.needs_tagging(record.values):
                try:
                    parts.append(encode_record(record))
                    continue
                except TypeError:  # an integer beyond 64 bits
                    pass
            parts.append(encode_record(_tagged_copy(record)))
        data = b"".join(parts)
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self.bytes_written += len(data)
        return len(data)

    def sync(self) -> None:
        """Flush the file to stable storage."""
        os.fsync(self._fd)

    def close(self) -> None:
        """Sync and close the file; safe to call twice."""
        if self._fd >= 0:
            try:
                os.fsync(self._fd)
            finally:
                os.close(self._fd)
                self._fd = -1


def _tagged_copy(record: Any) -> Any:
    """A copy of ``record`` whose dict and list fields have NaN, inf and huge ints tagged."""
    fields = {name: getattr(record, name) for name in record.__slots__}
    for name, value in fields.items():
        if isinstance(value, dict | list):
            fields[name] = jsoncodec.tag(value)
    return type(record)(**fields)
