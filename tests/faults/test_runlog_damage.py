"""Scenario 5: a torn run-log tail and a flipped byte mid-file, recovered by ``kiseki sync``.

A torn tail (the file cut at any byte, as by a power loss or a full disk) is set aside in
``run.log.torn-<offset>``, the log is truncated to its last whole record, and every record
before the cut reaches the store exactly once; appending to the log afterwards works. A
flipped byte anywhere in a record (marker, type, length, checksum or payload) loses that
record only, and the output names the damaged byte range.
"""

from __future__ import annotations

import random
import uuid
from pathlib import Path
from typing import Any

import pytest
from faultkit import assert_exact_rows, run_cli, stored_rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kiseki
from kiseki.runlog import HistoryRow, RunFinished, RunLogWriter, parse_run_log, read_run_log
from kiseki.runlog.framing import FILE_HEADER, FRAME_HEADER

ROWS = 40


def offline_run(run_id: str, rows: int = ROWS) -> Path:
    """An offline run with ``rows`` known rows; return its run log."""
    run = kiseki.init(project="damage", id=run_id, mode="offline")
    for i in range(rows):
        run.log({"i": i, "x": i * 0.5, "tag": f"row-{i}"})
    run.finish()
    assert run.dir is not None
    return Path(run.dir) / "run.log"


def expected_row(i: int) -> dict[str, Any]:
    """The row logged at step ``i`` by :func:`offline_run`."""
    return {"i": i, "x": i * 0.5, "tag": f"row-{i}"}


def frames(data: bytes) -> list[tuple[int, int]]:
    """``(start, end)`` of every frame of an undamaged log."""
    spans, pos = [], len(FILE_HEADER)
    while pos < len(data):
        _, _, length, _ = FRAME_HEADER.unpack_from(data, pos)
        end = pos + FRAME_HEADER.size + length
        spans.append((pos, end))
        pos = end
    return spans


def history_steps_before(data: bytes, cut: int) -> list[int]:
    """Steps of the history rows whose frames end at or before ``cut`` in the log ``data``."""
    records = parse_run_log(data).records
    return [
        record.step
        for record, (_, end) in zip(records, frames(data), strict=True)
        if type(record) is HistoryRow and end <= cut
    ]


