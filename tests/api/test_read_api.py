"""The public read API: Api, Project, Run over an embedded store."""

from __future__ import annotations

import math
import sqlite3
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from run_logger import BASE_TIME, RunLogger

from kiseki.api import Api, Project, Run, Runs
from kiseki.errors import NotFoundError, UsageError
from kiseki.runlog.records import SummaryChanged


def test_api_finds_the_store_from_settings(
    logger: RunLogger, monkeypatch: pytest.MonkeyPatch
) -> None:
    logger.log_run("r1", entity="team")
    monkeypatch.setenv("KISEKI_DIR", str(logger.directory))
    monkeypatch.setenv("KISEKI_ENTITY", "team")
    monkeypatch.setenv("KISEKI_HEARTBEAT_TIMEOUT", "5")
    with Api() as api:
        assert api.location.sqlite_path == logger.directory / "kiseki.db"
        assert (api.default_entity, api.heartbeat_timeout) == ("team", 5.0)
        assert api.run("mnist/r1").entity == "team"
    with Api(store=str(logger.directory / "kiseki.db"), entity="someone") as api:
        assert api.default_entity == "someone"
        assert [p.name for p in api.projects()] == ["mnist"]
    with pytest.raises(UsageError, match="not both"):
        Api(logger.directory, store="x.db")


def test_a_directory_without_a_store(tmp_path: Path) -> None:
    with Api(tmp_path / "nowhere") as api:
        assert api.projects() == []
        with pytest.raises(NotFoundError, match=r"no kiseki store at .*nowhere.*KISEKI_DIR"):
            api.runs("mnist")
    assert not (tmp_path / "nowhere").exists()


def test_projects(api: Api, logger: RunLogger) -> None:
    logger.log_run("r1")
    logger.log_run("r2", exit_code=None)
    logger.log_run("r3", project="cifar", entity="bob")
    projects = api.projects()
    assert [(p.entity, p.name, p.run_count) for p in projects] == [
        ("alice", "mnist", 2),
        ("bob", "cifar", 1),
    ]
    mnist = projects[0]
    assert isinstance(mnist, Project) and mnist.path == ["alice", "mnist"]
    assert mnist.created_at.tzinfo is timezone.utc
    assert mnist.created_at <= mnist.last_activity <= datetime.now(timezone.utc)
    assert [r.id for r in mnist.runs(order="-created_at")] == ["r2", "r1"]
    assert [p.name for p in api.projects("bob")] == ["cifar"]
    assert repr(mnist) == "<Project alice/mnist (2 runs)>"


def test_entity_resolution(api: Api, logger: RunLogger) -> None:
    logger.log_run("a", project="shared", entity="alice")
    logger.log_run("b", project="shared", entity="bob")
    logger.log_run("c", project="only-bob", entity="bob")
    logger.log_run("d", project="both", entity="bob")
    logger.log_run("e", project="both", entity="carol")
    assert api.project("shared").entity == "alice"  # the default entity wins
    assert api.project("shared", entity="bob").entity == "bob"
    assert api.project("only-bob").entity == "bob"  # the only entity that has it
    assert api.run("only-bob/c").path == ["bob", "only-bob", "c"]
    with pytest.raises(NotFoundError, match="several entities have one: bob/both, carol/both"):
        api.runs("both")
    assert [r.id for r in api.runs("carol/both")] == ["e"]
    with pytest.raises(
        NotFoundError, match=r"No project alice/only-bob.*It exists as: bob/only-bob"
    ):
        api.project("only-bob", entity="alice")
    with pytest.raises(NotFoundError, match=r"No project 'nope'.*Projects there: alice/shared"):
        api.project("nope")


def test_run_paths(api: Api, logger: RunLogger) -> None:
    logger.log_run("abc123", name="fancy-sun-1")
    for path in ("mnist/abc123", "alice/mnist/abc123", "alice/mnist/runs/abc123", "/mnist/abc123/"):
        assert api.run(path).id == "abc123"
    for bad in ("abc123", "a/b/c/d", "mnist//abc123", ""):
        with pytest.raises(UsageError, match="run path"):
            api.run(bad)
    with pytest.raises(UsageError, match="project path"):
        api.runs("alice/mnist/abc123")


def test_run_not_found_says_what_exists(api: Api, logger: RunLogger) -> None:
    logger.log_run("abc123", name="fancy-sun-1")
    logger.log_run("def456")
    with pytest.raises(NotFoundError, match=r"No run 'zzz'.*Newest run ids there: def456, abc123"):
        api.run("mnist/zzz")
    with pytest.raises(
        NotFoundError, match=r"named 'fancy-sun-1' has id 'abc123'.*alice/mnist/abc123"
    ):
        api.run("mnist/fancy-sun-1")


