"""``finish()`` under a locked store, interrupts during ``finish()``, and resumability.

- ``finish()`` returns within ``finish_timeout`` (+1 s) even when another process holds the
  store's write lock for longer, says how to ``kiseki sync`` the rest, and the run log is
  complete (``RunFinished`` included), so ``kiseki sync`` or a resume completes the run.
- SIGTERM or SIGINT while ``finish()`` waits leaves that complete log behind.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from faultkit import assert_exact_rows, child_env, run_cli, start_child

import kiseki
from kiseki.runlog import HistoryRow, RunFinished, read_run_log

ROWS = 200


def expected(rows: int = ROWS) -> list[dict[str, int]]:
    """The rows the scripts below log."""
    return [{"i": i} for i in range(rows)]


def assert_complete_log(run_dir: Path, rows: int = ROWS) -> None:
    """The run log holds every row and the finish record."""
    records = read_run_log(run_dir / "run.log").records
    assert [r.step for r in records if type(r) is HistoryRow] == list(range(rows))
    assert type(records[-1]) is RunFinished


def test_finish_returns_in_time_when_the_store_is_locked(
    store_lock, capfd: pytest.CaptureFixture[str]
) -> None:
    run = kiseki.init(project="locked", id="lockedin", settings={"finish_timeout": 1})
    time.sleep(0.3)  # the run is in the store
    lock = store_lock()
    for i in range(ROWS):
        run.log({"i": i})
    started = time.monotonic()
    run.finish()
    took = time.monotonic() - started
    assert took < 1 + 1.5, f"finish() took {took:.1f} s with finish_timeout=1"
    err = capfd.readouterr().err
    assert "were not stored before finish returned" in err and "kiseki sync" in err
    assert_complete_log(Path(run.dir))
    lock.release()  # the writer thread, still alive in this process, delivers the rest
    run._writer._thread.join(30)
    assert_exact_rows("locked/lockedin", expected())
    assert kiseki.Api().run("locked/lockedin").state == "finished"


CHILD = """
    import sys, kiseki
    timeout = float(sys.argv[2])
    run = kiseki.init(project="locked", id=sys.argv[1], settings={"finish_timeout": timeout})
    print(run.dir, flush=True)
    sys.stdin.readline()  # the test locks the store now
    for i in range(ROWS):
        kiseki.log({"i": i})
    print("finishing", flush=True)
    kiseki.finish()
    print("finished", flush=True)
    """.replace("ROWS", str(ROWS))


def start_locked_child(kiseki_dir: Path, store_lock, run_id: str, timeout: float):
    """A child that logs, then finishes while another process holds the store's lock."""
    child = start_child(CHILD, child_env(kiseki_dir), run_id, str(timeout), stdin=-1)
    assert child.stdout is not None and child.stdin is not None
    run_dir = Path(child.stdout.readline().strip())
    time.sleep(0.3)  # its run start is stored
    lock = store_lock()
    child.stdin.write("go\n")
    child.stdin.flush()
    assert child.stdout.readline().strip() == "finishing"
    return child, run_dir, lock


def test_a_process_whose_finish_timed_out_is_completed_by_sync(
    kiseki_dir: Path, store_lock
) -> None:
    child, run_dir, lock = start_locked_child(kiseki_dir, store_lock, "lockedch", 1.0)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0 and "finished" in out
    assert f"kiseki sync {run_dir}" in err
    assert_complete_log(run_dir)
    lock.release()
    run_cli("sync")
    assert_exact_rows("locked/lockedch", expected())
    assert kiseki.Api().run("locked/lockedch").state == "finished"
    assert "Nothing to sync" in run_cli("sync")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_finish_leaves_a_log_that_sync_completes(
    kiseki_dir: Path, store_lock, signum: int
) -> None:
    run_id = f"sig{signum:05d}"
    child, run_dir, lock = start_locked_child(kiseki_dir, store_lock, run_id, 60.0)
    time.sleep(0.5)  # finish() is waiting for the store
    child.send_signal(signum)
    out, err = child.communicate(timeout=60)
    assert child.returncode != 0 and "finished" not in out
    if signum == signal.SIGINT:
        assert "was interrupted; its run log is complete" in err
    assert_complete_log(run_dir)
    lock.release()
    run_cli("sync")
    assert_exact_rows(f"locked/{run_id}", expected())
    assert kiseki.Api().run(f"locked/{run_id}").state == "finished"


def test_a_signal_during_finish_leaves_a_log_that_resume_completes(
    kiseki_dir: Path, store_lock
) -> None:
    child, _, lock = start_locked_child(kiseki_dir, store_lock, "sigresum", 60.0)
    time.sleep(0.5)
    child.send_signal(signal.SIGTERM)
    child.communicate(timeout=60)
    lock.release()
    run = kiseki.init(project="locked", id="sigresum", resume="allow")
    assert run.resumed and run.step == ROWS
    for i in range(ROWS, ROWS + 5):
        run.log({"i": i})
    run.finish()
    assert_exact_rows("locked/sigresum", expected(ROWS + 5))
    assert kiseki.Api().run("locked/sigresum").state == "finished"
