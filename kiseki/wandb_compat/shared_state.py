"""State the W&B-compatible endpoint shares between the processes of one server
(``kiseki server --workers N``): the secret that signs file URLs and the artifacts being
uploaded live in a directory every worker sees, so any worker can answer any request.

The directory is ``wandb-compat`` next to a SQLite store, or ``~/.kiseki/server-wandb-compat``
for a PostgreSQL store. Files are written whole (a temporary file, then a rename or a link),
so a reader never sees half of one.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kiseki.errors import UsageError
from kiseki.server.config import ServerConfig

SECRET_FILE = "url-secret"
"""The name of the URL-signing secret's file in :func:`state_dir`."""
SECRET_BYTES = 32


def state_dir(config: ServerConfig) -> Path:
    """The directory of the endpoint's shared state for a server with ``config``."""
    location = config.location
    if location.is_sqlite and location.sqlite_path is not None:
        return Path(location.sqlite_path).parent / "wandb-compat"
    return Path("~/.kiseki/server-wandb-compat").expanduser()


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``path`` whole: a temporary file in its directory (mode 0600), then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _read_secret(path: Path) -> bytes:
    data = path.read_bytes()
    if len(data) < SECRET_BYTES:
        raise UsageError(
            f"The URL-signing secret {path} is shorter than {SECRET_BYTES} bytes: delete it "
            "and restart the server (a new one is made; signed URLs given out before stop "
            "working)."
        )
    return data


def load_or_create_secret(directory: Path) -> bytes:
    """The server's URL-signing secret, kept in ``directory/url-secret`` (mode 0600). The
    first process to start makes it; a file appears whole or not at all (a link of a
    finished temporary file), so workers starting together all read the same secret."""
    path = directory / SECRET_FILE
    if path.exists():
        return _read_secret(path)
    directory.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-secret-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(secrets.token_bytes(SECRET_BYTES))
        os.chmod(temporary, 0o600)
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another worker was first: use its secret
    finally:
        Path(temporary).unlink(missing_ok=True)
    return _read_secret(path)


def remove_older_than(directory: Path, max_age_s: float) -> None:
    """Delete the entries of ``directory`` (files and one level of sub-directories) not
    changed for ``max_age_s`` seconds."""
    if not directory.is_dir():
        return
    cutoff = time.time() - max_age_s
    for entry in directory.iterdir():
        try:
            if entry.stat().st_mtime >= cutoff:
                continue
            if entry.is_dir():
                for inner in entry.rglob("*"):
                    if inner.is_file():
                        inner.unlink(missing_ok=True)
                for inner in sorted(entry.rglob("*"), reverse=True):
                    inner.rmdir()
                entry.rmdir()
            else:
                entry.unlink(missing_ok=True)
        except OSError:
            continue  # another worker removed or changed it meanwhile


class RunLocks:
    """Per-run locks that hold across the threads of a process and, with a ``directory``,
    across the worker processes of one machine (an ``flock`` on one small file per run), so
    two workers never number records of the same run alike."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @contextmanager
    def hold(self, name: str) -> Iterator[None]:
        """Hold the lock of ``name`` (a run's ``entity/project/run_id``) for the block."""
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            if self.directory is None:
                yield
                return
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / (hashlib.sha256(name.encode()).hexdigest()[:40] + ".lock")
            with open(path, "a+b") as handle:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
