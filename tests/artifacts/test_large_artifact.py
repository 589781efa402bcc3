"""A 1 GiB artifact goes to the server and back in bounded memory (client and server)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from artifact_world import LiveServer, create_users

pytestmark = pytest.mark.slow
MB = 1000 * 1000
CHILD = Path(__file__).with_name("large_artifact_child.py")


def peak_rss(pid: int) -> int:
    """A live process's peak resident set size in bytes (``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


@pytest.mark.timeout(600)
def test_a_1_gib_artifact_round_trips_in_under_200_mb(tmp_path: Path, kiseki_dir: Path) -> None:
    store = str(tmp_path / "server.db")
    keys = create_users(store, "alice")
    live = LiveServer(store, tmp_path, extra_args=["--blob-store", str(tmp_path / "blobs")])
    live.start()
    try:
        environment = {
            **os.environ,
            "KISEKI_BASE_URL": live.url,
            "KISEKI_API_KEY": keys["alice"],
            "KISEKI_DIR": str(kiseki_dir),
        }
        done = subprocess.run(
            [sys.executable, str(CHILD), str(tmp_path), "1024"],
            env=environment,
            capture_output=True,
            text=True,
            timeout=540,
        )
        assert done.returncode == 0, done.stderr
        client_peak = int(done.stdout.strip().splitlines()[-1])
        assert live.process is not None
        server_peak = peak_rss(live.process.pid)
    finally:
        live.stop()
    assert client_peak < 200 * MB, f"client peak RSS {client_peak / MB:.0f} MB"
    assert server_peak < 200 * MB, f"server peak RSS {server_peak / MB:.0f} MB"
