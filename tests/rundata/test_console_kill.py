"""A run SIGKILLed while its console output streams: once its leftover run log is synced,
the store holds every line printed more than 0.5 s before the kill, each once and in order,
with its stream, and no line the child did not print (as for ``log()``, see test_sigkill)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import kiseki
from kiseki.cli.main import cli

pytestmark = pytest.mark.slow
GUARANTEE_S = 0.5
SEEDS = range(3)

CHILD = """
    import os, sys, time
    truth, run_id = sys.argv[1], sys.argv[2]
    import kiseki
    kiseki.init(project="conkill", id=run_id, settings={"stats_interval": 0})
    side = os.open(truth, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    i = 0
    while True:
        t = time.time()
        if i % 7 == 0:
            print(f"line {i} {t!r}", file=sys.stderr)
        else:
            sys.stdout.write(f"\\rprogress {i}")  # a progress bar redrawn, then ended
            print(f"\\rline {i} {t!r}")
        os.write(side, f"{i} {t!r}\\n".encode())
        i += 1
        if i % 20 == 0:
            time.sleep(0.002)
"""


def _truth(path: Path) -> dict[int, float]:
    printed: dict[int, float] = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        parts = line.split()
        if len(parts) == 2:
            printed[int(parts[0])] = float(parts[1])
    return printed


def _stored(run_id: str) -> list[tuple[str, str]]:
    if not any(p.name == "conkill" for p in kiseki.Api().projects()):
        return []
    if run_id not in {r.id for r in kiseki.Api().runs("conkill")}:
        return []
    return [(x.stream, x.text) for x in kiseki.Api().run(f"conkill/{run_id}").logs()]


def _check_prefix(lines: list[tuple[str, str]], printed: dict[int, float], seed: int) -> int:
    """The stored lines are lines 0..M of what the child printed; returns M + 1."""
    for number, (stream, text) in enumerate(lines):
        word, index, stamp = text.split()
        assert (word, int(index)) == ("line", number), (seed, text)
        assert float(stamp) == printed[number], (seed, text)
        assert stream == ("stderr" if number % 7 == 0 else "stdout"), (seed, text)
    return len(lines)


@pytest.mark.parametrize("seed", SEEDS)
def test_console_lines_survive_a_sigkill(kiseki_dir: Path, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    run_id = f"conkill{seed}"
    truth = tmp_path / "truth.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KISEKI_", "WANDB_"))}
    env.update(KISEKI_DIR=str(kiseki_dir), KISEKI_SILENT="true")
    with open(tmp_path / "child.out", "w") as out:
        child = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(CHILD), str(truth), run_id],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while len(_truth(truth)) < 50:
            assert child.poll() is None, (tmp_path / "child.out").read_text()[-2000:]
            assert time.monotonic() < deadline, "the child never started printing"
            time.sleep(0.02)
        time.sleep(rng.uniform(0.6, 1.2))
        killed_at = time.time()
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    printed = _truth(truth)
    before_sync = _check_prefix(_stored(run_id), printed, seed)
    run_dirs = sorted((kiseki_dir / "runs").glob(f"run-*-{run_id}"))
    assert run_dirs, "the child left no run directory"
    result = CliRunner().invoke(cli, ["sync", *map(str, run_dirs)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    after_sync = _check_prefix(_stored(run_id), printed, seed)
    must_have = [i for i, t in printed.items() if t <= killed_at - GUARANTEE_S]
    assert must_have, "the child printed nothing long enough before the kill"
    assert after_sync > max(must_have), (
        f"seed {seed}: {after_sync} lines stored ({before_sync} before sync); line "
        f"{max(must_have)} was printed {killed_at - printed[max(must_have)]:.2f} s before the kill"
    )
    assert before_sync <= after_sync <= len(printed)
