"""Offline runs and resume, with the W&B meanings, across sync, crashes and more offline runs.

A resumed run continues its ``_step`` and ``_runtime``, keeps its history, config and
summary, and reads ``running`` again until it finishes -- whether the earlier part is in the
store, only in an unsynced offline log, or left behind by a killed process.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from faultkit import assert_exact_rows, child_env, run_cli, start_child, stored_rows

import kiseki


def log_range(run: kiseki.Run, start: int, stop: int) -> None:
    """Log ``{"i": i}`` for ``i`` in ``range(start, stop)``."""
    for i in range(start, stop):
        run.log({"i": i})


def rows(stop: int) -> list[dict[str, int]]:
    """The rows logged by :func:`log_range` from 0 to ``stop``."""
    return [{"i": i} for i in range(stop)]


def test_resuming_an_offline_run_after_sync_continues_step_runtime_and_state() -> None:
    run = kiseki.init(project="res", id="offsync1", mode="offline", config={"lr": 0.1})
    log_range(run, 0, 5)
    time.sleep(0.3)
    run.log({"i": 5})
    run.summary["best"] = 5
    run.finish()
    run_cli("sync")
    first = kiseki.Api().run("res/offsync1")
    assert first.state == "finished"

    again = kiseki.init(project="res", id="offsync1", resume="allow")
    assert again.resumed and again.step == 6 and again.name == run.name
    assert again.config["lr"] == 0.1 and again.summary["best"] == 5
    again.log({"i": 6})
    deadline = time.monotonic() + 5
    while kiseki.Api().run("res/offsync1").state != "running":
        assert time.monotonic() < deadline, "a resumed run must read running again"
        time.sleep(0.05)
    again.finish()
    stored = kiseki.Api().run("res/offsync1")
    assert stored.state == "finished"
    assert_exact_rows("res/offsync1", rows(7))
    history = stored_rows("res/offsync1")
    assert history[6]["_runtime"] >= history[5]["_runtime"] >= 0.3  # runtime continues


def test_offline_resumes_of_unsynced_offline_runs_are_all_kept() -> None:
    for part in range(3):  # three offline processes of one run, never synced in between
        run = kiseki.init(project="res", id="offoff01", mode="offline", resume="allow")
        assert run.step == part * 4 and run.resumed == (part > 0)
        log_range(run, part * 4, part * 4 + 4)
        run.finish()
    output = run_cli("sync")
    assert output.count("applied") == 3
    assert_exact_rows("res/offoff01", rows(12))
    assert kiseki.Api().run("res/offoff01").state == "finished"
    assert "Nothing to sync" in run_cli("sync")


def test_syncing_a_later_log_first_applies_the_earlier_ones_first() -> None:
    dirs = []
    for part in range(2):
        run = kiseki.init(project="res", id="order001", mode="offline", resume="allow")
        log_range(run, part * 3, part * 3 + 3)
        run.finish()
        dirs.append(run.dir)
    run_cli("sync", dirs[1])  # the resumed part alone: its earlier part must go first
    assert_exact_rows("res/order001", rows(6))


def test_online_resume_applies_an_unsynced_offline_log_first() -> None:
    run = kiseki.init(project="res", id="offonl01", mode="offline")
    log_range(run, 0, 4)
    run.finish()
    again = kiseki.init(project="res", id="offonl01", resume="must")  # exists via its log
    assert again.resumed and again.step == 4
    log_range(again, 4, 6)
    again.finish()
    assert_exact_rows("res/offonl01", rows(6))
    assert "Nothing to sync" in run_cli("sync")


@pytest.mark.slow
def test_resuming_a_killed_run_keeps_everything_its_log_holds(
    kiseki_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KISEKI_HEARTBEAT_TIMEOUT", "1")
    child = start_child(
        """
        import time, kiseki
        run = kiseki.init(project="res", id="killed01")
        for i in range(50):
            run.log({"i": i})
        time.sleep(0.6)
        print("logged", flush=True)
        time.sleep(60)
        """,
        child_env(kiseki_dir, KISEKI_HEARTBEAT_INTERVAL="0.2"),
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "logged"
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=30)
    time.sleep(1.2)
    crashed = kiseki.Api().run("res/killed01")
    assert crashed.state == "crashed"
    again = kiseki.init(project="res", id="killed01", resume="allow")
    assert again.step == 50
    log_range(again, 50, 55)
    again.finish()
    assert_exact_rows("res/killed01", rows(55))
    stored = kiseki.Api().run("res/killed01")
    assert stored.state == "finished" and stored.runtime >= crashed.runtime
