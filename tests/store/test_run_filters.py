"""MongoDB-style filters and orders over runs, on every store backend."""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.dialects import postgresql, sqlite
from store_builder import BASE_TIME, StoreBuilder

from kiseki.errors import UsageError
from kiseki.store.filters import FIELDS, RunQueryCompiler, to_epoch
from kiseki.store.schema import runs


@pytest.fixture(scope="module")
def five_runs(module_store: StoreBuilder) -> StoreBuilder:
    """r1..r5, created a minute apart; r3 is running and r4 has crashed."""
    store = module_store
    store.log_run(
        "r1",
        name="alpha",
        config={"lr": 0.1, "batch": 32, "opt": {"name": "adam"}, "aug": True, "arch": "resnet"},
        summary={"train/loss": 0.5, "acc": 0.8},
        tags=["baseline", "gpu"],
        group="g1",
        job_type="train",
    )
    store.log_run(
        "r2",
        name="beta",
        config={"lr": 0.01, "batch": 64, "opt": {"name": "sgd"}, "aug": False, "arch": "vit"},
        summary={"train/loss": 0.3, "acc": 0.9},
        tags=["gpu"],
        group="g1",
        job_type="eval",
        exit_code=1,
    )
    store.log_run(
        "r3",
        name="gamma",
        config={"lr": 0.001, "batch": "auto", "arch": "resnet"},
        summary={"train/loss": math.nan, "acc": 0.95},
        job_type="train",
        exit_code=None,
    )
    store.log_run(
        "r4",
        name="Delta",
        config={"lr": "1e-3", "arch": "mlp"},
        tags=["cpu"],
        exit_code=None,
    )
    store.log_run(
        "r5",
        name="epsilon",
        config={"lr": None},
        summary={"acc": 0.7, "train/loss": 0.1},
        tags=["baseline"],
    )
    store.set_heartbeat("r4", time.time() - 3600)
    return store


def ids(store: StoreBuilder, filters: Any = None, order: Any = "+created_at") -> list[str]:
    return [run.run_id for run in store.queries.runs("alice", "mnist", filters, order)]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"state": "finished"}, ["r1", "r5"]),
        ({"state": "failed"}, ["r2"]),
        ({"state": "running"}, ["r3"]),
        ({"state": "crashed"}, ["r4"]),
        ({"state": {"$in": ["running", "crashed"]}}, ["r3", "r4"]),
        ({"state": {"$ne": "finished"}}, ["r2", "r3", "r4"]),
        ({"display_name": "beta"}, ["r2"]),
        ({"name": {"$regex": "^[ab]"}}, ["r1", "r2"]),
        ({"display_name": {"$regex": "^d", "$options": "i"}}, ["r4"]),
        ({"id": {"$in": ["r1", "r5", "nope"]}}, ["r1", "r5"]),
        ({"group": "g1"}, ["r1", "r2"]),
        ({"group": None}, ["r3", "r4", "r5"]),
        ({"group": {"$ne": "g1"}}, ["r3", "r4", "r5"]),
        ({"group": {"$exists": False}}, ["r3", "r4", "r5"]),
        ({"job_type": {"$nin": ["train"]}}, ["r2", "r4", "r5"]),
        ({"jobType": "eval"}, ["r2"]),
    ],
)
def test_run_columns(five_runs: StoreBuilder, filters: Any, expected: list[str]) -> None:
    assert ids(five_runs, filters) == expected


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"config.lr": 0.1}, ["r1"]),
        ({"config.lr": {"$eq": 0.01}}, ["r2"]),
        ({"config.lr": {"$ne": 0.1}}, ["r2", "r3", "r4", "r5"]),
        ({"config.lr": {"$gt": 0.005}}, ["r1", "r2"]),
        ({"config.lr": {"$gte": 0.01}}, ["r1", "r2"]),
        ({"config.lr": {"$lt": 0.01}}, ["r3"]),
        ({"config.lr": {"$lte": 0.01, "$gt": 0.001}}, ["r2"]),
        ({"config.batch": {"$gte": 32}}, ["r1", "r2"]),
        ({"config.batch": 32}, ["r1"]),
        ({"config.batch": "auto"}, ["r3"]),
        ({"config.lr": "1e-3"}, ["r4"]),
        ({"config.arch": {"$gt": "n"}}, ["r1", "r2", "r3"]),
        ({"config.arch": {"$lt": "n"}}, ["r4"]),
        ({"config.arch": {"$in": ["resnet", "mlp"]}}, ["r1", "r3", "r4"]),
        ({"config.arch": {"$nin": ["resnet", "mlp"]}}, ["r2", "r5"]),
        ({"config.arch": {"$regex": "^res"}}, ["r1", "r3"]),
        ({"config.aug": True}, ["r1"]),
        ({"config.aug": False}, ["r2"]),
        ({"config.aug": 1}, []),
        ({"config.aug": {"$ne": True}}, ["r2", "r3", "r4", "r5"]),
        ({"config.opt.name": "adam"}, ["r1"]),
        ({"config.opt": {"$exists": True}}, ["r1", "r2"]),
        ({"config.batch": {"$exists": False}}, ["r4", "r5"]),
        ({"config.lr": {"$exists": True}}, ["r1", "r2", "r3", "r4", "r5"]),
        ({"config.lr": None}, ["r5"]),
        ({"config.opt.name": None}, ["r3", "r4", "r5"]),
        ({"config.opt.name": {"$ne": None}}, ["r1", "r2"]),
        ({"config.lr": {"$in": [0.1, "1e-3", None]}}, ["r1", "r4", "r5"]),
    ],
)
def test_config_paths(five_runs: StoreBuilder, filters: Any, expected: list[str]) -> None:
    assert ids(five_runs, filters) == expected


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"summary_metrics.train/loss": {"$lt": 0.4}}, ["r2", "r5"]),
        ({"summary.train/loss": {"$gte": 0.3}}, ["r1", "r2"]),
        ({"summary_metrics.acc": {"$gt": 0.75}}, ["r1", "r2", "r3"]),
        ({"summary_metrics.acc": {"$exists": False}}, ["r4"]),
        ({"summary_metrics.train/loss": {"$exists": True}}, ["r1", "r2", "r3", "r5"]),
    ],
)
def test_summary_keys_with_slashes(
    five_runs: StoreBuilder, filters: Any, expected: list[str]
) -> None:
    assert ids(five_runs, filters) == expected


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"tags": "baseline"}, ["r1", "r5"]),
        ({"tags": {"$eq": "gpu"}}, ["r1", "r2"]),
        ({"tags": {"$ne": "gpu"}}, ["r3", "r4", "r5"]),
        ({"tags": {"$in": ["cpu", "gpu"]}}, ["r1", "r2", "r4"]),
        ({"tags": {"$nin": ["gpu", "baseline"]}}, ["r3", "r4"]),
        ({"tags": {"$regex": "^gp"}}, ["r1", "r2"]),
        ({"tags": "missing"}, []),
    ],
)
def test_tags(five_runs: StoreBuilder, filters: Any, expected: list[str]) -> None:
    assert ids(five_runs, filters) == expected


