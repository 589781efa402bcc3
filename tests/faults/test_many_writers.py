"""Scenario 6 (embedded half): 50 processes log 10,000 rows each to one embedded store at once.

Every process must end ``finished`` with exactly its 10,000 rows, in order, each once, and
its own values only. (The server half of the scenario arrives with the server.)
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from faultkit import child_env, start_child

import kiseki

PROCESSES = 50
ROWS = 10_000

CHILD = """
    import sys, kiseki
    worker = int(sys.argv[1])
    run = kiseki.init(project="crowd", id=f"crowd{worker:03d}", config={"worker": worker})
    for i in range(ROWS):
        kiseki.log({"worker": worker, "i": i, "loss": 1.0 / (i + 1)})
    kiseki.finish()
    """.replace("ROWS", str(ROWS))


@pytest.mark.slow
def test_fifty_processes_log_ten_thousand_rows_each(kiseki_dir: Path) -> None:
    from kiseki.store.database import StoreLocation, ensure_schema

    ensure_schema(StoreLocation.in_dir(kiseki_dir))
    started = time.monotonic()
    env = child_env(kiseki_dir)
    children = [start_child(CHILD, env, str(n)) for n in range(PROCESSES)]
    for child in children:
        _, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        assert "kiseki" not in err, err  # no warning: nothing failed, nothing was retried
    logged_in = time.monotonic() - started

    runs = {run.id: run for run in kiseki.Api().runs("crowd")}
    assert sorted(runs) == [f"crowd{n:03d}" for n in range(PROCESSES)]
    for n in range(PROCESSES):
        run = runs[f"crowd{n:03d}"]
        assert run.state == "finished" and run.history_rows == ROWS
        rows = list(run.scan_history(keys=["worker", "i"]))
        assert [row["i"] for row in rows] == list(range(ROWS)), run.id
        assert [row["_step"] for row in rows] == list(range(ROWS)), run.id
        assert {row["worker"] for row in rows} == {n}, run.id
    synced = sorted(p.parent.name for p in (kiseki_dir / "runs").glob("run-*/synced"))
    assert len(synced) == PROCESSES  # every run log is marked as fully in the store
    print(f"\n{PROCESSES} processes x {ROWS} rows logged and stored in {logged_in:.1f} s")
    assert logged_in < 180, f"{PROCESSES} writers took {logged_in:.0f} s"
