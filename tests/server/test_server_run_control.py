"""Heartbeats, the crash watchdog, and stopping a run until it is stored as killed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from server_world import World, make_world, run_records, wait_for

from kiseki.runlog.records import RunFinished, RunStarted

PATH = "alice/mnist/r1"


def stored_state(world: World, run_id: str = "r1") -> str:
    with world.app.state.engine.connect() as conn:
        return str(conn.scalar(sa.text("SELECT state FROM runs WHERE run_id = :r"), {"r": run_id}))


@pytest.fixture
def quick_world(tmp_path: Path) -> Iterator[World]:
    """Heartbeats time out after 0.3 s; the watchdog looks every 0.05 s."""
    yield from make_world(str(tmp_path / "s.db"), heartbeat_timeout=0.3, watchdog_interval=0.05)


def test_the_watchdog_stores_crashed_and_a_heartbeat_revives_the_run(quick_world: World) -> None:
    quick_world.log_run("alice", "alice", "mnist", "r1", rows=2)
    assert stored_state(quick_world) == "running"
    wait_for(lambda: stored_state(quick_world) == "crashed")
    assert quick_world.get("alice", f"runs/{PATH}").json()["state"] == "crashed"
    beat = quick_world.client.post(
        f"/api/v1/runs/{PATH}/heartbeat", headers=quick_world.auth("alice")
    )
    assert beat.json() == {"applied_seq": 3, "stop_requested": False}
    assert stored_state(quick_world) == "running"


def test_a_late_batch_revives_a_crashed_run_but_a_finished_run_stays_finished(
    quick_world: World,
) -> None:
    quick_world.log_run("alice", "alice", "mnist", "r1", rows=2)
    wait_for(lambda: stored_state(quick_world) == "crashed")
    more = run_records("r1", start=False, first_seq=4, rows=1)
    assert quick_world.post("alice", PATH, more).status_code == 200
    assert stored_state(quick_world) == "running"
    finish = [RunFinished(5, 0, time.time(), 9.0)]
    assert quick_world.post("alice", PATH, finish).status_code == 200
    time.sleep(0.5)
    assert stored_state(quick_world) == "finished"
    quick_world.client.post(f"/api/v1/runs/{PATH}/heartbeat", headers=quick_world.auth("alice"))
    assert stored_state(quick_world) == "finished"


def test_a_stopped_run_learns_it_and_its_finish_is_stored_as_killed(world: World) -> None:
    world.log_run("alice", "alice", "mnist", "r1", rows=2)
    stopped = world.client.post(f"/api/v1/runs/{PATH}/stop", headers=world.auth("alice"))
    assert stopped.status_code == 200
    assert stopped.json()["stop_requested"] is True and stopped.json()["state"] == "running"
    beat = world.client.post(f"/api/v1/runs/{PATH}/heartbeat", headers=world.auth("alice"))
    assert beat.json() == {"applied_seq": 3, "stop_requested": True}
    more = world.post("alice", PATH, run_records("r1", start=False, first_seq=4, rows=1))
    assert more.json() == {"applied_seq": 4, "stop_requested": True}
    finish = world.post("alice", PATH, [RunFinished(5, 255, time.time(), 5.0)])
    assert finish.json()["applied_seq"] == 5
    run = world.get("alice", f"runs/{PATH}").json()
    assert (run["state"], run["exit_code"]) == ("killed", 255)
    again = world.client.post(f"/api/v1/runs/{PATH}/stop", headers=world.auth("alice"))
    assert again.status_code == 400 and "already ended (killed)" in again.json()["error"]
    resumed = RunStarted(6, "r1", "mnist", "alice", "r1-name", time.time(), resumed=True)
    assert world.post("alice", PATH, [resumed]).json() == {
        "applied_seq": 6,
        "stop_requested": False,
    }
    assert world.get("alice", f"runs/{PATH}").json()["state"] == "running"


def test_stopping_a_run_that_went_silent_kills_it_at_once(quick_world: World) -> None:
    quick_world.log_run("alice", "alice", "mnist", "r1", rows=1)
    wait_for(lambda: stored_state(quick_world) == "crashed")
    stopped = quick_world.client.post(
        f"/api/v1/runs/{PATH}/stop", headers=quick_world.auth("alice")
    )
    assert stopped.json()["state"] == "killed" and stopped.json()["finished_at"] is not None


def test_heartbeats_for_unknown_runs_are_not_found(world: World) -> None:
    answer = world.client.post(f"/api/v1/runs/{PATH}/heartbeat", headers=world.auth("alice"))
    assert answer.status_code == 404 and "RunStarted" in answer.json()["error"]