def test_runs_needs_a_project(api: Api, logger: RunLogger, monkeypatch: pytest.MonkeyPatch) -> None:
    logger.log_run("r1")
    with pytest.raises(UsageError, match="Name a project"):
        Api(logger.directory).runs()
    monkeypatch.setenv("KISEKI_PROJECT", "mnist")
    with Api(logger.directory, entity="alice") as with_default:
        runs = with_default.runs()
    assert isinstance(runs, Runs) and [r.id for r in runs] == ["r1"]


def test_runs_filters_and_order(api: Api, logger: RunLogger) -> None:
    logger.log_run("r1", config={"lr": 0.1}, summary={"val/acc": 0.8}, tags=["baseline"])
    logger.log_run("r2", config={"lr": 0.01}, summary={"val/acc": 0.9}, exit_code=1)
    logger.log_run("r3", config={"lr": 0.001})
    runs = api.runs("mnist", {"config.lr": {"$lt": 0.05}}, order="-summary_metrics.val/acc")
    assert [r.id for r in runs] == ["r2", "r3"]
    assert (len(runs), runs[0].id, [r.id for r in runs[:1]]) == (2, "r2", ["r2"])
    assert repr(runs) == "<Runs alice/mnist (2)>"
    assert [
        r.id for r in api.runs("alice/mnist", {"$or": [{"state": "failed"}, {"tags": "baseline"}]})
    ] == ["r1", "r2"]
    assert [r.id for r in api.runs("mnist", order="-created_at", limit=1)] == ["r3"]
    with pytest.raises(UsageError, match="Unknown run field 'lr'"):
        api.runs("mnist", {"lr": 0.1})


def test_run_attributes(api: Api, logger: RunLogger) -> None:
    logger.log_run(
        "r1",
        name="first",
        config={"lr": 0.1, "layers": [64, 64]},
        summary={"loss": math.nan, "acc": 0.9},
        rows=[{"loss": 1.0}, {"loss": 0.5}],
        tags=["a", "b"],
        notes="try",
        group="sweep",
        job_type="train",
        author="alice",
    )
    run = api.run("mnist/r1")
    assert isinstance(run, Run)
    assert (run.id, run.name, run.display_name, run.project, run.entity) == (
        "r1",
        "first",
        "first",
        "mnist",
        "alice",
    )
    assert run.path == ["alice", "mnist", "r1"]
    assert (run.state, run.exit_code, run.author) == ("finished", 0, "alice")
    assert run.config == {"lr": 0.1, "layers": [64, 64]}
    assert math.isnan(run.summary["loss"]) and run.summary_metrics["acc"] == 0.9
    assert (run.tags, run.notes, run.group, run.job_type) == (["a", "b"], "try", "sweep", "train")
    assert run.created_at == datetime.fromtimestamp(BASE_TIME, tz=timezone.utc)
    assert run.heartbeat_at.tzinfo is timezone.utc and run.finished_at is not None
    assert run.metadata == {} and run.metric_definitions == {}
    assert (run.runtime, run.duration, run.last_step, run.history_rows) == (99.0, 99.0, 1, 2)
    assert run.history_keys() == ["_runtime", "_timestamp", "loss"]
    assert repr(run) == "<Run alice/mnist/r1 (finished)>"


def test_running_run_without_heartbeat_reads_as_crashed(api: Api, logger: RunLogger) -> None:
    logger.log_run("alive", exit_code=None)
    logger.log_run("dead", exit_code=None)
    with sqlite3.connect(logger.directory / "kiseki.db") as conn:
        conn.execute("UPDATE runs SET heartbeat_at = ? WHERE run_id = 'dead'", (time.time() - 30,))
    conn.close()
    with Api(logger.directory, entity="alice", heartbeat_timeout=10) as strict:
        assert strict.run("mnist/dead").state == "crashed"
        assert strict.run("mnist/alive").state == "running"
        assert [r.id for r in strict.runs("mnist", {"state": "crashed"})] == ["dead"]
    assert api.run("mnist/dead").state == "running"  # the default timeout is 60 s


