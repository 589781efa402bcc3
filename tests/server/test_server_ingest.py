"""Ingest: records applied exactly once, strict checks, limits that apply nothing."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from server_world import World, body, run_records

from kiseki import jsoncodec
from kiseki.runlog.records import HistoryRow
from kiseki.server.app import create_app
from kiseki.server.config import Limits, ServerConfig
from kiseki.server.ingest import IngestService, WriteGate
from kiseki.store.applier import RunKey
from kiseki.store.database import StoreLocation, create_store_engine

PATH = "alice/mnist/r1"


def test_records_become_a_run_with_its_history(any_world: World) -> None:
    answer = any_world.log_run("alice", "alice", "mnist", "r1", rows=5, summary={"loss": 0.2})
    assert answer == {"applied_seq": 7, "stop_requested": False}
    run = any_world.get("alice", f"runs/{PATH}").json()
    assert (run["name"], run["state"], run["author"], run["privacy"]) == (
        "r1-name",
        "running",
        "alice",
        "private",
    )
    assert run["config"] == {"lr": 0.1} and run["summary"] == {"loss": 0.2}
    assert (run["history_rows"], run["last_step"]) == (5, 4)
    rows = any_world.history("alice", PATH)
    assert [r["_step"] for r in rows] == [0, 1, 2, 3, 4]
    assert rows[2]["loss"] == pytest.approx(1 / 3) and rows[2]["acc"] == 2
    keys = any_world.get("alice", f"runs/{PATH}/history/keys").json()["keys"]
    assert keys == ["_runtime", "_timestamp", "acc", "loss"]


def test_resending_and_overlapping_batches_apply_each_record_once(any_world: World) -> None:
    records = run_records("r1", rows=30)
    for start, stop in ((0, 10), (0, 10), (5, 20), (15, 31), (0, 31)):
        answer = any_world.post("alice", PATH, records[start:stop])
        assert answer.status_code == 200, answer.text
        assert answer.json()["applied_seq"] == max(records[stop - 1].seq, 20 if start else 10)
    rows = any_world.history("alice", PATH, limit=7)
    assert [r["_step"] for r in rows] == list(range(30))
    assert any_world.get("alice", f"runs/{PATH}").json()["history_rows"] == 30


def test_gzip_bodies_and_tagged_values_round_trip(world: World) -> None:
    records = run_records(
        "r1", rows=3, values=lambda step: {"x": [math.nan, math.inf, -math.inf][step], "s": "a"}
    )
    payload = gzip.compress(jsoncodec.dumps_bytes(body(records)))
    answer = world.client.post(
        f"/api/v1/runs/{PATH}/records",
        content=payload,
        headers={**world.auth("alice"), "Content-Encoding": "gzip"},
    )
    assert answer.status_code == 200, answer.text
    raw = world.get("alice", f"runs/{PATH}/history").content
    rows = jsoncodec.loads(raw)["rows"]
    assert math.isnan(rows[0]["x"]) and rows[1]["x"] == math.inf and rows[2]["x"] == -math.inf


def test_the_signed_in_user_is_the_author_and_the_path_names_the_run(world: World) -> None:
    records = run_records("elsewhere", entity="bob", project="other", author="mallory")
    assert world.post("alice", PATH, records).status_code == 200
    run = world.get("alice", f"runs/{PATH}").json()
    assert (run["author"], run["entity"], run["project"], run["run_id"]) == (
        "alice",
        "alice",
        "mnist",
        "r1",
    )


def test_resume_info(world: World) -> None:
    missing = world.get("alice", f"runs/{PATH}/resume").json()
    assert missing == {"exists": False, "applied_seq": 0, "run_count": 0}
    world.log_run("alice", "alice", "mnist", "r1", rows=4, summary={"acc": 0.5})
    info = world.get("alice", f"runs/{PATH}/resume").json()
    assert info == {
        "exists": True,
        "name": "r1-name",
        "state": "running",
        "last_step": 3,
        "runtime": 3.0,
        "applied_seq": 6,
        "summary": {"acc": 0.5},
        "config": {"lr": 0.1},
        "privacy": "private",
        "stop_requested": False,
        "run_count": 1,
    }
    assert world.get("bob", f"runs/{PATH}/resume").status_code == 403


def _assert_refused(world: World, response: object, status: int, words: str) -> None:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    message = response.json()["error"]  # type: ignore[attr-defined]
    assert words in message, message
    assert world.get("alice", f"runs/{PATH}").status_code == 404  # nothing applied


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda r: r.append({"type": 99, "seq": 9}), "not a record type"),
        (lambda r: r[1].update(colour="red"), "unknown field 'colour'"),
        (lambda r: r[1].pop("step"), "needs the field 'step'"),
        (lambda r: r[1].update(step="3"), "records[1].step"),
        (lambda r: r[1].update(seq=1), "rise strictly"),
        (lambda r: r[1]["values"].update(_step=3), "reserved key '_step'"),
        (lambda r: r[1]["values"].update({"k" * 513: 1}), "at most 512 characters"),
        (lambda r: r[1]["values"].update({f"k{i}": i for i in range(10_001)}), "10000"),
        (lambda r: r[1]["values"].update(text="x" * (1024 * 1024 + 1)), "longer than 1024 KiB"),
        (lambda r: r[0].update(name=""), "records[0].name"),
        (lambda r: r[0].update(privacy="secret"), "records[0].privacy"),
        (lambda r: r[0].update(tags="a,b"), "records[0].tags"),
        (lambda r: r[2].update(timestamp=math.nan), "finite number"),
    ],
)
def test_bad_records_are_refused_whole(world: World, change: object, words: str) -> None:
    payload = body(run_records("r1", rows=3))
    change(payload["records"])  # type: ignore[operator]
    answer = world.client.post(
        f"/api/v1/runs/{PATH}/records",
        content=jsoncodec.dumps_bytes(payload),
        headers=world.auth("alice"),
    )
    _assert_refused(world, answer, 400, words)


@pytest.mark.parametrize(
    ("content", "headers", "status", "words"),
    [
        (b"{not json", {}, 400, "not valid JSON"),
        (b'{"records": {}}', {}, 400, "must be a list"),
        (b'{"records": [], "more": 1}', {}, 400, "nothing else"),
        (b"garbage", {"Content-Encoding": "gzip"}, 400, "not valid gzip"),
        (b"{}", {"Content-Encoding": "br"}, 400, "not supported"),
    ],
)
def test_malformed_bodies_are_refused(
    world: World, content: bytes, headers: dict[str, str], status: int, words: str
) -> None:
    answer = world.client.post(
        f"/api/v1/runs/{PATH}/records", content=content, headers={**world.auth("alice"), **headers}
    )
    _assert_refused(world, answer, status, words)


def test_size_limits_apply_to_the_body_and_its_decompressed_size(tmp_path: Path) -> None:
    limits = Limits(max_body_bytes=20_000, max_records=50)
    app = create_app(ServerConfig(store=str(tmp_path / "s.db"), limits=limits))
    key = app.state.accounts.create_user("alice")[1]
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as client:
        big = jsoncodec.dumps_bytes(
            body(run_records("r1", rows=40, values=lambda s: {"t": "y" * 900}))
        )
        answer = client.post(f"/api/v1/runs/{PATH}/records", content=big, headers=headers)
        assert answer.status_code == 413 and "larger than" in answer.json()["error"]
        bomb = gzip.compress(big)
        assert len(bomb) < 20_000
        answer = client.post(
            f"/api/v1/runs/{PATH}/records",
            content=bomb,
            headers={**headers, "Content-Encoding": "gzip"},
        )
        assert answer.status_code == 413
        many = jsoncodec.dumps_bytes(body(run_records("r1", rows=60)))
        answer = client.post(f"/api/v1/runs/{PATH}/records", content=many, headers=headers)
        assert answer.status_code == 400 and "at most 50" in answer.json()["error"]
        assert client.get(f"/api/v1/runs/{PATH}", headers=headers).status_code == 404
        patch = client.patch(f"/api/v1/runs/{PATH}", content=b" " * 30_000, headers=headers)
        assert patch.status_code == 413 and "larger than" in patch.json()["error"]


def test_records_of_a_run_never_started_are_a_conflict(world: World) -> None:
    records = run_records("r1", rows=3, start=False, first_seq=2)
    answer = world.post("alice", PATH, records)
    assert answer.status_code == 409
    assert "RunStarted" in answer.json()["error"]


def test_two_server_processes_writing_one_run_lose_nothing(tmp_path: Path) -> None:
    """Batches of one run alternating between two processes (two appliers with their own
    cached chunk state) still store every row exactly once."""
    location = StoreLocation.in_dir(tmp_path)
    create_app(ServerConfig(store=str(location.sqlite_path)))  # migrates
    engines = [create_store_engine(location) for _ in range(2)]
    services = [IngestService(engine, WriteGate(True)) for engine in engines]
    key = RunKey("alice", "mnist", "r1")
    records = run_records("r1", rows=2500)
    for number, start in enumerate(range(0, len(records), 300)):
        services[number % 2].apply(key, records[start : start + 300])
    services[0].apply(key, records[1000:1400])  # a late resend to a stale process
    app = create_app(ServerConfig(store=str(location.sqlite_path), auth=False, local_user="alice"))
    run = app.state.queries.run("alice", "mnist", "r1")
    steps = [row["_step"] for row in app.state.queries.history(run.pk).scan()]
    assert steps == list(range(2500)) and run.history_rows == 2500
    for engine in engines:
        engine.dispose()
    app.state.engine.dispose()


def test_big_batches_are_fast_enough_to_matter(world: World) -> None:
    """One request of 1,000 rows x 10 scalars is applied whole (throughput is measured by
    benchmarks/server_ingest.py)."""
    records = run_records(
        "r1", rows=1000, values=lambda s: {f"m{i}": s * 0.5 + i for i in range(10)}
    )
    payload = gzip.compress(orjson.dumps(body(records)))
    answer = world.client.post(
        f"/api/v1/runs/{PATH}/records",
        content=payload,
        headers={**world.auth("alice"), "Content-Encoding": "gzip"},
    )
    assert answer.json()["applied_seq"] == 1001
    assert isinstance(records[1], HistoryRow)


def test_a_run_reads_back_as_the_embedded_store_has_it(world: World, tmp_path: Path) -> None:
    """The same records through the server and through the SDK's local sink: equal runs,
    equal history rows (values exactly as logged, NaN and huge integers included)."""
    from kiseki.server.encoding import run_json
    from kiseki.sinks.local import LocalSink
    from kiseki.store.queries import StoreQueries

    def values(step: int) -> dict[str, object]:
        return {"loss": 1 / (step + 1), "n": step, "big": 2**70, "nan": math.nan, "s": f"x{step}"}

    records = run_records("r1", rows=1500, values=values, summary={"best": 0.5}, finish=0)
    for start in range(0, len(records), 400):
        assert world.post("alice", PATH, records[start : start + 400]).status_code == 200
    location = StoreLocation.in_dir(tmp_path / "local")
    sink = LocalSink(location)
    sink.apply(RunKey("alice", "mnist", "r1"), records)
    sink.close()
    engine = create_store_engine(location)
    local = StoreQueries(engine)
    expected = run_json(local.run("alice", "mnist", "r1"))  # type: ignore[arg-type]
    served = jsoncodec.loads(world.get("alice", f"runs/{PATH}").content)
    assert served["author"] == "alice"  # the server's author is the signed-in user
    ignore = {"author", "updated_at", "heartbeat_at"}
    assert {k: v for k, v in served.items() if k not in ignore} == {
        k: v for k, v in expected.items() if k not in ignore
    }
    local_rows = list(local.history(local.run("alice", "mnist", "r1").pk).scan())  # type: ignore[union-attr]
    rows = []
    params: dict[str, object] = {"limit": 700}
    while True:
        page = jsoncodec.loads(world.get("alice", f"runs/{PATH}/history", **params).content)
        rows.extend(page["rows"])
        if page["next_min_step"] is None:
            break
        params["min_step"] = page["next_min_step"]
    assert len(rows) == len(local_rows) == 1500
    for got, want in zip(rows, local_rows, strict=True):
        assert math.isnan(got.pop("nan")) and math.isnan(want.pop("nan"))
        assert got == want
    engine.dispose()
