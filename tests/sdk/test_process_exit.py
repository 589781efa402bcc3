"""Runs in real subprocesses: finish at exit, exit codes, SIGKILL, many writers at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import kiseki


def run_script(code: str, env_dir: Path, **extra_env: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with KISEKI_DIR=env_dir."""
    env = dict(os.environ, KISEKI_DIR=str(env_dir), **extra_env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def only_run(project: str):
    """The single run of ``project``."""
    runs = list(kiseki.Api().runs(project))
    assert len(runs) == 1
    return runs[0]


def test_run_left_open_is_finished_at_exit(kiseki_dir: Path) -> None:
    result = run_script(
        """
        import kiseki
        kiseki.init(project="exit0")
        for i in range(100):
            kiseki.log({"i": i})
        """,
        kiseki_dir,
    )
    assert result.returncode == 0, result.stderr
    run = only_run("exit0")
    assert run.state == "finished"
    assert run.history_rows == 100


def test_sys_exit_with_a_code_marks_the_run_failed(kiseki_dir: Path) -> None:
    result = run_script(
        """
        import sys, kiseki
        kiseki.init(project="exit3")
        kiseki.log({"i": 1})
        sys.exit(3)
        """,
        kiseki_dir,
    )
    assert result.returncode == 3
    run = only_run("exit3")
    assert (run.state, run.exit_code) == ("failed", 3)


def test_uncaught_exception_marks_the_run_failed(kiseki_dir: Path) -> None:
    result = run_script(
        """
        import kiseki
        kiseki.init(project="boom")
        kiseki.log({"i": 1})
        raise RuntimeError("boom")
        """,
        kiseki_dir,
    )
    assert result.returncode == 1
    assert "RuntimeError: boom" in result.stderr
    assert only_run("boom").state == "failed"


def test_console_prints_a_start_line_and_a_summary_table(kiseki_dir: Path) -> None:
    result = run_script(
        """
        import kiseki
        run = kiseki.init(project="chatty", name="loud-run")
        kiseki.log({"loss": 0.123456789, "acc": 0.9})
        kiseki.finish()
        """,
        kiseki_dir,
        KISEKI_SILENT="false",
    )
    assert "started run loud-run" in result.stderr
    assert "in project chatty" in result.stderr
    assert "loss" in result.stderr and "0.123457" in result.stderr
    silent = run_script(
        """
        import kiseki
        kiseki.init(project="quiet"); kiseki.log({"a": 1}); kiseki.finish()
        """,
        kiseki_dir,
        WANDB_SILENT="true",
    )
    assert "kiseki" not in silent.stderr


@pytest.mark.slow
def test_sigkill_leaves_a_crashed_run_with_everything_logged_before(
    kiseki_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KISEKI_HEARTBEAT_TIMEOUT", "1.5")  # for this process's reader
    script = textwrap.dedent(
        """
        import sys, time, kiseki
        kiseki.init(project="killed")
        i = 0
        while True:
            kiseki.log({"i": i, "t": time.time()})
            i += 1
            if i % 50 == 0:
                print(i, flush=True)
            time.sleep(0.002)
        """
    )
    env = dict(
        os.environ,
        KISEKI_DIR=str(kiseki_dir),
        KISEKI_HEARTBEAT_INTERVAL="0.3",
        KISEKI_HEARTBEAT_TIMEOUT="1.5",
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    for line in process.stdout:
        if int(line) >= 500:
            break
    time.sleep(0.8)
    killed_at = time.time()
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    process.stdout.close()
    time.sleep(1.6)
    run = only_run("killed")
    assert run.state == "crashed"
    rows = list(run.scan_history())
    steps = [r["i"] for r in rows]
    assert steps == list(range(len(steps))), "rows must be contiguous from step 0"
    last_logged_t = max(r["t"] for r in rows)
    assert last_logged_t >= killed_at - 0.5, (
        f"rows logged more than 0.5 s before the kill are missing: last stored row was logged "
        f"{killed_at - last_logged_t:.3f} s before it"
    )
    assert any(r.state == "crashed" for r in kiseki.Api().runs("killed", {"state": "crashed"}))


@pytest.mark.slow
def test_twenty_processes_log_to_one_store_without_losing_anything(kiseki_dir: Path) -> None:
    script = textwrap.dedent(
        """
        import sys, kiseki
        worker = int(sys.argv[1])
        run = kiseki.init(project="crowd", config={"worker": worker})
        for i in range(500):
            kiseki.log({"worker": worker, "i": i, "loss": 1.0 / (i + 1)})
        kiseki.finish()
        """
    )
    env = dict(os.environ, KISEKI_DIR=str(kiseki_dir))
    processes = [
        subprocess.Popen([sys.executable, "-c", script, str(n)], env=env, stderr=subprocess.PIPE)
        for n in range(20)
    ]
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    runs = list(kiseki.Api().runs("crowd"))
    assert len(runs) == 20
    assert sorted(r.config["worker"] for r in runs) == list(range(20))
    for run in runs:
        assert run.state == "finished"
        rows = list(run.scan_history())
        assert [r["i"] for r in rows] == list(range(500))
        assert {r["worker"] for r in rows} == {run.config["worker"]}