def test_history(api: Api, logger: RunLogger) -> None:
    rows = [{"loss": 1 / (s + 1), "epoch": s // 10} for s in range(100)]
    for step in range(0, 100, 25):
        rows[step]["sample"] = f"text {step}"
    logger.log_run("r1", rows=rows)
    run = api.run("mnist/r1")
    frame = run.history(samples=10)
    assert list(frame.columns) == ["_step", "epoch", "loss", "sample", "_runtime", "_timestamp"]
    assert len(frame) == 10 and frame["_step"].iloc[0] == 0 and frame["_step"].iloc[-1] == 99
    assert frame["epoch"].dtype.kind == "i"
    listed = run.history(keys=["sample"], x_axis="epoch", pandas=False)
    assert listed == [
        {"sample": f"text {s}", "epoch": s // 10, "_step": s} for s in (0, 25, 50, 75)
    ]
    assert list(run.history(keys=["loss"]).columns) == ["loss", "_step"]


def test_history_without_pandas(
    api: Api, logger: RunLogger, monkeypatch: pytest.MonkeyPatch
) -> None:
    logger.log_run("r1", rows=[{"loss": 1.0}, {"loss": 0.5}])
    monkeypatch.setitem(sys.modules, "pandas", None)  # "import pandas" now fails
    rows = api.run("mnist/r1").history()
    assert rows == [
        {"_step": 0, "loss": 1.0, "_runtime": 0.0, "_timestamp": BASE_TIME},
        {"_step": 1, "loss": 0.5, "_runtime": 0.5, "_timestamp": BASE_TIME + 1},
    ]


def test_scan_history(api: Api, logger: RunLogger) -> None:
    rows = [{"i": s, "x": s / 3, "s": str(s)} for s in range(1200)]
    rows[5]["x"] = math.inf
    rows[6]["x"] = None
    logger.log_run("r1", rows=rows)
    run = api.run("mnist/r1")
    scanned = list(run.scan_history())
    assert len(scanned) == 1200
    assert scanned[1100] == {
        "_step": 1100,
        "i": 1100,
        "s": "1100",
        "x": 1100 / 3,
        "_runtime": 550.0,
        "_timestamp": BASE_TIME + 1100,
    }
    assert scanned[5]["x"] == math.inf and scanned[6]["x"] is None
    assert all(type(row["i"]) is int for row in scanned)
    window = list(run.scan_history(keys=["i"], min_step=998, max_step=1002, page_size=2))
    assert window == [{"_step": s, "i": s} for s in range(998, 1002)]


def test_update_saves_changed_fields(api: Api, logger: RunLogger) -> None:
    logger.log_run("r1", config={"lr": 0.1}, summary={"acc": 0.5}, tags=["a"])
    run = api.run("mnist/r1")
    run.name = "renamed"
    run.notes = "best so far"
    run.tags.append("best")
    run.config["lr"] = 0.2
    run.summary["loss"] = math.nan
    run.group = "g"
    run.job_type = "eval"
    run.update()
    assert run.name == "renamed"
    with Api(logger.directory, entity="alice") as other:
        saved = other.run("mnist/r1")
    assert (saved.name, saved.notes, saved.tags, saved.group, saved.job_type) == (
        "renamed",
        "best so far",
        ["a", "best"],
        "g",
        "eval",
    )
    assert saved.config == {"lr": 0.2} and math.isnan(saved.summary["loss"])
    assert [r.id for r in api.runs("mnist", {"tags": "best", "display_name": "renamed"})] == ["r1"]


def test_update_leaves_unchanged_fields_alone(api: Api, logger: RunLogger) -> None:
    key = logger.log_run("r1", summary={"acc": 0.5}, exit_code=None)
    run = api.run("mnist/r1")
    logger.sink.apply(key, [SummaryChanged(3, {"acc": 0.7})])  # the live run moves on
    run.tags = ["checked"]
    run.update()
    assert run.summary == {"acc": 0.7} and run.tags == ["checked"]
    run.display_name = ""
    with pytest.raises(UsageError, match="non-empty string"):
        run.update()


def test_delete(api: Api, logger: RunLogger) -> None:
    logger.log_run("r1", rows=[{"loss": 1.0}] * 10)
    logger.log_run("r2")
    run = api.run("mnist/r1")
    stale = api.run("mnist/r1")
    run.delete()
    with pytest.raises(NotFoundError):
        api.run("mnist/r1")
    assert [r.id for r in api.runs("mnist")] == ["r2"]
    assert api.project("mnist").run_count == 1
    with pytest.raises(UsageError, match="was deleted"):
        run.update()
    with pytest.raises(UsageError, match="was deleted"):
        run.history()
    with pytest.raises(NotFoundError, match="no longer in the store"):
        stale.refresh()
    with pytest.raises(NotFoundError, match="no longer in the store"):
        stale.delete()


def test_a_postgresql_store(postgres_url: str) -> None:
    from kiseki.runlog.records import HistoryRow, RunFinished, RunStarted
    from kiseki.store.applier import RunKey
    from kiseki.store.database import StoreLocation
    from kiseki.store.ingest import StoreWriter

    writer = StoreWriter(StoreLocation.parse(postgres_url))
    rows = [HistoryRow(i + 2, i, BASE_TIME + i, float(i), {"loss": 1 / (i + 1)}) for i in range(5)]
    writer.apply(
        RunKey("alice", "pg-api", "r1"),
        [
            RunStarted(1, "r1", "pg-api", "alice", "on-postgres", BASE_TIME, config={"lr": 0.1}),
            *rows,
            RunFinished(7, 0, BASE_TIME + 5, 5.0),
        ],
    )
    writer.close()
    with Api(store=postgres_url, entity="alice") as api:
        assert "@" not in repr(api)  # no user name or password in messages
        run = api.run("pg-api/r1")
        assert (run.name, run.state, run.config) == ("on-postgres", "finished", {"lr": 0.1})
        assert [r["loss"] for r in run.scan_history()] == [1 / (i + 1) for i in range(5)]
        assert [r.id for r in api.runs("pg-api", {"config.lr": {"$gt": 0.05}})] == ["r1"]
