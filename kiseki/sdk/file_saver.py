"""``run.save()``: files copied into the local blob store and recorded in the run log.

Every saved version is copied into the blob store first (content-addressed, so an unchanged
file costs nothing twice), then a :class:`~kiseki.runlog.records.FileSaved` record names it:
in remote mode the sink uploads the blob before the record. Policies, as in W&B:

* ``"now"``: copy the matching files once, now;
* ``"live"`` (default): copy them now and again whenever their size or modification time
  changes (a thread polls every :data:`LIVE_POLL_S` seconds; files that start matching the
  pattern later are picked up too), and a last time at finish;
* ``"end"``: copy them when the run finishes.

At start ``requirements.txt`` (the installed distributions, ``name==version``) is saved, and
with the ``save_code`` setting the main script as ``code/<script name>``.
"""

from __future__ import annotations

import functools
import glob
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiseki.blobs.local import LocalBlobStore
from kiseki.errors import UsageError
from kiseki.runlog.records import FileSaved
from kiseki.sdk.console import warn_once

POLICIES = ("live", "now", "end")
LIVE_POLL_S = 1.0
REQUIREMENTS_NAME = "requirements.txt"


@dataclass
class _Watched:
    pattern: str
    base: Path
    policy: str


@functools.lru_cache(maxsize=1)
def installed_requirements() -> str:
    """The environment's installed distributions as ``requirements.txt`` lines, sorted.

    Read from the names of the ``*.dist-info``/``*.egg-info`` directories on ``sys.path``
    (``name-version.dist-info``), which takes a millisecond or two, where reading every
    distribution's metadata would take hundreds; the first of a name on the path wins, as for
    imports. Cached for the process.
    """
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = sorted(os.listdir(entry or "."))
        except OSError:
            continue
        for name in names:
            stem, dot, suffix = name.rpartition(".")
            if not dot or suffix not in ("dist-info", "egg-info"):
                continue
            parts = stem.split("-")
            if len(parts) < 2 or not parts[0] or not parts[1]:
                continue
            project = parts[0].replace("_", "-")
            found.setdefault(project.lower(), f"{project}=={parts[1]}")
    return "".join(line + "\n" for line in sorted(found.values(), key=str.lower))


class RunFileSaver:
    """Saves a run's files: :meth:`save` from the caller, a polling thread for ``live`` ones."""

    def __init__(
        self,
        submit: Callable[[Any], None],
        blobs: LocalBlobStore,
        poll_interval: float | None = None,
    ) -> None:
        self._submit = submit
        self._blobs = blobs
        self._poll_interval = LIVE_POLL_S if poll_interval is None else poll_interval
        self._lock = threading.Lock()
        self._watched: list[_Watched] = []
        self._seen: dict[str, tuple[float, int]] = {}  # run path -> (mtime, size) saved
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned: set[str] = set()

    # -- the public call -------------------------------------------------------------------
    def save(self, glob_str: str | os.PathLike[str], base_path: Any, policy: str) -> list[str]:
        """Save the files matching ``glob_str`` with ``policy``; returns their names in the run.

        Names are relative to ``base_path`` (default: the working directory for a relative
        pattern, the pattern's directory for an absolute one).
        """
        if policy not in POLICIES:
            raise UsageError(
                f"save(policy={policy!r}) is not a policy: use 'live', 'now' or 'end'."
            )
        if not isinstance(glob_str, str | os.PathLike) or not str(glob_str):
            raise UsageError(
                f"save() needs a file path or glob pattern such as 'checkpoints/*.pt', "
                f"not {glob_str!r}."
            )
        pattern = os.fspath(glob_str)
        if base_path is None:
            base = Path(os.path.dirname(pattern)) if os.path.isabs(pattern) else Path.cwd()
        else:
            base = Path(os.fspath(base_path)).absolute()
        if not os.path.isabs(pattern):
            pattern = os.path.join(os.getcwd(), pattern)
        watched = _Watched(pattern, base, policy)
        matches = self._matches(watched)
        for path, name in matches:  # refuse names outside the base before saving anything
            if name.startswith("../") or name == "..":
                raise UsageError(
                    f"save({glob_str!r}): {path} is outside base_path {base}: pass a base_path "
                    "that contains the files (their names in the run are relative to it)."
                )
        if policy in ("now", "live"):
            for path, name in matches:
                self._save_file(path, name)
        if policy in ("live", "end"):
            with self._lock:
                self._watched.append(watched)
            if policy == "live":
                self._start_thread()
        return [name for _, name in matches]

    # -- automatic files -------------------------------------------------------------------
    def save_bytes(self, name: str, data: bytes, kind: str = "file") -> None:
        """Save ``data`` as the run file ``name``."""
        digest = self._blobs.put_bytes(data)
        self._submit(FileSaved(0, name, digest, len(data), time.time(), kind))

    def save_requirements(self) -> None:
        """Save ``requirements.txt`` (never raises: a failure is reported once)."""
        try:
            self.save_bytes(REQUIREMENTS_NAME, installed_requirements().encode())
        except Exception as exc:
            self._warn("requirements", f"kiseki: could not save requirements.txt: {exc!r}")

    def save_code(self, program: str | None) -> None:
        """Save the main script as ``code/<name>`` when it is a file (reported, never raises)."""
        if not program or not os.path.isfile(program):
            return
        try:
            digest, size = self._blobs.put_file(program)
            name = "code/" + os.path.basename(program)
            self._submit(FileSaved(0, name, digest, size, os.path.getmtime(program), "code"))
        except Exception as exc:
            self._warn("code", f"kiseki: could not save the script's code: {exc!r}")

    # -- finishing -------------------------------------------------------------------------
    def close(self) -> None:
        """Stop watching; save ``end`` files and changed ``live`` ones a last time."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self._poll_interval + 5.0)
        self._check_watched(final=True)

    # -- internals -------------------------------------------------------------------------
    def _matches(self, watched: _Watched) -> list[tuple[str, str]]:
        found = []
        for path in sorted(glob.glob(watched.pattern, recursive=True)):
            if os.path.isfile(path):
                name = Path(os.path.relpath(path, watched.base)).as_posix()
                found.append((path, name))
        return found

    def _save_file(self, path: str, name: str, kind: str = "file") -> None:
        stat = os.stat(path)
        digest, size = self._blobs.put_file(path)
        with self._lock:
            self._seen[name] = (stat.st_mtime, stat.st_size)
        self._submit(FileSaved(0, name, digest, size, stat.st_mtime, kind))

    def _start_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._main, name="kiseki-files", daemon=True)
            self._thread.start()

    def _main(self) -> None:
        while not self._stop.wait(self._poll_interval):
            self._check_watched(final=False)

    def _check_watched(self, final: bool) -> None:
        with self._lock:
            watched = list(self._watched)
        for entry in watched:
            if entry.policy == "end" and not final:
                continue
            try:
                matches = self._matches(entry)
            except OSError:
                continue
            for path, name in matches:
                if name.startswith("../"):
                    continue
                try:
                    stat = os.stat(path)
                    if entry.policy == "live" and self._seen.get(name) == (
                        stat.st_mtime,
                        stat.st_size,
                    ):
                        continue
                    self._save_file(path, name)
                except OSError as exc:  # deleted or unreadable meanwhile: try again later
                    self._warn("live", f"kiseki: could not save {path}: {exc.strerror or exc}")

    def _warn(self, topic: str, message: str) -> None:
        warn_once(self._warned, topic, message)
