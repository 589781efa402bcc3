"""Chart series: whole when short, min/max-downsampled (spikes kept) when long, on both stores."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from kiseki.errors import UsageError
from kiseki.runlog.records import HistoryRow, RunStarted
from kiseki.store.applier import RunKey
from kiseki.store.database import StoreLocation
from kiseki.store.ingest import StoreWriter
from kiseki.store.queries import StoreQueries
from kiseki.store.series import SeriesReader, _minmax_indices


class Store:
    """A store (SQLite or PostgreSQL) that runs are logged into, and a series reader on it."""

    def __init__(self, location: StoreLocation) -> None:
        self.writer = StoreWriter(location)
        self.queries = StoreQueries(self.writer.engine)
        self.reader = SeriesReader(self.queries.reading)

    def log(self, run_id: str, rows: list[dict], start_step: int = 0) -> int:
        """Log ``rows`` at consecutive steps; returns the run's pk."""
        key = RunKey("alice", "charts", run_id)
        seq = self.writer.applied_seq(key)
        records: list = []
        if seq == 0:
            records.append(RunStarted(1, run_id, "charts", "alice", run_id, time.time()))
            seq = 1
        for offset, values in enumerate(rows):
            step = start_step + offset
            seq += 1
            records.append(HistoryRow(seq, step, 1e9 + step, float(step), values))
        for start in range(0, len(records), 20_000):
            self.writer.apply(key, records[start : start + 20_000])
        record = self.queries.run("alice", "charts", run_id)
        assert record is not None
        return record.pk


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store on each backend (PostgreSQL skipped where none answers, except in CI)."""
    if request.param == "sqlite":
        built = Store(StoreLocation.in_dir(tmp_path))
    else:
        built = Store(StoreLocation.parse(request.getfixturevalue("postgres_url")))
        with built.writer.engine.begin() as conn:
            conn.execute(sa.text("TRUNCATE projects, runs, history_chunks, history_values CASCADE"))
    yield built
    built.writer.close()


def test_a_short_series_comes_back_whole(store: Store) -> None:
    pk = store.log("short", [{"loss": 1.0 / (1 + i), "acc": i} for i in range(50)])
    found = store.reader.read([pk], ["loss", "acc", "missing"], points=100)
    loss = found[(pk, "loss")]
    assert loss.steps == list(range(50)) and loss.xs == [float(s) for s in range(50)]
    assert loss.ys[3] == pytest.approx(0.25) and not loss.sampled and loss.last_step == 49
    assert found[(pk, "acc")].ys[-1] == 49.0
    assert (pk, "missing") not in found


def test_a_long_series_is_downsampled_from_chunk_statistics_and_keeps_every_spike(
    store: Store,
) -> None:
    rows = [{"loss": math.sin(i / 500)} for i in range(60_000)]
    rows[12_345]["loss"] = 50.0
    rows[40_001]["loss"] = -70.0
    pk = store.log("long", rows)
    series = store.reader.read([pk], ["loss"], points=100)[(pk, "loss")]
    assert series.sampled and len(series.steps) <= 102
    assert max(series.ys) == 50.0 and min(series.ys) == -70.0
    assert series.steps == sorted(series.steps) and series.last_step == 59_999
    assert series.steps[0] == 0 and series.steps[-1] == 59_999


def test_a_medium_series_is_downsampled_at_the_steps_of_its_extremes(store: Store) -> None:
    rows = [{"loss": float(i % 7)} for i in range(3_000)]
    rows[1_234]["loss"] = 99.0
    pk = store.log("medium", rows)
    series = store.reader.read([pk], ["loss"], points=200)[(pk, "loss")]
    assert series.sampled and len(series.steps) <= 202
    assert series.ys[series.steps.index(1_234)] == 99.0
    assert series.steps[0] == 0 and series.steps[-1] == 2_999


def test_a_zoomed_range_is_exact_and_live_updates_read_only_new_points(store: Store) -> None:
    pk = store.log("zoom", [{"loss": float(i)} for i in range(30_000)])
    zoomed = store.reader.read([pk], ["loss"], points=1_000, min_step=12_000, max_step=12_500)
    series = zoomed[(pk, "loss")]
    assert series.steps == list(range(12_000, 12_501)) and not series.sampled
    store.log("zoom", [{"loss": -1.0} for _ in range(5)], start_step=30_000)
    newer = store.reader.read([pk], ["loss"], after_steps={pk: {"loss": 29_999}})[(pk, "loss")]
    assert newer.steps == list(range(30_000, 30_005)) and newer.ys == [-1.0] * 5
    assert newer.last_step == 30_004


def test_nan_and_infinity_are_gaps_and_other_x_axes_use_the_last_value_logged(
    store: Store,
) -> None:
    rows = [{"loss": float(i)} for i in range(30)]
    rows[3]["loss"] = math.nan
    rows[4]["loss"] = math.inf
    for i in range(0, 30, 10):
        rows[i]["epoch"] = i // 10
    pk = store.log("gaps", rows)
    series = store.reader.read([pk], ["loss"], x_axis="epoch")[(pk, "loss")]
    assert math.isnan(series.ys[3]) and math.isnan(series.ys[4])
    assert series.xs[:12] == [0.0] * 10 + [1.0, 1.0]
    assert store.reader.numeric_keys([pk])[pk] == ["_runtime", "_timestamp", "epoch", "loss"]


def test_points_must_be_a_sensible_number() -> None:
    reader = SeriesReader(lambda: None)  # type: ignore[arg-type, return-value]
    with pytest.raises(UsageError, match="points must be an integer from 2"):
        reader.read([1], ["loss"], points=1)


def test_minmax_indices_keep_first_last_and_each_slices_extremes() -> None:
    values = np.array([0.0, 5.0, 1.0, 2.0, -3.0, 1.0, np.nan, np.nan])
    assert _minmax_indices(values, 2).tolist() == [0, 1, 4, 5, 7]
