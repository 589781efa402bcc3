"""The run log: every record type round-trips; torn tails and damaged frames are survived."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from kiseki.errors import RunLogError
from kiseki.runlog import (
    ConfigChanged,
    HistoryRow,
    MetadataCaptured,
    MetricDefined,
    RunFinished,
    RunLogWriter,
    RunStarted,
    RunUpdated,
    SummaryChanged,
    read_run_log,
)


def sample_records() -> list:
    """One record of every type, with values plain JSON would lose."""
    return [
        RunStarted(1, "abc", "proj", "me", "name-1", 1.5, notes="n", tags=["t"], config={"a": 1}),
        HistoryRow(2, 0, 10.0, 0.5, {"nan": math.nan, "inf": -math.inf, "big": 2**70, "s": "✓"}),
        SummaryChanged(3, {"loss": {"min": 0.1}, "x": math.inf}),
        ConfigChanged(4, {"nested": {"lr": 0.1}}),
        RunUpdated(5, {"name": "new"}),
        MetricDefined(6, {"name": "loss", "summary": ["min"]}),
        MetadataCaptured(7, {"host": "h"}),
        RunFinished(8, 0, 20.0, 10.0),
    ]


def write(path: Path, records: list) -> None:
    """Write ``records`` to a new log at ``path``."""
    writer = RunLogWriter(path)
    writer.append(records)
    writer.close()


def assert_same(read: list, expected: list) -> None:
    """Compare records, treating NaN as equal to NaN."""
    assert len(read) == len(expected)
    for got, want in zip(read, expected, strict=True):
        assert type(got) is type(want)
        assert repr(got) == repr(want)


def test_every_record_type_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "run.log"
    write(path, sample_records())
    contents = read_run_log(path)
    assert_same(contents.records, sample_records())
    assert contents.torn_tail_offset is None and contents.damaged_ranges == []


def test_appending_after_reopening_continues_the_log(tmp_path: Path) -> None:
    path = tmp_path / "run.log"
    records = sample_records()
    write(path, records[:3])
    write(path, records[3:])
    assert_same(read_run_log(path).records, records)


@pytest.mark.parametrize("cut", [1, 5, 11, 20])
def test_torn_tail_keeps_every_whole_record_before_it(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "run.log"
    write(path, sample_records())
    data = path.read_bytes()
    path.write_bytes(data[:-cut])
    contents = read_run_log(path)
    assert_same(contents.records, sample_records()[:-1])
    assert contents.torn_tail_offset is not None


def test_flipped_byte_mid_file_skips_only_the_damaged_record(tmp_path: Path) -> None:
    path = tmp_path / "run.log"
    records = sample_records()
    write(path, records[:2])
    damaged_offset = path.stat().st_size - 10  # inside the HistoryRow's payload
    write(path, records[2:])
    data = bytearray(path.read_bytes())
    data[damaged_offset] ^= 0xFF
    path.write_bytes(bytes(data))
    contents = read_run_log(path)
    assert_same(contents.records, records[:1] + records[2:])
    assert len(contents.damaged_ranges) == 1
    assert contents.torn_tail_offset is None


def test_a_file_that_is_not_a_run_log_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.txt"
    path.write_text("hello world, this is not a log")
    with pytest.raises(RunLogError, match="not a kiseki run log"):
        read_run_log(path)
    with pytest.raises(RunLogError, match="Cannot read"):
        read_run_log(tmp_path / "missing.log")


def test_an_empty_or_header_only_log_has_no_records(tmp_path: Path) -> None:
    path = tmp_path / "run.log"
    RunLogWriter(path).close()
    assert read_run_log(path).records == []
