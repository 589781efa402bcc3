"""Appending records to a run log file."""

from __future__ import annotations

import os
import warnings
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kiseki.errors import RunLogError
from kiseki.runlog.framing import FILE_HEADER, encode_records
from kiseki.runlog.reader import parse_run_log
from kiseki.runlog.recovery import RecoveryReport, RunLogWarning, set_aside_tail, try_lock

_open_writers: weakref.WeakSet[RunLogWriter] = weakref.WeakSet()


class RunLogWriter:
    """Appends framed records to one run log file, holding the file's lock while open.

    Records are written with one ``write`` per batch; :meth:`sync` makes them durable on disk
    (``fsync``), which the SDK does at finish and periodically. Opening an existing log sets
    a torn tail aside first (see :mod:`kiseki.runlog.recovery`; the result is in
    :attr:`recovery`), so that what is appended stays readable. A failed write is undone
    (the file is truncated back), so a full disk never leaves half a record in the log.

    >>> writer = RunLogWriter(Path("run.log"))   # doctest: +SKIP
    >>> writer.append([record]); writer.sync(); writer.close()   # doctest: +SKIP
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.recovery: RecoveryReport | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RunLogError(
                f"Cannot open the run log {path}: {exc.strerror}. "
                "Check that the directory is writable, or set KISEKI_DIR to one that is."
            ) from exc
        try:
            if not try_lock(self._fd):
                raise RunLogError(
                    f"The run log {path} is being written by another process: wait for it to "
                    "finish, or log to a new run directory."
                )
            if os.fstat(self._fd).st_size > 0:
                self._recover()
            if os.fstat(self._fd).st_size == 0:
                os.write(self._fd, FILE_HEADER)
            self.bytes_written = os.fstat(self._fd).st_size
        except OSError as exc:
            os.close(self._fd)
            raise RunLogError(
                f"Cannot write the run log {path}: {exc.strerror}. Free some disk space or "
                "set KISEKI_DIR to a writable directory."
            ) from exc
        except BaseException:
            os.close(self._fd)
            raise
        _open_writers.add(self)

    def _recover(self) -> None:
        """Set a torn tail aside before appending to an existing log."""
        data = self.path.read_bytes()
        contents = parse_run_log(data, self.path)
        report = RecoveryReport(path=self.path, damaged_ranges=list(contents.damaged_ranges))
        if contents.torn_tail_offset is not None:
            report.torn_offset = contents.torn_tail_offset
            report.torn_bytes = len(data) - contents.torn_tail_offset
            report.set_aside = set_aside_tail(self.path, self._fd, data, report.torn_offset)
        self.recovery = report
        for line in report.describe():
            warnings.warn(line, RunLogWarning, stacklevel=3)

    def append(self, records: Iterable[Any]) -> int:
        """Append ``records`` in one write; return the number of bytes written.

        The records themselves are not modified. Raises
        :class:`~kiseki.runlog.framing.UnencodableRecordError` (nothing written) when a record
        cannot be encoded, and ``OSError`` when the disk refuses the write (see :meth:`write`).
        """
        return self.write(encode_records(records))

    def write(self, data: bytes) -> int:
        """Append already-encoded frames in one write; return the number of bytes written.

        Raises ``OSError`` when the disk refuses the write (e.g. ``ENOSPC``, ``EFBIG``); the
        file is then truncated back to its previous size, so it never holds half a frame
        written by this writer. The caller decides whether to retry later.
        """
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError:
            try:
                os.ftruncate(self._fd, self.bytes_written)
            except OSError:  # the reader and recovery set a torn frame aside anyway
                pass
            raise
        self.bytes_written += len(data)
        return len(data)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._fd < 0

    def sync(self) -> None:
        """Flush the file to stable storage."""
        os.fsync(self._fd)

    def close(self) -> None:
        """Sync and close the file (releasing its lock); safe to call twice."""
        if self._fd >= 0:
            try:
                os.fsync(self._fd)
            finally:
                os.close(self._fd)
                self._fd = -1
                _open_writers.discard(self)

    def _forget_in_child(self) -> None:
        """In a forked child: close the inherited descriptor so the lock dies with the parent."""
        if self._fd >= 0:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = -1


def _close_inherited_logs() -> None:
    for writer in list(_open_writers):
        writer._forget_in_child()
    _open_writers.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_inherited_logs)
