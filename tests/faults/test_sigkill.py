"""Scenario 1: the training process is SIGKILLed at random points (20 seeds).

Each child logs rows ``{"i": i, "t": time of the log() call}`` as fast as a training loop
would, and also appends ``i t`` to a side file of its own (the ground truth of what it logged,
which survives the kill). The test kills it at a seeded random moment -- sometimes during
``import``/``init``, mostly while logging -- then checks:

- the run reads ``crashed``;
- every row logged more than 0.5 s before the kill is in the store, the stored rows are
  exactly rows 0..M of what the child logged (nothing invented, nothing duplicated);
- after ``kiseki sync`` of the leftover run log, the store holds every row of that log
  exactly once, and still nothing the child did not log.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest
from faultkit import child_env, kill, run_cli, start_child, stored_rows

import kiseki
from kiseki.runlog import HistoryRow, read_run_log
from kiseki.sinks.sync import run_logs_of

SEEDS = range(20)
PARALLEL = 5
HEARTBEAT_TIMEOUT = 1.0
GUARANTEE_S = 0.5

CHILD = """
    import os, sys, time
    seed, truth = int(sys.argv[1]), sys.argv[2]
    import kiseki
    run = kiseki.init(project="sigkill", id=f"kill{seed:04d}", config={"seed": seed})
    side = os.open(truth, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    print("started", flush=True)
    i = 0
    while True:
        t = time.time()
        kiseki.log({"i": i, "t": t, "loss": 1.0 / (i + 1)})
        os.write(side, f"{i} {t!r}\\n".encode())
        if i % 100 == 0:
            run.summary["checkpoint"] = i
        i += 1
        if i % 10 == 0:  # ~1,500 rows/s: a busy training loop, leaving CPU for 5 at a time
            time.sleep(0.005)
"""


def _truth(path: Path) -> dict[int, float]:
    """What the child logged: ``{i: t}`` from its side file (a torn last line is ignored)."""
    logged: dict[int, float] = {}
    if not path.exists():
        return logged
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                logged[int(parts[0])] = float(parts[1])
            except ValueError:
                continue
    return logged


def _kill_at_random(seed: int, kiseki_dir: Path, tmp_path: Path) -> tuple[float, Path]:
    """Start child ``seed``, kill it at a seeded random moment; return (kill time, truth)."""
    rng = random.Random(seed)
    truth = tmp_path / f"truth-{seed}.txt"
    env = child_env(
        kiseki_dir,
        KISEKI_HEARTBEAT_INTERVAL="0.2",
        KISEKI_HEARTBEAT_TIMEOUT=str(HEARTBEAT_TIMEOUT),
    )
    process = start_child(CHILD, env, str(seed), str(truth))
    assert process.stdout is not None
    if rng.random() < 0.15:  # anywhere in start-up: import, init, the first flush
        time.sleep(rng.uniform(0.05, 0.6))
    else:
        assert process.stdout.readline().strip() == "started", process.stderr.read()
        time.sleep(rng.uniform(0.0, 1.2))
    killed_at = time.time()
    kill(process)
    return killed_at, truth


def _check_seed(seed: int, killed_at: float, truth_path: Path, runs_root: Path) -> str:
    """Check one killed child before and after syncing its leftover log; return a summary."""
    path = f"sigkill/kill{seed:04d}"
    logged = _truth(truth_path)
    logs = run_logs_of(runs_root, f"kill{seed:04d}")
    log_rows = {}
    for log in logs:
        for record in read_run_log(log).records:
            if type(record) is HistoryRow:
                log_rows[record.step] = record.values
    runs = {r.id: r for r in kiseki.Api().runs("sigkill")} if _project_exists() else {}
    if f"kill{seed:04d}" not in runs:
        # killed before the run reached the store: nothing may have been logged long before
        assert not any(t <= killed_at - GUARANTEE_S for t in logged.values()), seed
        before_sync = 0
    else:
        assert runs[f"kill{seed:04d}"].state == "crashed", seed
        rows = stored_rows(path)
        before_sync = len(rows)
        _assert_prefix_of_truth(rows, logged, seed)
        must_have = [i for i, t in logged.items() if t <= killed_at - GUARANTEE_S]
        assert len(rows) > max(must_have, default=-1), (
            f"seed {seed}: rows logged more than {GUARANTEE_S} s before the kill are missing: "
            f"{len(rows)} stored, row {max(must_have)} was logged "
            f"{killed_at - logged[max(must_have)]:.2f} s before the kill"
        )
    if not logs:
        return f"seed {seed}: killed before the run log existed"
    run_cli("sync", *[str(log.parent) for log in logs])
    if not log_rows and not _in_store(seed):
        return f"seed {seed}: killed before the first record"
    rows = stored_rows(path)
    _assert_prefix_of_truth(rows, logged, seed)
    assert sorted(log_rows) == [row["_step"] for row in rows], seed
    for row in rows:
        assert {k: row[k] for k in ("i", "t", "loss")} == log_rows[row["_step"]], seed
    return f"seed {seed}: {before_sync} rows before sync, {len(rows)} after"


def _project_exists() -> bool:
    return any(p.name == "sigkill" for p in kiseki.Api().projects())


def _in_store(seed: int) -> bool:
    return _project_exists() and any(
        r.id == f"kill{seed:04d}" for r in kiseki.Api().runs("sigkill")
    )


def _assert_prefix_of_truth(rows: list[dict], logged: dict[int, float], seed: int) -> None:
    """Stored rows are rows 0..M of what the child logged, each once, with its values."""
    assert [row["i"] for row in rows] == list(range(len(rows))), f"seed {seed}: gap or dup"
    assert [row["_step"] for row in rows] == list(range(len(rows))), seed
    for row in rows:
        assert row["i"] in logged or row["i"] == len(rows) - 1, f"seed {seed}: invented row"
        if row["i"] in logged:
            assert row["t"] == logged[row["i"]], seed


@pytest.mark.slow
def test_sigkill_at_random_points_loses_nothing_flushed(
    kiseki_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KISEKI_HEARTBEAT_TIMEOUT", str(HEARTBEAT_TIMEOUT))  # the reader decides
    from kiseki.store.database import StoreLocation, ensure_schema

    ensure_schema(StoreLocation.in_dir(kiseki_dir))  # as on a machine that ran kiseki before
    kills: dict[int, tuple[float, Path]] = {}
    seeds = list(SEEDS)
    for start in range(0, len(seeds), PARALLEL):
        threads = []
        for seed in seeds[start : start + PARALLEL]:

            def work(seed: int = seed) -> None:
                kills[seed] = _kill_at_random(seed, kiseki_dir, tmp_path)

            threads.append(threading.Thread(target=work))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert sorted(kills) == seeds
    time.sleep(max(0.0, max(t for t, _ in kills.values()) + HEARTBEAT_TIMEOUT + 0.2 - time.time()))
    outcomes = [
        _check_seed(seed, killed_at, truth, kiseki_dir / "runs")
        for seed, (killed_at, truth) in sorted(kills.items())
    ]
    time.sleep(HEARTBEAT_TIMEOUT + 0.2)  # syncing refreshed the heartbeat: let it lapse again
    for run in kiseki.Api().runs("sigkill"):
        assert run.state == "crashed", run.id
    print("\n".join(outcomes))
