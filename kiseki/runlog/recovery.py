"""Crash recovery of a run log: set a torn tail aside, report damaged records, detect live logs.

A run log can end in an incomplete frame after a power loss or a full disk. Before kiseki
appends to such a log, or when ``kiseki sync`` applies it, the torn tail is copied to
``run.log.torn-<offset>`` next to the log and the log is truncated to its last whole record,
so that records appended later stay readable. A damaged record in the middle (a flipped byte)
is left in place: readers skip it and keep every record after it; it is reported with its
byte range.

A process writing a run log holds an exclusive ``flock`` on it (see
:class:`kiseki.runlog.RunLogWriter`), released by the kernel when the process dies, even by
SIGKILL. A log whose lock is held is *in use*: recovery reads it but changes nothing.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass, field
from pathlib import Path

from kiseki.errors import RunLogError
from kiseki.runlog.reader import RunLogContents, parse_run_log

TORN_SUFFIX = ".torn-"
"""A torn tail set aside from ``run.log`` is kept in ``run.log.torn-<offset>``."""


class RunLogWarning(UserWarning):
    """A run log had a torn tail or a damaged record; the message names the bytes concerned."""


@dataclass
class RecoveryReport:
    """What :func:`recover_run_log` found and did.

    ``torn_offset``/``torn_bytes`` locate an incomplete last frame; ``set_aside`` is the file
    its bytes were copied to (``None`` when nothing was set aside: no torn tail, a dry run, or
    a log in use). ``damaged_ranges`` are ``(start, end)`` byte ranges skipped as damaged.
    """

    path: Path
    torn_offset: int | None = None
    torn_bytes: int = 0
    set_aside: Path | None = None
    damaged_ranges: list[tuple[int, int]] = field(default_factory=list)
    in_use: bool = False

    @property
    def clean(self) -> bool:
        """Whether the log had neither a torn tail nor a damaged record."""
        return self.torn_offset is None and not self.damaged_ranges

    def describe(self) -> list[str]:
        """One human-readable line per problem found (empty when the log is clean)."""
        lines = [
            f"{self.path}: bytes {start}-{end} ({end - start} bytes) are damaged (checksum "
            "mismatch); the record(s) there were skipped and every record after them is kept"
            for start, end in self.damaged_ranges
        ]
        if self.torn_offset is not None:
            what = (
                f"{self.path}: the last {self.torn_bytes} bytes (from offset {self.torn_offset}) "
                "are an incomplete record (torn tail)"
            )
            if self.set_aside is not None:
                lines.append(
                    f"{what}; set aside in {self.set_aside.name} and the log was truncated "
                    "to its last whole record"
                )
            elif self.in_use:
                lines.append(f"{what}; left in place: a running process still writes this log")
            else:
                lines.append(f"{what}; it would be set aside in {self.path.name}{TORN_SUFFIX}*")
        return lines


def try_lock(fd: int) -> bool:
    """Take the exclusive lock of an open run log without waiting; ``False`` when it is held."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def log_in_use(path: Path) -> bool:
    """Whether a live process is writing the run log at ``path`` (it holds the log's lock)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        return not try_lock(fd)
    finally:
        os.close(fd)  # closing releases a lock taken here


def recover_run_log(path: Path, dry_run: bool = False) -> tuple[RunLogContents, RecoveryReport]:
    """Read the run log at ``path``, setting a torn tail aside (unless ``dry_run``).

    Returns every whole record (as :func:`kiseki.runlog.read_run_log`) and a report. When a
    live process holds the log's lock, or with ``dry_run``, the file is not changed. Raises
    :class:`~kiseki.errors.RunLogError` when the file cannot be read or is not a run log.
    """
    try:
        fd = os.open(path, os.O_RDONLY if dry_run else os.O_RDWR)
    except OSError as exc:
        raise RunLogError(f"Cannot open the run log {path}: {exc.strerror}.") from exc
    try:
        in_use = not try_lock(fd)
        data = _read_all(fd, path)
        contents = parse_run_log(data, path)
        report = RecoveryReport(
            path=path, damaged_ranges=list(contents.damaged_ranges), in_use=in_use
        )
        if contents.torn_tail_offset is not None:
            report.torn_offset = contents.torn_tail_offset
            report.torn_bytes = len(data) - contents.torn_tail_offset
            if not dry_run and not in_use:
                report.set_aside = set_aside_tail(path, fd, data, contents.torn_tail_offset)
                contents.size = contents.torn_tail_offset
        return contents, report
    finally:
        os.close(fd)


def set_aside_tail(path: Path, fd: int, data: bytes, offset: int) -> Path:
    """Copy ``data[offset:]`` to ``<path>.torn-<offset>`` and truncate the log at ``offset``.

    ``fd`` is the log opened for writing, with its lock held by the caller. The copy is made
    durable before the log is truncated, so a crash in between loses nothing.
    """
    aside = path.with_name(f"{path.name}{TORN_SUFFIX}{offset}")
    number = 1
    while aside.exists():
        number += 1
        aside = path.with_name(f"{path.name}{TORN_SUFFIX}{offset}-{number}")
    try:
        out = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(data)[offset:]
            while view:
                view = view[os.write(out, view) :]
            os.fsync(out)
        finally:
            os.close(out)
        os.ftruncate(fd, offset)
        os.fsync(fd)
    except OSError as exc:
        raise RunLogError(
            f"Cannot set aside the torn tail of the run log {path} ({exc.strerror}); the log "
            "was not changed. Free some disk space or check the directory's permissions, "
            "then try again."
        ) from exc
    return aside


def _read_all(fd: int, path: Path) -> bytes:
    try:
        size = os.fstat(fd).st_size
        parts = []
        while True:
            chunk = os.read(fd, max(size, 1 << 16))
            if not chunk:
                break
            parts.append(chunk)
        return b"".join(parts)
    except OSError as exc:
        raise RunLogError(f"Cannot read the run log {path}: {exc.strerror}.") from exc
