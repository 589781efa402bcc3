"""Projects, single runs, and the edits the read API makes (update, delete)."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from store_builder import BASE_TIME, StoreBuilder

from kiseki.errors import StoreError, UsageError
from kiseki.store.database import StoreLocation, create_store_engine
from kiseki.store.queries import StoreQueries
from kiseki.store.schema import history_chunks, history_values


def test_projects_count_runs_per_entity(store: StoreBuilder) -> None:
    store.log_run("a1", project="mnist", entity="alice")
    store.log_run("a2", project="mnist", entity="alice", exit_code=None)
    store.log_run("b1", project="mnist", entity="bob")
    store.log_run("b2", project="cifar", entity="bob")
    found = [(p.entity, p.name, p.run_count) for p in store.queries.projects()]
    assert found == [("alice", "mnist", 2), ("bob", "cifar", 1), ("bob", "mnist", 1)]
    assert [p.name for p in store.queries.projects("bob")] == ["cifar", "mnist"]
    project = store.queries.project("alice", "mnist")
    assert project is not None
    assert project.created_at <= project.last_activity <= time.time() + 1
    assert store.queries.project("alice", "cifar") is None
    assert store.queries.entities_with_project("mnist") == ["alice", "bob"]


def test_run_record(store: StoreBuilder) -> None:
    store.log_run(
        "r1",
        name="first",
        config={"lr": 0.1},
        summary={"loss": math.nan, "big": 2**70},
        tags=["x"],
        group="g",
        job_type="train",
        notes="hello",
        rows=[{"loss": 1.0}, {"loss": 0.5}],
        exit_code=3,
    )
    run = store.queries.run("alice", "mnist", "r1")
    assert run is not None
    assert (run.entity, run.project, run.run_id, run.name) == ("alice", "mnist", "r1", "first")
    assert (run.state, run.stored_state, run.exit_code) == ("failed", "failed", 3)
    assert run.config == {"lr": 0.1} and run.tags == ["x"]
    assert math.isnan(run.summary["loss"]) and run.summary["big"] == 2**70
    assert (run.group, run.job_type, run.notes, run.author) == ("g", "train", "hello", "alice")
    assert (run.last_step, run.history_rows, run.runtime) == (1, 2, 2.0)
    assert run.created_at == BASE_TIME and run.finished_at == BASE_TIME + 2
    assert store.queries.run("alice", "mnist", "r2") is None
    assert store.queries.run_by_pk(run.pk) == run


def test_crashed_is_computed_from_the_heartbeat(store: StoreBuilder) -> None:
    store.log_run("alive", exit_code=None)
    store.log_run("dead", exit_code=None)
    store.set_heartbeat("dead", time.time() - 61)
    assert store.queries.run("alice", "mnist", "alive").state == "running"  # type: ignore[union-attr]
    dead = store.queries.run("alice", "mnist", "dead")
    assert dead is not None and (dead.state, dead.stored_state) == ("crashed", "running")
    store.queries.heartbeat_timeout = 3600.0
    assert store.queries.run("alice", "mnist", "dead").state == "running"  # type: ignore[union-attr]


def test_run_ids_for_hints(store: StoreBuilder) -> None:
    for i in range(7):
        store.log_run(f"r{i}", name="same" if i % 2 else f"name{i}")
    assert store.queries.run_ids("alice", "mnist") == ["r6", "r5", "r4", "r3", "r2"]
    assert store.queries.run_ids("alice", "mnist", name="same") == ["r5", "r3", "r1"]


def test_update_run_changes_only_what_it_is_given(store: StoreBuilder) -> None:
    key = store.log_run("r1", config={"lr": 0.1}, summary={"acc": 0.5}, tags=["a"], group="g")
    pk = store.pk(key)
    changes: dict[str, Any] = {
        "name": "renamed",
        "notes": "n",
        "tags": ["a", "b", "a"],
        "config": {"lr": 0.2, "nested": {"x": [1, 2]}},
        "summary": {"acc": math.inf, "loss": math.nan},
        "group": None,
        "job_type": "eval",
    }
    assert store.queries.update_run(pk, changes)
    run = store.queries.run_by_pk(pk)
    assert run is not None
    assert (run.name, run.notes, run.tags, run.group, run.job_type) == (
        "renamed",
        "n",
        ["a", "b"],
        None,
        "eval",
    )
    assert run.config == {"lr": 0.2, "nested": {"x": [1, 2]}}
    assert run.summary["acc"] == math.inf and math.isnan(run.summary["loss"])
    assert store.queries.update_run(pk, {"notes": None})
    after = store.queries.run_by_pk(pk)
    assert after is not None and after.notes is None and after.name == "renamed"
    assert store.queries.runs("alice", "mnist", {"tags": "b", "config.nested.x": {"$exists": True}})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"state": "finished"}, "cannot be changed.*editable fields are name"),
        ({"name": ""}, "non-empty string"),
        ({"tags": "a,b"}, "list of strings"),
        ({"tags": ["a", 1]}, "list of strings"),
        ({"config": [1]}, "must be a dict"),
        ({"summary": {"x": object()}}, "JSON values"),
        ({"notes": 5}, "string or None"),
    ],
)
def test_update_run_checks_values(store: StoreBuilder, changes: Any, message: str) -> None:
    pk = store.pk(store.log_run("r1"))
    with pytest.raises(UsageError, match=message):
        store.queries.update_run(pk, changes)


def test_update_and_delete_of_a_missing_run(store: StoreBuilder) -> None:
    assert store.queries.update_run(12345, {"name": "x"}) is False
    assert store.queries.update_run(12345, {}) is False
    assert store.queries.delete_run(12345) is False


def test_delete_run_removes_its_history(store: StoreBuilder) -> None:
    doomed = store.pk(store.log_run("doomed", rows=[{"loss": 1.0, "text": "a"}] * 1500))
    kept = store.pk(store.log_run("kept", rows=[{"loss": 1.0, "text": "a"}] * 3))
    assert store.queries.delete_run(doomed)
    assert store.queries.run("alice", "mnist", "doomed") is None
    with store.engine.connect() as conn:
        for table in (history_chunks, history_values):
            owners = conn.scalars(sa.select(table.c.run_pk).distinct()).all()
            assert owners == [kept]
    assert [p.run_count for p in store.queries.projects()] == [1]
    assert len(list(store.queries.history(kept).scan())) == 3


def test_database_errors_become_store_errors(tmp_path: Path) -> None:
    engine = create_store_engine(StoreLocation.for_sqlite(tmp_path / "not-a-store.db"))
    queries = StoreQueries(engine)
    with pytest.raises(StoreError, match=r"Could not read the kiseki store .*no such table"):
        queries.projects()
    with pytest.raises(StoreError, match="Could not write"):
        queries.delete_run(1)
    with pytest.raises(StoreError, match="Could not read"):
        list(queries.history(1).scan())
    engine.dispose()