@pytest.mark.parametrize("seed", range(8))
def test_torn_tail_is_set_aside_and_everything_before_it_is_stored(seed: int) -> None:
    log = offline_run(f"torn{seed:04d}")
    data = log.read_bytes()
    spans = frames(data)
    rng = random.Random(seed)
    start, end = spans[rng.randrange(len(spans) // 2, len(spans))]
    cut = rng.randrange(start + 1, end)  # inside a frame: everything from it on is torn
    log.write_bytes(data[:cut])

    output = run_cli("sync", str(log.parent))

    assert f"incomplete record (torn tail); set aside in run.log.torn-{start}" in output
    assert (log.parent / f"run.log.torn-{start}").read_bytes() == data[start:cut]
    assert log.read_bytes() == data[:start]
    steps = history_steps_before(data, cut)
    assert_exact_rows(f"damage/torn{seed:04d}", [expected_row(i) for i in steps])
    assert "applied 0 of" in run_cli("sync", str(log.parent))  # exactly once

    # the recovered log takes appends again, and they sync
    last = read_run_log(log).records[-1]
    writer = RunLogWriter(log)
    assert writer.recovery is not None and writer.recovery.clean
    writer.append([HistoryRow(last.seq + 1, ROWS + 10, 1.0, 1.0, {"i": -1})])
    writer.append([RunFinished(last.seq + 2, 0, 2.0, 1.0)])
    writer.close()
    run_cli("sync", str(log.parent))
    rows = stored_rows(f"damage/torn{seed:04d}")
    assert [r["_step"] for r in rows] == [*steps, ROWS + 10]
    assert kiseki.Api().run(f"damage/torn{seed:04d}").state == "finished"


@pytest.mark.parametrize("field", ["marker", "type", "length", "crc", "payload"])
def test_a_flipped_byte_loses_only_its_record(field: str) -> None:
    log = offline_run(f"flip{field[:4]}")
    data = bytearray(log.read_bytes())
    records = read_run_log(log).records
    spans = frames(bytes(data))
    victim = next(n for n, r in enumerate(records) if type(r) is HistoryRow and r.step == ROWS // 2)
    start, end = spans[victim]
    offset = {"marker": 0, "type": 2, "length": 4, "crc": 8, "payload": 20}[field]
    data[start + offset] ^= 0x5A
    log.write_bytes(bytes(data))

    output = run_cli("sync", str(log.parent))

    assert f"bytes {start}-{end} ({end - start} bytes) are damaged" in output, output
    assert "1 damaged record(s) skipped" in output
    expected = [expected_row(i) for i in range(ROWS) if i != ROWS // 2]
    assert_exact_rows(f"damage/flip{field[:4]}", expected)
    assert kiseki.Api().run(f"damage/flip{field[:4]}").state == "finished"
    assert "applied 0 of" in run_cli("sync", str(log.parent))


def test_torn_tail_and_flipped_byte_together() -> None:
    log = offline_run("bothdmg1")
    data = bytearray(log.read_bytes())
    spans = frames(bytes(data))
    records = read_run_log(log).records
    victim = next(n for n, r in enumerate(records) if type(r) is HistoryRow and r.step == 5)
    data[spans[victim][0] + 25] ^= 0xFF
    cut_frame = next(n for n, r in enumerate(records) if type(r) is HistoryRow and r.step == 30)
    cut = spans[cut_frame][0] + 3
    log.write_bytes(bytes(data[:cut]))

    output = run_cli("sync")

    assert "damaged" in output and "torn tail" in output
    assert_exact_rows("damage/bothdmg1", [expected_row(i) for i in range(30) if i != 5])


def test_a_damaged_log_does_not_stop_the_others() -> None:
    good = offline_run("goodlog1", rows=3)
    bad = offline_run("badlog01", rows=3)
    data = bytearray(bad.read_bytes())
    data[len(FILE_HEADER) + 20] ^= 0xFF  # inside the run's start record: owner unknown
    bad.write_bytes(bytes(data))
    result = run_cli_failing("sync")
    assert "holds no run start record" in result
    assert_exact_rows("damage/goodlog1", [expected_row(i) for i in range(3)])
    assert good.parent.joinpath("synced").exists() and not bad.parent.joinpath("synced").exists()


def run_cli_failing(*args: str) -> str:
    """Run the CLI expecting exit code 1; return its output."""
    from click.testing import CliRunner

    from kiseki.cli.main import cli

    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    return result.output


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cut=st.integers(min_value=0, max_value=10_000), flips=st.lists(st.integers(0, 10_000)))
def test_any_damage_keeps_every_intact_record(tmp_path: Path, cut: int, flips: list[int]) -> None:
    """Reading never fails on damage and keeps every record whose frame bytes are intact."""
    log = tmp_path / f"case-{uuid.uuid4().hex}.log"
    records = [HistoryRow(n + 1, n, 0.0, 0.0, {"i": n, "s": "x" * (n % 7)}) for n in range(60)]
    writer = RunLogWriter(log)
    writer.append(records)
    writer.close()
    data = bytearray(log.read_bytes())
    spans = frames(bytes(data))
    cut = len(FILE_HEADER) + cut % (len(data) - len(FILE_HEADER) + 1)
    touched = set()
    for flip in flips:
        position = len(FILE_HEADER) + flip % (len(data) - len(FILE_HEADER))
        data[position] ^= 0x01
        touched.add(position)
    log.write_bytes(bytes(data[:cut]))
    kept = {r.seq for r in read_run_log(log).records}
    for record, (start, end) in zip(records, spans, strict=True):
        if end <= cut and not any(start <= t < end for t in touched):
            assert record.seq in kept
    assert kept <= {r.seq for r in records}
