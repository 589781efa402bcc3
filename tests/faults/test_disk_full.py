"""Scenario 7: the disk fills up under a running job.

The small disk is a size-limited tmpfs when this process may mount one (root), else a
loop-mounted ext2 image, else RLIMIT_FSIZE in the child with SIGXFSZ ignored (see
``faultkit.small_disk``); docs/reliability.md says which and why. In every case the job must
survive and exit 0, the run log must stay readable (no half-written record), and the store
must hold exactly the rows logged -- all of them when the disk frees up again, and every row
up to the fault when it does not.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from faultkit import assert_exact_rows, child_env, run_cli, small_disk, start_child, stored_rows

import kiseki
from kiseki.runlog import HistoryRow, read_run_log

ROWS = 20_000
PAD = "x" * 100  # ~170 bytes per record in the run log: 20,000 rows make 3.4 MB


def row(i: int) -> dict[str, object]:
    """The row logged at step ``i``."""
    return {"i": i, "pad": PAD}


CHILD = """
    import sys, time, kiseki
    run = kiseki.init(project="full", id=sys.argv[1], dir=sys.argv[2] or None,
                      settings={{"finish_timeout": float(sys.argv[4])}})
    print("ready", flush=True)
    sys.stdin.readline()  # the test fills the disk now
    half = {rows} // 2
    for i in range(half):  # paced like a training loop: ~10,000 rows/s
        kiseki.log({{"i": i, "pad": {pad!r}}})
        if i % 25 == 0:
            time.sleep(0.002)
    time.sleep(1.5)  # the writer thread meets the full disk
    if sys.argv[3] == "free":
        free_space()
    for i in range(half, {rows}):
        kiseki.log({{"i": i, "pad": {pad!r}}})
        if i % 25 == 0:
            time.sleep(0.002)
    kiseki.finish()
    print("survived", flush=True)
"""


def run_child(
    disk_preamble: str,
    env: dict[str, str],
    run_id: str,
    run_root: str,
    then: str,
    fill: Callable[[], None],
    finish_timeout: float = 10.0,
) -> tuple[str, str]:
    """Run the child: it logs, meets the full disk, optionally frees it, and finishes."""
    code = disk_preamble + textwrap.dedent(CHILD).format(rows=ROWS, pad=PAD)
    child = start_child(code, env, run_id, run_root, then, str(finish_timeout), stdin=-1)
    assert child.stdout is not None and child.stdin is not None
    assert child.stdout.readline().strip() == "ready", child.stderr.read()
    fill()
    out, err = child.communicate("go\n", timeout=120)
    assert child.returncode == 0, err
    assert "survived" in out
    return out, err


def assert_clean_prefix_log(run_dir: Path, at_least: int = 0) -> list[int]:
    """The run log is readable to its end, its rows are steps 0..M; return them."""
    logs = list(run_dir.glob("run-*/run.log"))
    assert len(logs) == 1
    contents = read_run_log(logs[0])
    assert contents.torn_tail_offset is None and contents.damaged_ranges == []
    steps = [r.step for r in contents.records if type(r) is HistoryRow]
    assert steps == list(range(len(steps))) and len(steps) >= at_least
    return steps


@pytest.mark.slow
def test_run_directory_on_a_full_disk_the_store_gets_everything(
    kiseki_dir: Path, tmp_path: Path
) -> None:
    with small_disk(tmp_path, 2 * 1024 * 1024) as disk:
        if disk.method == "rlimit":
            pytest.skip("RLIMIT_FSIZE limits the store's files too: covered by the tests below")
        env = child_env(kiseki_dir)
        _, err = run_child(
            disk.child_preamble(),
            env,
            "fullrun1",
            str(disk.path),
            "keep",
            lambda: disk.fill(512 * 1024),
        )
        assert err.count("cannot write the run log") == 1, err
        assert_exact_rows("full/fullrun1", [row(i) for i in range(ROWS)])
        assert kiseki.Api().run("full/fullrun1").state == "finished"
        steps = assert_clean_prefix_log(disk.path)
        assert 0 < len(steps) < ROWS
        assert "applied 0 of" in run_cli("sync", *map(str, disk.path.glob("run-*")))


@pytest.mark.slow
def test_disk_full_then_freed_loses_nothing(kiseki_dir: Path, tmp_path: Path) -> None:
    with small_disk(tmp_path, 16 * 1024 * 1024) as disk:
        env = child_env(disk.path)  # the store and the run log on the small disk
        _, err = run_child(
            disk.child_preamble(), env, "fullfree", "", "free", lambda: disk.fill(1024 * 1024)
        )
        assert err.count("cannot write the run log") == 1, err
        assert "is writable again" in err
        os.environ["KISEKI_DIR"] = str(disk.path)
        try:
            assert_exact_rows("full/fullfree", [row(i) for i in range(ROWS)])
            assert kiseki.Api().run("full/fullfree").state == "finished"
            assert len(assert_clean_prefix_log(disk.path / "runs")) == ROWS  # kept, then written
        finally:
            os.environ["KISEKI_DIR"] = str(kiseki_dir)


@pytest.mark.slow
def test_disk_that_stays_full_keeps_everything_up_to_the_fault(
    kiseki_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with small_disk(tmp_path, 16 * 1024 * 1024) as disk:
        env = child_env(disk.path)
        _, err = run_child(
            disk.child_preamble(),
            env,
            "fullstay",
            "",
            "keep",
            lambda: disk.fill(1024 * 1024),
            finish_timeout=1.0,  # the store cannot take the rest: do not wait long
        )
        assert err.count("cannot write the run log") == 1, err
        monkeypatch.setenv("KISEKI_DIR", str(disk.path))
        rows = stored_rows("full/fullstay")
        assert 0 < len(rows) < ROWS
        assert_exact_rows("full/fullstay", [row(i) for i in range(len(rows))])  # a clean prefix
        steps = assert_clean_prefix_log(disk.path / "runs")
        if disk.method != "rlimit":
            disk.filler.unlink()  # space again: sync what the log holds that the store lacks
        run_cli("sync")
        stored = stored_rows("full/fullstay")
        assert len(stored) == max(len(rows), len(steps))
        assert_exact_rows("full/fullstay", [row(i) for i in range(len(stored))])
