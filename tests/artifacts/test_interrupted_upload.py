"""A run killed while its artifact uploads leaves no half version; syncing its log later
resumes the upload (blobs already on the server are not sent again) and creates the version."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from artifact_world import LiveServer, create_users, use_server
from click.testing import CliRunner

import kiseki
from kiseki.artifacts.manifest import hash_file
from kiseki.cli.main import cli
from kiseki.errors import NotFoundError

pytestmark = pytest.mark.slow
CHILD = Path(__file__).with_name("upload_child.py")
FILES = 120
FILE_BYTES = 2 * 1024 * 1024


def digests(root: Path) -> dict[str, str]:
    """Each file's SHA-256 by relative path (the files are too big to compare in memory)."""
    return {p.relative_to(root).as_posix(): hash_file(p)[0] for p in root.rglob("*") if p.is_file()}


def server_blobs(root: Path) -> int:
    return sum(1 for p in (root / "sha256").rglob("*") if p.is_file())


def test_a_run_killed_mid_upload_leaves_no_half_version(
    tmp_path: Path, kiseki_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "chunks"
    source.mkdir()
    for index in range(FILES):
        (source / f"part-{index:03d}.bin").write_bytes(os.urandom(FILE_BYTES))
    store = str(tmp_path / "server.db")
    keys = create_users(store, "alice")
    blobs = tmp_path / "server-blobs"
    live = LiveServer(store, tmp_path, extra_args=["--blob-store", str(blobs)]).start()
    try:
        environment = {**os.environ, "KISEKI_BASE_URL": live.url, "KISEKI_API_KEY": keys["alice"]}
        child = subprocess.Popen(
            [sys.executable, str(CHILD), str(source)],
            env=environment,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        run_id = child.stdout.readline().strip()
        deadline = time.monotonic() + 60
        while server_blobs(blobs) < 3:  # some blobs are up, most are not
            assert time.monotonic() < deadline, "the upload did not start"
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        before = {p: p.stat().st_mtime_ns for p in (blobs / "sha256").rglob("*") if p.is_file()}
        assert len(before) < FILES, "the upload finished before the kill: make it bigger"

        use_server(monkeypatch, live.url, keys["alice"])
        api = kiseki.Api()
        with pytest.raises(NotFoundError):
            api.artifact("killed/chunks:latest")  # no half version

        result = CliRunner().invoke(cli, ["sync"])
        assert result.exit_code == 0, result.output
        version = api.artifact("killed/chunks:latest")
        assert version.version == "v0" and version.logged_by().id == run_id
        root = Path(version.download(tmp_path / "out"))
        assert digests(root) == digests(source)
        for path, mtime in before.items():  # resumed: what was there was not sent again
            assert path.stat().st_mtime_ns == mtime
    finally:
        live.stop()
