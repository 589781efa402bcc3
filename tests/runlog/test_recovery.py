"""Crash recovery of a run log: torn tails set aside, damaged records reported, live logs left
alone, failed writes undone."""

from __future__ import annotations

import errno
import os
import types
import warnings
from pathlib import Path

import pytest

from kiseki.errors import RunLogError
from kiseki.runlog import (
    HistoryRow,
    RunLogWarning,
    RunLogWriter,
    UnencodableRecordError,
    log_in_use,
    read_run_log,
    recover_run_log,
)
from kiseki.runlog import writer as writer_module
from kiseki.runlog.framing import FILE_HEADER, split_encodable


def rows(first: int, count: int) -> list[HistoryRow]:
    """``count`` history rows with sequence numbers from ``first``."""
    return [HistoryRow(first + n, first + n, 1.0, 0.5, {"i": first + n}) for n in range(count)]


def write(path: Path, records: list) -> None:
    """Append ``records`` to the log at ``path``."""
    writer = RunLogWriter(path)
    writer.append(records)
    writer.close()


def test_a_torn_tail_is_set_aside_and_the_log_truncated(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    write(log, rows(1, 5))
    whole = log.read_bytes()
    log.write_bytes(whole + b"\x53\x4b\x02\xff\xff")  # half a frame header
    contents, report = recover_run_log(log)
    assert [r.seq for r in contents.records] == [1, 2, 3, 4, 5]
    assert report.torn_offset == len(whole) and report.torn_bytes == 5
    assert report.set_aside == tmp_path / f"run.log.torn-{len(whole)}"
    assert report.set_aside.read_bytes() == b"\x53\x4b\x02\xff\xff"
    assert log.read_bytes() == whole
    assert "set aside in run.log.torn-" in report.describe()[0]
    _, again = recover_run_log(log)
    assert again.clean and again.set_aside is None


def test_a_dry_run_and_a_live_log_are_not_changed(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    write(log, rows(1, 3))
    damaged = log.read_bytes()[:-4]
    log.write_bytes(damaged)
    _, report = recover_run_log(log, dry_run=True)
    assert report.torn_offset is not None and report.set_aside is None
    assert "would be set aside" in report.describe()[0]
    assert log.read_bytes() == damaged
    fd = os.open(log, os.O_RDONLY)
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX)  # as a live writer holds it
        assert log_in_use(log)
        _, report = recover_run_log(log)
        assert report.in_use and report.set_aside is None
        assert "a running process still writes this log" in report.describe()[0]
        assert log.read_bytes() == damaged
    finally:
        os.close(fd)
    assert not log_in_use(log)


def test_reopening_a_torn_log_sets_the_tail_aside_so_appends_stay_readable(
    tmp_path: Path,
) -> None:
    log = tmp_path / "run.log"
    write(log, rows(1, 4))
    log.write_bytes(log.read_bytes()[:-3])  # the 4th record is torn
    with pytest.warns(RunLogWarning, match="torn tail"):
        writer = RunLogWriter(log)
    assert writer.recovery is not None and writer.recovery.set_aside is not None
    writer.append(rows(10, 2))
    writer.close()
    contents = read_run_log(log)
    assert [r.seq for r in contents.records] == [1, 2, 3, 10, 11]
    assert contents.torn_tail_offset is None and contents.damaged_ranges == []


def test_a_torn_header_is_set_aside_and_rewritten(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_bytes(FILE_HEADER[:7])
    with pytest.warns(RunLogWarning, match="set aside"):
        writer = RunLogWriter(log)
    writer.append(rows(1, 1))
    writer.close()
    assert log.read_bytes().startswith(FILE_HEADER)
    assert [r.seq for r in read_run_log(log).records] == [1]
    assert (tmp_path / "run.log.torn-0").read_bytes() == FILE_HEADER[:7]


def test_a_damaged_last_record_is_damaged_not_torn(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    write(log, rows(1, 3))
    data = bytearray(log.read_bytes())
    data[-2] ^= 0xFF  # a whole last frame, wrong checksum
    log.write_bytes(bytes(data))
    contents, report = recover_run_log(log)
    assert [r.seq for r in contents.records] == [1, 2]
    assert contents.torn_tail_offset is None and len(contents.damaged_ranges) == 1
    start, end = contents.damaged_ranges[0]
    assert end == len(data) and f"bytes {start}-{end}" in report.describe()[0]
    assert report.set_aside is None and log.read_bytes() == bytes(data)


def test_a_second_writer_of_one_log_is_refused(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    first = RunLogWriter(log)
    with pytest.raises(RunLogError, match="being written by another process"):
        RunLogWriter(log)
    assert log_in_use(log)
    first.close()
    assert not log_in_use(log)
    RunLogWriter(log).close()


def test_a_failed_write_is_undone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "run.log"
    writer = RunLogWriter(log)
    writer.append(rows(1, 2))
    size = log.stat().st_size
    calls = {"n": 0}

    def half_then_full(fd: int, data: bytes) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            return os.write(fd, bytes(data[: len(data) // 2]))  # a partial write ...
        raise OSError(errno.ENOSPC, "No space left on device")  # ... then the disk is full

    fake_os = types.SimpleNamespace(**{n: getattr(os, n) for n in dir(os) if n[0] != "_"})
    fake_os.write = half_then_full
    monkeypatch.setattr(writer_module, "os", fake_os)
    with pytest.raises(OSError):
        writer.append(rows(3, 5))
    assert log.stat().st_size == size  # no half record left behind
    monkeypatch.undo()
    writer.append(rows(3, 1))
    writer.close()
    contents = read_run_log(log)
    assert [r.seq for r in contents.records] == [1, 2, 3] and contents.damaged_ranges == []


def test_records_that_cannot_be_encoded_are_refused_whole(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    writer = RunLogWriter(log)
    bad = HistoryRow(2, 1, 1.0, 0.0, {"s": "\ud800"})
    with pytest.raises(UnencodableRecordError, match="surrogates"):
        writer.append([*rows(1, 1), bad])
    good, refused = split_encodable([*rows(1, 1), bad])
    assert [r.seq for r in good] == [1] and refused[0].record is bad
    writer.close()
    assert read_run_log(log).records == []


def test_a_forked_child_does_not_keep_the_parent_log_locked(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    writer = RunLogWriter(log)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        pid = os.fork()
    if pid == 0:  # the child: its inherited copy is closed, the parent's lock holds
        os._exit(0 if writer.closed and log_in_use(log) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    writer.append(rows(1, 1))
    writer.close()
    assert [r.seq for r in read_run_log(log).records] == [1]