def test_created_at_accepts_epoch_iso_and_datetime(five_runs: StoreBuilder) -> None:
    third = BASE_TIME + 120.0  # r3
    iso = datetime.fromtimestamp(third, tz=timezone.utc).isoformat().replace("+00:00", "Z")
    assert ids(five_runs, {"created_at": {"$gte": third}}) == ["r3", "r4", "r5"]
    assert ids(five_runs, {"created_at": {"$gte": iso}}) == ["r3", "r4", "r5"]
    assert ids(five_runs, {"createdAt": {"$lt": "2023-11-14T22:14:20+00:00"}}) == ["r1"]
    naive = datetime(2023, 11, 14, 22, 15, 20)  # naive means UTC
    assert ids(five_runs, {"created_at": {"$lte": naive}}) == ["r1", "r2", "r3"]
    assert ids(five_runs, {"created_at": iso}) == ["r3"]
    with pytest.raises(UsageError, match="ISO-8601"):
        ids(five_runs, {"created_at": {"$gt": "yesterday"}})


def test_and_or_nesting(five_runs: StoreBuilder) -> None:
    filters = {
        "$or": [
            {"state": "failed"},
            {"$and": [{"tags": "baseline"}, {"summary_metrics.acc": {"$gt": 0.75}}]},
        ]
    }
    assert ids(five_runs, filters) == ["r1", "r2"]
    assert ids(five_runs, {"$and": [{"group": "g1"}], "config.lr": {"$lt": 0.05}}) == ["r2"]
    assert ids(five_runs, {}) == ids(five_runs, None) == ["r1", "r2", "r3", "r4", "r5"]


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("+created_at", ["r1", "r2", "r3", "r4", "r5"]),
        ("-created_at", ["r5", "r4", "r3", "r2", "r1"]),
        ("created_at", ["r1", "r2", "r3", "r4", "r5"]),
        ("+display_name", ["r4", "r1", "r2", "r5", "r3"]),
        ("-summary_metrics.acc", ["r3", "r2", "r1", "r5", "r4"]),
        ("+summary_metrics.acc", ["r5", "r1", "r2", "r3", "r4"]),
        # NaN is no number: it sorts with the missing values
        ("+summary_metrics.train/loss", ["r5", "r2", "r1", "r3", "r4"]),
        ("-summary.train/loss", ["r1", "r2", "r5", "r4", "r3"]),
        # numbers, then strings, then missing/null, either way
        ("+config.lr", ["r3", "r2", "r1", "r4", "r5"]),
        ("-config.lr", ["r1", "r2", "r3", "r4", "r5"]),
        ("+group", ["r1", "r2", "r3", "r4", "r5"]),
        ("-group", ["r2", "r1", "r5", "r4", "r3"]),
        ("+state", ["r4", "r2", "r1", "r5", "r3"]),
        (["+config.arch", "-created_at"], ["r4", "r3", "r1", "r2", "r5"]),
    ],
)
def test_order(five_runs: StoreBuilder, order: Any, expected: list[str]) -> None:
    assert ids(five_runs, None, order) == expected


