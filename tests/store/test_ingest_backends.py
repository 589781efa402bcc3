"""Record application gives the same store contents on SQLite and PostgreSQL, exactly once."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kiseki import jsoncodec
from kiseki.runlog.records import (
    ConfigChanged,
    HistoryRow,
    MetadataCaptured,
    MetricDefined,
    RunFinished,
    RunStarted,
    RunUpdated,
    SummaryChanged,
)
from kiseki.sinks.local import LocalSink
from kiseki.store.applier import RunKey
from kiseki.store.chunks import unpack_ints, unpack_values
from kiseki.store.database import StoreLocation
from kiseki.store.ingest import StoreWriter
from kiseki.store.schema import history_chunks, history_values, runs


@pytest.fixture(params=["sqlite-local", "sqlite-sqlalchemy", "postgresql"])
def sink(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A sink on a fresh store of each kind."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        writer = StoreWriter(StoreLocation.parse(url))
        with writer.engine.begin() as connection:  # the session database is shared: empty it
            for table in ("history_values", "history_chunks", "runs", "projects"):
                connection.execute(sa.text(f"DELETE FROM {table}"))
        yield writer
        writer.close()
    elif request.param == "sqlite-sqlalchemy":
        writer = StoreWriter(StoreLocation.in_dir(tmp_path))
        yield writer
        writer.close()
    else:
        local = LocalSink(StoreLocation.in_dir(tmp_path))
        yield local
        local.close()


def engine_of(sink: Any) -> sa.Engine:
    """A SQLAlchemy engine on the sink's store."""
    from kiseki.store.database import create_store_engine

    return getattr(sink, "engine", None) or create_store_engine(sink.location)


def contents(sink: Any) -> dict[str, Any]:
    """Everything stored, decoded: run fields, numeric series and other values."""
    engine = engine_of(sink)
    with engine.connect() as connection:
        run = connection.execute(sa.select(runs)).one()
        series: dict[str, list[tuple[int, Any]]] = {}
        for row in connection.execute(
            sa.select(history_chunks).order_by(history_chunks.c.key, history_chunks.c.chunk_no)
        ):
            points = zip(unpack_ints(row.steps), unpack_values(row.kind, row.vals), strict=True)
            series.setdefault(row.key, []).extend(points)
        others = {
            (row.key, row.step): jsoncodec.loads(row.value)
            for row in connection.execute(sa.select(history_values))
        }
    return {"run": run._asdict(), "series": series, "values": others}


def make_records(rows: int) -> list[Any]:
    """A run of ``rows`` history rows with every kind of record."""
    records: list[Any] = [
        RunStarted(1, "r1", "proj", "me", "name-1", 100.0, tags=["a"], config={"lr": 0.1})
    ]
    seq = 2
    for step in range(rows):
        values: dict[str, Any] = {"loss": 1.0 / (step + 1), "count": step}
        if step % 500 == 0:
            values.update({"label": f"s{step}", "flag": True, "none": None, "nan": math.nan})
        records.append(HistoryRow(seq, step, 100.0 + step, float(step), values))
        seq += 1
    for record in (
        SummaryChanged(0, {"loss": 0.5, "inf": math.inf}),
        ConfigChanged(0, {"lr": 0.2, "nested": {"a": 1}}),
        RunUpdated(0, {"name": "renamed", "tags": ["a", "b"], "group": "g"}),
        MetricDefined(0, {"name": "loss", "summary": ["min"]}),
        MetadataCaptured(0, {"host": "box"}),
        RunFinished(0, 0, 200.0, 100.0),
    ):
        record.seq = seq
        records.append(record)
        seq += 1
    return records


KEY = RunKey("me", "proj", "r1")


def check(stored: dict[str, Any], rows: int) -> None:
    """Assert ``stored`` holds exactly the run of :func:`make_records`."""
    run = stored["run"]
    assert run["state"] == "finished" and run["exit_code"] == 0
    assert run["name"] == "renamed" and run["group_name"] == "g"
    assert run["tags"] == ["a", "b"]
    assert run["config"] == {"lr": 0.2, "nested": {"a": 1}}
    assert run["summary"]["loss"] == 0.5 and run["summary"]["inf"] == math.inf
    assert run["metadata"] == {"host": "box"}
    assert run["metric_definitions"]["loss"]["summary"] == ["min"]
    assert run["history_rows"] == rows and run["last_step"] == rows - 1
    assert stored["series"]["loss"] == [(s, 1.0 / (s + 1)) for s in range(rows)]
    assert stored["series"]["count"] == [(s, s) for s in range(rows)]
    assert all(type(v) is int for _, v in stored["series"]["count"])
    assert [s for s, _ in stored["series"]["_timestamp"]] == list(range(rows))
    nan_points = stored["series"]["nan"]
    assert [s for s, _ in nan_points] == list(range(0, rows, 500))
    assert all(math.isnan(v) for _, v in nan_points)
    assert stored["values"][("label", 500)] == "s500"
    assert stored["values"][("flag", 0)] is True
    assert stored["values"][("none", 1000)] is None


def test_one_batch_is_stored_exactly(sink: Any) -> None:
    sink.apply(KEY, make_records(2500))
    check(contents(sink), 2500)


def test_many_batches_with_resends_are_applied_exactly_once(sink: Any) -> None:
    records = make_records(2500)
    position = 0
    while position < len(records):
        end = min(position + 337, len(records))
        start = max(0, position - 50)  # every batch re-sends 50 records already applied
        sink.apply(KEY, records[start:end])
        position = end
    sink.apply(KEY, records)  # and the whole log once more
    check(contents(sink), 2500)
    assert sink.applied_seq(KEY) == records[-1].seq


def test_a_new_writer_continues_open_chunks_from_the_store(sink: Any, tmp_path: Path) -> None:
    records = make_records(1500)
    sink.apply(KEY, records[:700])
    other = StoreWriter(sink.location)  # e.g. a resumed process or `kiseki sync`
    try:
        other.apply(KEY, records)
    finally:
        other.close()
    check(contents(sink), 1500)


def test_records_of_an_unknown_run_are_refused_clearly(sink: Any) -> None:
    from kiseki.errors import StoreError

    with pytest.raises(StoreError, match="kiseki sync"):
        sink.apply(RunKey("me", "proj", f"x{uuid.uuid4().hex[:6]}"), make_records(3)[1:])
