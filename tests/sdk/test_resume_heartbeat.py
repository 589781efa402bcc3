"""Resume policies, heartbeats and the crashed state."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import kiseki
from kiseki.errors import UsageError


def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``condition()`` holds (the writer thread stores data within ~0.2 s)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except kiseki.NotFoundError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_existing_id_without_resume_is_refused() -> None:
    kiseki.init(project="p", id="fixed001").finish()
    with pytest.raises(UsageError, match="resume='allow'"):
        kiseki.init(project="p", id="fixed001")


def test_resume_must_requires_an_existing_run() -> None:
    with pytest.raises(UsageError, match="does not exist"):
        kiseki.init(project="p", id="missing1", resume="must")


def test_resumed_run_continues_step_runtime_history_and_config() -> None:
    run = kiseki.init(project="p", id="resume01", config={"lr": 0.1})
    for i in range(5):
        run.log({"i": i})
    run.summary["best"] = 7
    run.finish()
    first_runtime = kiseki.Api().run("p/resume01").runtime
    again = kiseki.init(project="p", id="resume01", resume="allow", config={"extra": 1})
    assert again.resumed and again.step == 5 and again.name == run.name
    assert again.config.as_dict() == {"lr": 0.1, "extra": 1}
    assert again.summary["best"] == 7
    eventually(lambda: kiseki.Api().run("p/resume01").state == "running")
    for i in range(5, 8):
        again.log({"i": i})
    again.finish()
    stored = kiseki.Api().run("p/resume01")
    rows = list(stored.scan_history())
    assert [r["i"] for r in rows] == list(range(8))
    assert [r["_step"] for r in rows] == list(range(8))
    assert rows[5]["_runtime"] >= first_runtime
    assert stored.state == "finished"


def test_resume_auto_reuses_the_id_of_an_unfinished_run_of_this_directory(
    kiseki_dir: Path, tmp_path: Path
) -> None:
    script = textwrap.dedent(
        """
        import os, time, kiseki
        run = kiseki.init(project="auto", resume="auto")
        print(run.id, run.step, flush=True)
        run.log({"x": run.step})
        if os.environ.get("CRASH"):
            time.sleep(0.6)  # what was logged 0.5 s before a crash is kept
            os._exit(1)
        """
    )
    env = dict(os.environ, KISEKI_DIR=str(kiseki_dir))

    def start(crash: bool) -> list[str]:
        out = subprocess.run(
            [sys.executable, "-c", script],
            env=dict(env, CRASH="1" if crash else ""),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return out.stdout.split()

    first_id, first_step = start(crash=True)
    second_id, second_step = start(crash=False)
    third_id, _ = start(crash=False)
    assert second_id == first_id and (first_step, second_step) == ("0", "1")
    assert third_id != first_id
    rows = list(kiseki.Api().run(f"auto/{first_id}").scan_history())
    assert [r["x"] for r in rows] == [0, 1]


def test_heartbeat_keeps_a_quiet_run_running_and_stops_when_it_dies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KISEKI_HEARTBEAT_INTERVAL", "0.2")
    monkeypatch.setenv("KISEKI_HEARTBEAT_TIMEOUT", "1")
    run = kiseki.init(project="hb")
    run.log({"x": 1})
    eventually(lambda: kiseki.Api().run(run.path).summary.get("x") == 1)
    first = kiseki.Api().run(run.path).heartbeat_at
    time.sleep(1.5)
    stored = kiseki.Api().run(run.path)
    assert stored.state == "running"
    assert stored.heartbeat_at != first
    run.finish()
    assert kiseki.Api().run(run.path).state == "finished"


def test_a_run_stopped_in_the_embedded_store_finishes_as_killed(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    from kiseki.store.database import StoreLocation, create_store_engine
    from kiseki.store.queries import StoreQueries
    from kiseki.store.runcontrol import request_stop

    monkeypatch.setenv("KISEKI_HEARTBEAT_INTERVAL", "0.2")
    run = kiseki.init(project="stop-local")
    run.log({"x": 1})
    eventually(lambda: kiseki.Api().run(run.path).summary.get("x") == 1)
    engine = create_store_engine(StoreLocation.in_dir(Path(run.dir).parents[1]))
    try:
        queries = StoreQueries(engine)
        record = queries.run(run.entity, "stop-local", run.id)
        assert record is not None
        assert request_stop(queries, record.pk, run.path) == "requested"
    finally:
        engine.dispose()
    eventually(lambda: run._stop_requested)
    run.log({"x": 2})  # finishes the run as killed; nothing raised
    assert run.finished
    run.log({"x": 3})
    assert kiseki.Api().run(run.path).state == "killed"
    assert kiseki.Api().run(run.path).summary["x"] == 1
    assert "was stopped" in capfd.readouterr().err