def test_limit_offset_and_count(five_runs: StoreBuilder) -> None:
    queries = five_runs.queries
    page = queries.runs(
        "alice", "mnist", {"tags": {"$ne": "cpu"}}, "-created_at", limit=2, offset=1
    )
    assert [r.run_id for r in page] == ["r3", "r2"]
    assert queries.count_runs("alice", "mnist", {"tags": {"$ne": "cpu"}}) == 4
    assert queries.count_runs("alice", "other") == 0


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"colour": "red"}, "Unknown run field 'colour'.*config.<key>"),
        ({"config": 1}, "needs a key after 'config.'"),
        ({"config.lr": {"$near": 1}}, r"Unknown operator '\$near'.*\$regex"),
        ({"$nor": [{"state": "x"}]}, r"Unknown operator '\$nor'.*\$and or \$or"),
        ({"$or": {"state": "x"}}, "non-empty list"),
        ({"$and": []}, "non-empty list"),
        ({"config.lr": {"$in": 0.1}}, "list of values"),
        ({"config.lr": {"$exists": 1}}, "True or False"),
        ({"config.lr": {"$gt": None}}, "number or a string"),
        ({"config.lr": {"$gt": True}}, "number or a string"),
        ({"config.lr": [1, 2]}, "compares to a number, a string"),
        ({"config.lr": {"lt": 1}}, "dict of operators"),
        ({"config.lr": {"$regex": "("}}, "not a valid pattern"),
        ({"config.lr": {"$options": "i"}}, r"needs a \$regex"),
        ({"config.lr": {"$regex": "a", "$options": "x"}}, "supports only 'i'"),
        ({"state": 1}, "compares to strings"),
        ({"runtime": "long"}, "compares to numbers"),
        ({"runtime": {"$regex": "1"}}, "text fields"),
        ({"tags": ["a", "b"]}, "tag strings"),
        ({"tags": {"$gt": "a"}}, "tags supports"),
        (["state"], "must be a dict"),
    ],
)
def test_bad_filters_say_what_is_wrong(five_runs: StoreBuilder, filters: Any, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        ids(five_runs, filters)


@pytest.mark.parametrize(
    ("order", "message"),
    [("-", "field name with"), ("+tags", "ordered by tags"), ("-colour", "Unknown run field")],
)
def test_bad_orders(five_runs: StoreBuilder, order: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        ids(five_runs, None, order)


def test_postgresql_guards_casts_and_uses_jsonb_containment() -> None:
    compiler = RunQueryCompiler("postgresql", cutoff=0.0)
    condition = compiler.where({"config.lr": {"$gt": 0.1}, "tags": "gpu"})
    sql = str(condition.compile(dialect=postgresql.dialect()))
    # the cast to a number only happens when the JSON value is a number
    assert sql.startswith("coalesce(CASE WHEN (jsonb_typeof((runs.config #>")
    assert sql.index("jsonb_typeof") < sql.index("THEN CAST(") < sql.index("AS FLOAT)")
    assert "runs.tags @>" in sql
    order = compiler.order_by("-summary_metrics.train/loss")
    assert "jsonb_typeof" in str(order[0].compile(dialect=postgresql.dialect()))


def test_sqlite_paths_quote_every_key() -> None:
    compiler = RunQueryCompiler("sqlite", cutoff=0.0)
    condition = compiler.where({"summary_metrics.train/loss.p\\.50": 1})
    compiled = condition.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
    assert '$."train/loss"."p.50"' in str(compiled)
    assert compiler.field("summary.a").expr is runs.c.summary


def test_to_epoch() -> None:
    assert to_epoch(5) == 5.0
    assert to_epoch("1970-01-01T00:01:00+00:00") == 60.0
    assert to_epoch(datetime(1970, 1, 1, 0, 2, tzinfo=timezone.utc)) == 120.0
    with pytest.raises(UsageError):
        to_epoch(True)


def test_every_listed_field_resolves_and_is_documented() -> None:
    compiler = RunQueryCompiler("sqlite", cutoff=0.0)
    docs = (Path(__file__).resolve().parents[2] / "docs" / "read-api.md").read_text()
    for name in FIELDS:
        compiler.field(name.replace("<key>", "x"))
        assert f"`{name.split('.')[0]}" in docs, f"{name} is not in docs/read-api.md"
