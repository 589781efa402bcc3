"""Reading a run log back, surviving torn tails and damaged frames."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiseki.errors import RunLogError
from kiseki.runlog.framing import (
    FILE_HEADER,
    FRAME_HEADER,
    MARKER,
    MARKER_BYTES,
    MAX_PAYLOAD,
    decode_payload,
)
from kiseki.runlog.records import RECORD_TYPES


@dataclass
class RunLogContents:
    """What :func:`read_run_log` found.

    ``records`` holds every whole, undamaged record in file order. ``torn_tail_offset`` is the
    byte offset where an incomplete last frame starts (``None`` when the log ends cleanly).
    ``damaged_ranges`` lists ``(start, end)`` byte ranges skipped because they failed their
    checksum; the records after them are kept. ``size`` is the file's size in bytes.
    """

    records: list[Any] = field(default_factory=list)
    torn_tail_offset: int | None = None
    damaged_ranges: list[tuple[int, int]] = field(default_factory=list)
    size: int = 0

    @property
    def last_seq(self) -> int:
        """The highest sequence number in the log (0 when it holds no record)."""
        return max((record.seq for record in self.records), default=0)


def _frame_at(data: bytes, pos: int) -> tuple[int, int, int] | None:
    """Return ``(type_code, payload_start, payload_end)`` when a valid frame starts at ``pos``."""
    header = _plausible_header(data, pos)
    if header is None:
        return None
    type_code, start, end, crc = header
    if end > len(data) or zlib.crc32(data[start:end]) != crc:
        return None
    return type_code, start, end


def _plausible_header(data: bytes, pos: int) -> tuple[int, int, int, int] | None:
    """``(type_code, payload_start, payload_end, crc)`` when a frame header starts at ``pos``."""
    if pos + FRAME_HEADER.size > len(data):
        return None
    marker, type_code, length, crc = FRAME_HEADER.unpack_from(data, pos)
    if marker != MARKER or type_code not in RECORD_TYPES or length > MAX_PAYLOAD:
        return None
    start = pos + FRAME_HEADER.size
    return type_code, start, start + length, crc


def _next_frame(data: bytes, pos: int) -> int | None:
    """Return the offset of the next valid frame after ``pos``, or ``None``."""
    search = pos + 1
    while True:
        found = data.find(MARKER_BYTES, search)
        if found < 0:
            return None
        if _frame_at(data, found) is not None:
            return found
        search = found + 1


def parse_run_log(data: bytes, path: Path | str = "run log") -> RunLogContents:
    """Parse the bytes of a run log (see :func:`read_run_log`); ``path`` names it in errors."""
    if not data.startswith(FILE_HEADER):
        if FILE_HEADER.startswith(data):
            return RunLogContents(torn_tail_offset=0 if data else None, size=len(data))
        raise RunLogError(
            f"{path} is not a kiseki run log (it does not start with {FILE_HEADER!r}). "
            "Pass the run.log file or the run directory kiseki created."
        )
    contents = RunLogContents(size=len(data))
    pos = len(FILE_HEADER)
    while pos < len(data):
        frame = _frame_at(data, pos)
        if frame is None:
            resume_at = _next_frame(data, pos)
            if resume_at is not None:
                contents.damaged_ranges.append((pos, resume_at))
                pos = resume_at
                continue
            header = _plausible_header(data, pos)
            if header is not None and header[2] == len(data):
                # a whole last frame whose checksum fails: damaged, not cut short
                contents.damaged_ranges.append((pos, len(data)))
            else:
                contents.torn_tail_offset = pos
            break
        type_code, start, end = frame
        try:
            contents.records.append(decode_payload(type_code, data[start:end]))
        except (ValueError, TypeError):
            contents.damaged_ranges.append((pos, end))
        pos = end
    return contents


def read_run_log(path: Path) -> RunLogContents:
    """Read every whole record of the run log at ``path``; the file is not changed.

    A frame cut short at the end of the file (power loss, disk full) ends the read; its offset
    is reported as ``torn_tail_offset``. A damaged frame in the middle is skipped and reported
    in ``damaged_ranges``; reading goes on with the next valid frame. To set a torn tail aside
    so that the log can be appended to again, use :func:`kiseki.runlog.recover_run_log`.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RunLogError(f"Cannot read the run log {path}: {exc.strerror}.") from exc
    return parse_run_log(data, path)
