"""``kiseki sync --status``, ``kiseki gc``, and re-running ``kiseki sync`` (exactly once)."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from faultkit import assert_exact_rows, run_cli
from test_writer_safety import Fault

import kiseki
from kiseki.sinks.local import LocalSink

DAY = 86400.0


def offline_run(run_id: str, rows: int = 10) -> Path:
    """A finished offline run of ``rows`` rows; return its run directory."""
    run = kiseki.init(project="gcp", id=run_id, mode="offline")
    for i in range(rows):
        run.log({"i": i})
    run.finish()
    return Path(run.dir)


def online_run(run_id: str, rows: int = 10) -> Path:
    """A finished online run (fully stored, marked synced); return its run directory."""
    run = kiseki.init(project="gcp", id=run_id)
    for i in range(rows):
        run.log({"i": i})
    run.finish()
    return Path(run.dir)


def half_stored_run(monkeypatch: pytest.MonkeyPatch, run_id: str) -> Path:
    """An online run whose store refused everything after its start (no synced marker)."""
    fault = Fault(RuntimeError("store refused"))
    fault.install(monkeypatch, LocalSink, "apply")
    fault.on = False
    run = kiseki.init(project="gcp", id=run_id, settings={"finish_timeout": 0.3})
    time.sleep(0.3)
    fault.on = True
    for i in range(10):
        run.log({"i": i})
    run.finish()
    run._writer._thread.join(5)
    monkeypatch.setattr(LocalSink, "apply", fault.original)
    return Path(run.dir)


def age(run_dir: Path, days: float) -> None:
    """Make every file of ``run_dir`` look ``days`` old."""
    stamp = time.time() - days * DAY
    for path in run_dir.iterdir():
        os.utime(path, (stamp, stamp))


def snapshot(kiseki_dir: Path) -> Any:
    """The store's runs and history, to compare before and after a command."""
    conn = sqlite3.connect(kiseki_dir / "kiseki.db")
    try:
        return (
            conn.execute("SELECT run_id, applied_seq, history_rows, state FROM runs").fetchall(),
            conn.execute("SELECT * FROM history_chunks ORDER BY run_pk, key").fetchall(),
            conn.execute("SELECT * FROM history_values ORDER BY run_pk, key, step").fetchall(),
        )
    finally:
        conn.close()


def test_status_lists_unsynced_runs_and_changes_nothing(
    kiseki_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    offline = offline_run("offline1")
    online_run("online01")
    half = half_stored_run(monkeypatch, "halfway1")
    active = kiseki.init(project="gcp", id="active01")
    active.log({"i": 0})
    before = snapshot(kiseki_dir)

    output = run_cli("sync", "--status")

    lines = {line.split()[0]: line.split() for line in output.splitlines() if line}
    assert "online01" not in lines  # synced
    assert lines["offline1"][1] == f"{os.environ.get('KISEKI_ENTITY') or active.entity}/gcp"
    # start, metadata, requirements.txt (a saved file), 10 rows, summary, finish
    assert lines["offline1"][4:6] == ["15", "15"] and lines["offline1"][6] == "finished"
    assert lines["halfway1"][5] == "12" and lines["halfway1"][6] == "finished"  # rows, summary, end
    assert lines["active01"][6] == "running"
    assert "3 run directories not marked as synced" in output
    assert snapshot(kiseki_dir) == before
    assert not (offline / "synced").exists() and not (half / "synced").exists()
    active.finish()


def test_status_without_a_store_does_not_create_one(kiseki_dir: Path) -> None:
    offline_run("nostore1")
    assert "nostore1" in run_cli("sync", "--status")
    assert not (kiseki_dir / "kiseki.db").exists()


def test_sync_twice_changes_nothing(kiseki_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    offline_run("twice001", rows=50)
    half_stored_run(monkeypatch, "twice002")
    run_cli("sync")
    once = snapshot(kiseki_dir)
    run_cli("sync", "--include-synced")
    run_cli("sync", *map(str, (kiseki_dir / "runs").glob("run-*")))
    assert snapshot(kiseki_dir) == once
    assert_exact_rows("gcp/twice001", [{"i": i} for i in range(50)])
    assert_exact_rows("gcp/twice002", [{"i": i} for i in range(10)])


def test_gc_removes_only_old_fully_synced_run_directories(
    kiseki_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced_old = online_run("syncold1")
    synced_new = online_run("syncnew1")
    unsynced_old = offline_run("unsynced")
    half_old = half_stored_run(monkeypatch, "halfold1")
    lying = offline_run("lying001")  # a synced marker the store does not back
    (lying / "synced").write_text("14")
    for run_dir in (synced_old, unsynced_old, half_old, lying):
        age(run_dir, 40)

    dry = run_cli("gc", "--older-than", "30", "--dry-run")
    assert f"would remove {synced_old}" in dry and "would remove 1 run directory" in dry
    assert synced_old.exists()

    output = run_cli("gc", "--older-than", "30")
    assert not synced_old.exists()
    assert synced_new.exists() and unsynced_old.exists() and half_old.exists() and lying.exists()
    assert f"kept {unsynced_old}: not synced" in output
    assert f"kept {lying}: its run is not in the store" in output
    assert "removed 1 run directory" in output
    assert kiseki.Api().run("gcp/syncold1").history_rows == 10  # the store keeps the run

    run_cli("sync", str(lying))  # marked, so a plain `kiseki sync` skips it: name it
    run_cli("sync")  # now everything is in the store, and synced
    for run_dir in (unsynced_old, half_old, lying):
        age(run_dir, 40)
    run_cli("gc", "--older-than", "30")
    assert not unsynced_old.exists() and not half_old.exists() and not lying.exists()
    assert synced_new.exists()
    assert_exact_rows("gcp/unsynced", [{"i": i} for i in range(10)])


def test_gc_never_removes_a_run_that_is_still_writing(kiseki_dir: Path) -> None:
    run = kiseki.init(project="gcp", id="stillrun")
    run.log({"i": 1})
    time.sleep(0.3)
    (Path(run.dir) / "synced").write_text("1")
    age(Path(run.dir), 40)
    output = run_cli("gc", "--older-than", "1")
    assert "a running process is still writing it" in output and Path(run.dir).exists()
    assert "skipped" in run_cli("sync", run.dir)
    run.finish()


def test_gc_rejects_a_negative_age() -> None:
    from click.testing import CliRunner

    from kiseki.cli.main import cli

    result = CliRunner().invoke(cli, ["gc", "--older-than", "-1"])
    assert result.exit_code == 2 and "older-than" in result.output
