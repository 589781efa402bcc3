"""Helpers for the fault-injection suite: child processes, store locks, small disks.

Tests import it as ``faultkit``.

Every scenario logs known data, injects a fault, then checks that the store holds exactly the
expected rows (nothing lost, nothing duplicated) and the run's final state.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner

import kiseki
from kiseki.cli.main import cli


def child_env(kiseki_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a child training process logging to ``kiseki_dir``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KISEKI_", "WANDB_"))}
    env.update(KISEKI_DIR=str(kiseki_dir), KISEKI_SILENT="true")
    env.update(extra)
    return env


def start_child(
    code: str, env: Mapping[str, str], *args: str, cwd: Path | None = None, **popen: Any
) -> subprocess.Popen[str]:
    """Start ``code`` in a fresh interpreter (stdout and stderr piped, text mode)."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=dict(env),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def run_cli(*args: str) -> str:
    """Run the ``kiseki`` command in-process; return its output (it must succeed)."""
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "200"}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def stored_rows(path: str) -> list[dict[str, Any]]:
    """Every history row of the run at ``path``, as the read API returns them."""
    return list(kiseki.Api().run(path).scan_history())


def same_value(got: Any, want: Any) -> bool:
    """Equality that treats NaN as equal to NaN, recursively."""
    if isinstance(want, float) and isinstance(got, float) and math.isnan(want):
        return math.isnan(got)
    if isinstance(want, dict):
        return (
            isinstance(got, dict)
            and got.keys() == want.keys()
            and all(same_value(got[k], want[k]) for k in want)
        )
    if isinstance(want, list):
        return (
            isinstance(got, list)
            and len(got) == len(want)
            and all(same_value(g, w) for g, w in zip(got, want, strict=True))
        )
    if isinstance(want, kiseki.Histogram):
        return (
            isinstance(got, kiseki.Histogram)
            and same_value(got.values, want.values)
            and same_value(got.bins, want.bins)
        )
    return type(got) is type(want) and got == want


def assert_exact_rows(path: str, expected: list[dict[str, Any]]) -> None:
    """The run's history is exactly ``expected`` (user keys; one row per step, in order)."""
    rows = stored_rows(path)
    steps = [row["_step"] for row in rows]
    assert len(steps) == len(set(steps)), f"duplicated steps in {path}"
    user_rows = [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows]
    assert len(user_rows) == len(expected), (
        f"{path}: {len(user_rows)} rows stored, {len(expected)} expected"
    )
    for got, want in zip(user_rows, expected, strict=True):
        assert same_value(got, want), f"{path}: stored {got!r}, expected {want!r}"


class StoreLock:
    """Another process holding the embedded store's write lock (``BEGIN IMMEDIATE``)."""

    CODE = """
        import sqlite3, sys
        conn = sqlite3.connect(sys.argv[1], isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        print("locked", flush=True)
        sys.stdin.read()
        """

    def __init__(self, kiseki_dir: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(self.CODE), str(kiseki_dir / "kiseki.db")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "locked"

    def release(self) -> None:
        """Let go of the lock (the holder exits)."""
        if self.process.poll() is None:
            self.process.communicate("", timeout=30)


# -- a small file system for disk-full scenarios ------------------------------------------------
@dataclass
class SmallDisk:
    """A directory where writes fail once ``size`` bytes are used.

    ``method`` is ``tmpfs`` (a size-limited tmpfs mount), ``loop`` (a loop-mounted ext2
    image) or ``rlimit`` (no mount allowed: the child's RLIMIT_FSIZE, with SIGXFSZ ignored,
    so that writes beyond the limit fail with EFBIG). :meth:`child_preamble` is code for the
    child process that sets the rlimit up when needed, and defines ``free_space()``.
    """

    path: Path
    size: int
    method: str
    rlimit_bytes: int = 1024 * 1024
    """With ``rlimit``, how large any file the child writes may grow."""

    @property
    def filler(self) -> Path:
        """The file :meth:`fill` writes (deleting it frees the space)."""
        return self.path / "filler.bin"

    def fill(self, leave: int) -> None:
        """Occupy the disk so that only about ``leave`` bytes stay free (tmpfs/loop only)."""
        if self.method == "rlimit":
            return
        stats = os.statvfs(self.path)
        free = stats.f_bavail * stats.f_frsize
        with open(self.filler, "wb") as handle:
            handle.write(b"\0" * max(0, free - leave))

    def child_preamble(self) -> str:
        """Python code run first in the child: RLIMIT_FSIZE when needed, and ``free_space()``."""
        if self.method == "rlimit":
            return textwrap.dedent(
                f"""
                import resource, signal
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                _hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
                resource.setrlimit(resource.RLIMIT_FSIZE, ({self.rlimit_bytes}, _hard))
                def free_space():
                    resource.setrlimit(resource.RLIMIT_FSIZE, (_hard, _hard))
                """
            )
        return textwrap.dedent(
            f"""
            import os
            def free_space():
                try:
                    os.unlink({str(self.filler)!r})
                except OSError:
                    pass
            """
        )


def _try(command: list[str]) -> bool:
    try:
        return subprocess.run(command, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@contextlib.contextmanager
def small_disk(base: Path, size: int) -> Iterator[SmallDisk]:
    """A :class:`SmallDisk` of ``size`` bytes: tmpfs if mounting is allowed, else a loop-mounted
    image, else RLIMIT_FSIZE in the child."""
    mount_point = base / f"small-disk-{uuid.uuid4().hex[:8]}"
    mount_point.mkdir(parents=True)
    forced = os.environ.get("FAULTS_SMALL_DISK")  # tmpfs, loop or rlimit: to test each path
    if forced in (None, "tmpfs") and _try(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)]
    ):
        method = "tmpfs"
    else:
        image = base / f"{mount_point.name}.img"
        with open(image, "wb") as handle:
            handle.truncate(max(size, 256 * 1024))
        if (
            forced in (None, "loop")
            and _try(["mkfs.ext2", "-q", "-F", str(image)])
            and _try(["mount", "-o", "loop", str(image), str(mount_point)])
        ):
            method = "loop"
        else:
            method = "rlimit"
            image.unlink()
    disk = SmallDisk(mount_point, size, method)
    try:
        yield disk
    finally:
        if method != "rlimit":
            subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, timeout=30)
        shutil.rmtree(mount_point, ignore_errors=True)


def kill(process: subprocess.Popen[str]) -> None:
    """SIGKILL ``process`` and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)


__all__ = [
    "SmallDisk",
    "StoreLock",
    "assert_exact_rows",
    "child_env",
    "kill",
    "run_cli",
    "same_value",
    "small_disk",
    "start_child",
    "stored_rows",
]
