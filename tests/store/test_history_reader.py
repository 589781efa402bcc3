"""Reading history back: every row exactly as logged, across chunks, and even samples."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
from store_builder import BASE_TIME, StoreBuilder

from kiseki.errors import UsageError
from kiseki.store.history import HistoryReader, _spread
from kiseki.store.schema import CHUNK_SIZE

ROWS = 2500  # three chunks per series with CHUNK_SIZE = 1000


def logged_row(step: int) -> dict[str, Any]:
    """What step ``step`` of the test run logged."""
    row: dict[str, Any] = {"loss": 1.0 / (step + 1), "epoch": step // 100, "train/acc": step * 1e-3}
    if step % 10 == 0:
        row["sparse"] = step * 0.5
    if step % 250 == 0:
        row["note"] = f"step {step}"
    specials = {
        3: math.nan,
        4: math.inf,
        5: -math.inf,
        999: "diverged",  # the same key turns non-numeric for a row
        1000: None,
        1001: True,
        1002: [1, "two", None],
        1003: 2**70,  # beyond int64: kept exactly
    }
    if step in specials:
        row["loss"] = specials[step]
    if step == 7:
        row["epoch"] = -(2**63)
    return row


def expected_row(step: int) -> dict[str, Any]:
    return {
        "_step": step,
        **logged_row(step),
        "_runtime": float(step),
        "_timestamp": BASE_TIME + step,
    }


def same(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN, and of the same type (an int is no float)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def assert_rows(actual: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        assert set(got) == set(want), (got, want)
        assert all(same(got[k], want[k]) for k in want), (got, want)


@pytest.fixture(scope="module")
def logged(module_store: StoreBuilder) -> tuple[StoreBuilder, HistoryReader]:
    key = module_store.log_run(
        "hist", created_at=BASE_TIME, rows=[logged_row(s) for s in range(ROWS)]
    )
    module_store.log_run("empty", created_at=BASE_TIME)
    return module_store, module_store.queries.history(module_store.pk(key))


def test_scan_yields_every_row_exactly(logged: tuple[StoreBuilder, HistoryReader]) -> None:
    _, reader = logged
    rows = list(reader.scan())
    assert_rows(rows, [expected_row(s) for s in range(ROWS)])
    assert type(rows[7]["epoch"]) is int and rows[7]["epoch"] == -(2**63)
    assert rows[1003]["loss"] == 2**70


def test_scan_reads_a_page_of_chunks_at_a_time(
    logged: tuple[StoreBuilder, HistoryReader], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, reader = logged
    fetched: list[int] = []
    original = HistoryReader._chunks

    def spy(self: HistoryReader, conn: Any, needed: dict[str, list[int]]) -> Any:
        fetched.append(sum(len(v) for v in needed.values()))
        return original(self, conn, needed)

    monkeypatch.setattr(HistoryReader, "_chunks", spy)
    series = len(reader.keys()) - 1  # "note" is never numeric
    assert sum(1 for _ in reader.scan(page_size=CHUNK_SIZE)) == ROWS
    assert len(fetched) == 3  # one page per chunk of rows
    assert max(fetched) <= series
    assert sum(fetched) == 5 * 3 + 1  # every chunk once: "sparse" has 250 points, one chunk


def test_scan_min_step_inclusive_max_step_exclusive(
    logged: tuple[StoreBuilder, HistoryReader],
) -> None:
    _, reader = logged
    rows = list(reader.scan(min_step=998, max_step=1004))
    assert_rows(rows, [expected_row(s) for s in range(998, 1004)])
    assert [r["_step"] for r in reader.scan(min_step=2490)] == list(range(2490, ROWS))
    assert [r["_step"] for r in reader.scan(max_step=3)] == [0, 1, 2]
    assert list(reader.scan(min_step=10, max_step=10)) == []
    assert list(reader.scan(min_step=5000)) == []


@pytest.mark.parametrize("page_size", [1, 999, 1500, 10_000])
def test_scan_page_size_changes_nothing(
    logged: tuple[StoreBuilder, HistoryReader], page_size: int
) -> None:
    _, reader = logged
    steps = [row["_step"] for row in reader.scan(min_step=900, max_step=2100, page_size=page_size)]
    assert steps == list(range(900, 2100))


def test_scan_with_keys_yields_rows_having_all_of_them(
    logged: tuple[StoreBuilder, HistoryReader],
) -> None:
    _, reader = logged
    rows = list(reader.scan(keys=["sparse", "note"]))
    assert rows == [
        {"_step": s, "sparse": s * 0.5, "note": f"step {s}"} for s in range(0, ROWS, 250)
    ]
    loss = list(reader.scan(keys=["loss"], min_step=998, max_step=1004))
    assert_rows(loss, [{"_step": s, "loss": logged_row(s)["loss"]} for s in range(998, 1004)])
    assert list(reader.scan(keys=["no such key"])) == []
    assert len(list(reader.scan(keys=["_step"]))) == ROWS


def test_scan_of_a_run_without_history(logged: tuple[StoreBuilder, HistoryReader]) -> None:
    store, _ = logged
    reader = store.queries.history(store.pk(store.queries.run("alice", "mnist", "empty")))  # type: ignore[arg-type]
    assert list(reader.scan()) == []
    assert reader.sample() == (["_step"], [])
    assert reader.keys() == []


def test_scan_checks_its_arguments(logged: tuple[StoreBuilder, HistoryReader]) -> None:
    _, reader = logged
    with pytest.raises(UsageError, match="page_size"):
        reader.scan(page_size=0)
    with pytest.raises(UsageError, match="min_step"):
        reader.scan(min_step=1.5)  # type: ignore[arg-type]


def test_keys(logged: tuple[StoreBuilder, HistoryReader]) -> None:
    _, reader = logged
    assert reader.keys() == [
        "_runtime",
        "_timestamp",
        "epoch",
        "loss",
        "note",
        "sparse",
        "train/acc",
    ]


def test_sample_spreads_rows_evenly_and_keeps_first_and_last(
    logged: tuple[StoreBuilder, HistoryReader],
) -> None:
    _, reader = logged
    columns, rows = reader.sample(samples=11)
    assert columns == [
        "_step",
        "epoch",
        "loss",
        "note",
        "sparse",
        "train/acc",
        "_runtime",
        "_timestamp",
    ]
    assert [r["_step"] for r in rows] == [round(i * 249.9) for i in range(11)]
    assert_rows(rows, [expected_row(r["_step"]) for r in rows])
    _, everything = reader.sample(samples=ROWS)
    assert_rows(everything, [expected_row(s) for s in range(ROWS)])
    _, last = reader.sample(samples=1)
    assert [r["_step"] for r in last] == [ROWS - 1]


def test_sample_with_keys_and_x_axis(logged: tuple[StoreBuilder, HistoryReader]) -> None:
    _, reader = logged
    columns, rows = reader.sample(samples=3, keys=["sparse"], x_axis="epoch")
    assert columns == ["sparse", "epoch", "_step"]
    assert rows == [
        {"sparse": 0.0, "epoch": 0, "_step": 0},
        {"sparse": 620.0, "epoch": 12, "_step": 1240},
        {"sparse": 1245.0, "epoch": 24, "_step": 2490},
    ]
    columns, rows = reader.sample(samples=5, keys=["note", "loss"])
    assert columns == ["note", "loss", "_step"]
    assert [r["_step"] for r in rows] == [0, 500, 1000, 1750, 2250]
    assert rows[2] == {"note": "step 1000", "loss": None, "_step": 1000}
    assert reader.sample(keys=["nope"]) == (["nope", "_step"], [])


def test_sample_streams(logged: tuple[StoreBuilder, HistoryReader]) -> None:
    store, _ = logged
    key = store.log_run(
        "sys",
        rows=[{"loss": 1.0}, {"system/cpu": 50.0}, {"loss": 0.5, "system.gpu.0.temp": 60}],
    )
    reader = store.queries.history(store.pk(key))
    columns, rows = reader.sample(stream="system")
    assert columns == ["_step", "system.gpu.0.temp", "system/cpu", "_runtime", "_timestamp"]
    assert [sorted(r) for r in rows][1] == ["_runtime", "_step", "_timestamp", "system/cpu"]
    columns, _ = reader.sample()
    assert columns == ["_step", "loss", "_runtime", "_timestamp"]
    with pytest.raises(UsageError, match="stream"):
        reader.sample(stream="gpu")
    with pytest.raises(UsageError, match="samples"):
        reader.sample(samples=0)


def test_spread() -> None:
    assert _spread([1, 2, 3], 5) == [1, 2, 3]
    assert _spread(list(range(10)), 2) == [0, 9]
    assert _spread(list(range(10)), 4) == [0, 3, 6, 9]


def test_sampling_a_wide_run_is_fast(sqlite_store: StoreBuilder) -> None:
    keys = [f"metric_{i}" for i in range(10)]
    rows = [{k: step * 0.1 + i for i, k in enumerate(keys)} for step in range(10_000)]
    run = sqlite_store.log_run("wide", rows=rows)
    reader = sqlite_store.queries.history(sqlite_store.pk(run))
    reader.sample()  # warm SQLAlchemy's statement cache
    started = time.perf_counter()
    columns, sampled = reader.sample(samples=500)
    elapsed = time.perf_counter() - started
    assert len(columns) == 13 and len(sampled) == 500
    assert elapsed < 0.5, f"history of 10,000 rows x 12 keys took {elapsed:.3f} s"
