"""``Artifact``: a versioned set of files (a dataset, a model) logged and used by runs.

Build one, add files, and log it from a run; every distinct content becomes a new version
(``v0``, ``v1``, …) and identical content makes none::

    artifact = kiseki.Artifact("mnist", type="dataset", metadata={"rows": 60000})
    artifact.add_file("train.csv")
    artifact.add_dir("images/", name="images")
    run.log_artifact(artifact, aliases=["best"])

Read one back with ``run.use_artifact("mnist:latest")`` or ``kiseki.Api().artifact(...)``,
then ``download()`` it into ``./artifacts/mnist:v3`` (each file verified against its
SHA-256; files already there and correct are not fetched again).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from kiseki.artifacts.manifest import ArtifactEntry, hash_file, manifest_digest
from kiseki.artifacts.names import (
    check_artifact_name,
    check_artifact_type,
    check_entry_path,
)
from kiseki.blobs.local import BlobCorruptError
from kiseki.errors import AuthError, KisekiError, NotFoundError, UsageError

if TYPE_CHECKING:
    from kiseki.api.run import Run as ApiRun
    from kiseki.artifacts.sources import ArtifactSource
    from kiseki.store.artifact_queries import ArtifactVersionRecord


class ArtifactVerifyError(BlobCorruptError):
    """Downloaded files differ from the artifact's manifest (changed, damaged or missing)."""


class ArtifactWaitTimeoutError(KisekiError, TimeoutError):
    """``Artifact.wait(timeout)`` ran out of time before the version was stored."""


StoredVersionLookup = Callable[[], "tuple[ArtifactVersionRecord, ArtifactSource] | None"]
"""Finds the stored version of a logged artifact (``None`` while it is not stored yet)."""

WAIT_FIRST_POLL_S = 0.05
WAIT_MAX_POLL_S = 1.0


class Artifact:
    """A named, typed set of files with a description and metadata.

    ``name`` may hold letters, digits, ``.``, ``_`` and ``-``; ``type`` is a word such as
    ``dataset`` or ``model``. After logging or fetching, ``version`` (``"v3"``), ``aliases``,
    ``digest``, ``size`` and ``created_at`` describe the stored version.
    """

    def __init__(
        self,
        name: str,
        type: str,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.name = check_artifact_name(name)
        self.type = check_artifact_type(type)
        self.description = description
        if metadata is not None and not isinstance(metadata, dict):
            raise UsageError(f"Artifact metadata must be a dict, not {type_name(metadata)}.")
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.entity: str | None = None
        self.project: str | None = None
        self.version: str | None = None
        self.aliases: list[str] = []
        self.created_at: datetime | None = None
        self._entries: dict[str, ArtifactEntry] = {}
        self._source: ArtifactSource | None = None
        self._record: ArtifactVersionRecord | None = None
        self._temp_dir: tempfile.TemporaryDirectory[str] | None = None
        self._logged_digest: str | None = None
        self._lookup: StoredVersionLookup | None = None
        self._unwaitable: str | None = None  # why wait() cannot work (an offline run)

    # -- building ------------------------------------------------------------------------
    def _check_editable(self) -> None:
        if self._record is not None or self._logged_digest is not None:
            raise UsageError(
                f"Artifact {self.name!r} was logged or fetched and cannot change: create a new "
                "kiseki.Artifact with the same name to log a new version."
            )

    def _add(self, entry: ArtifactEntry) -> ArtifactEntry:
        entry.path = check_entry_path(entry.path)
        if entry.path in self._entries:
            raise UsageError(
                f"Artifact {self.name!r} already has an entry {entry.path!r}: remove it first "
                "or pass another name=."
            )
        self._entries[entry.path] = entry
        return entry

    def add_file(
        self, local_path: str | os.PathLike[str], name: str | None = None
    ) -> ArtifactEntry:
        """Add the file at ``local_path`` as ``name`` (default: its file name)."""
        self._check_editable()
        path = Path(local_path)
        if not path.is_file():
            raise NotFoundError(f"No file {path} to add to artifact {self.name!r}.")
        digest, size = hash_file(path)
        return self._add(ArtifactEntry(name or path.name, digest, size, local_path=path.resolve()))

    def add_dir(self, local_path: str | os.PathLike[str], name: str | None = None) -> None:
        """Add every file under the directory ``local_path``, under ``name/`` when given.

        Symbolic links that lead out of the directory are refused (they would add files the
        directory does not hold)."""
        self._check_editable()
        root = Path(local_path)
        if not root.is_dir():
            raise NotFoundError(f"No directory {root} to add to artifact {self.name!r}.")
        resolved_root = root.resolve()
        for file in sorted(root.rglob("*")):
            if file.is_symlink() and not file.resolve().is_relative_to(resolved_root):
                raise UsageError(
                    f"{file} is a symbolic link to {file.resolve()}, outside {root}: add that "
                    "file itself with add_file() if it belongs in the artifact."
                )
            if file.is_file():
                relative = file.relative_to(root).as_posix()
                self.add_file(file, f"{name}/{relative}" if name else relative)

    @contextlib.contextmanager
    def new_file(
        self, name: str, mode: str = "w", encoding: str | None = None
    ) -> Iterator[IO[Any]]:
        """Write a new file ``name`` into the artifact::

        with artifact.new_file("labels.txt") as f:
            f.write("cat\\ndog\\n")
        """
        self._check_editable()
        entry_path = check_entry_path(name)
        if self._temp_dir is None:
            self._temp_dir = tempfile.TemporaryDirectory(prefix="kiseki-artifact-")
        target = Path(self._temp_dir.name) / entry_path
        target.parent.mkdir(parents=True, exist_ok=True)
        if "b" not in mode and encoding is None:
            encoding = "utf-8"
        with open(target, mode, encoding=encoding) as stream:
            yield stream
        self.add_file(target, entry_path)

    def add_reference(self, uri: str, name: str | None = None) -> list[ArtifactEntry]:
        """Track ``uri`` (``file://``, ``http(s)://``, ``s3://``) by checksum or ETag without
        copying it; a ``file://`` directory or an ``s3://`` prefix adds each file in it."""
        from kiseki.artifacts.references import reference_entries

        self._check_editable()
        return [self._add(entry) for entry in reference_entries(uri, name)]

    def remove(self, item: str | ArtifactEntry) -> None:
        """Remove an entry (by path or entry); every entry under a directory path."""
        self._check_editable()
        path = check_entry_path(item.path if isinstance(item, ArtifactEntry) else item)
        doomed = [p for p in self._entries if p == path or p.startswith(path + "/")]
        if not doomed:
            raise NotFoundError(f"Artifact {self.name!r} has no entry {path!r}.")
        for p in doomed:
            del self._entries[p]

    def get_entry(self, name: str) -> ArtifactEntry:
        """The entry at path ``name``."""
        self._load_manifest()
        path = check_entry_path(name)
        if path not in self._entries:
            known = ", ".join(sorted(self._entries)[:10]) or "none"
            raise NotFoundError(f"Artifact {self.name!r} has no entry {path!r}; it has: {known}.")
        return self._entries[path]

    # -- describing ------------------------------------------------------------------------
    @property
    def manifest(self) -> list[dict[str, Any]]:
        """Every entry as ``{"path", "digest", "size", "ref"}``, by path."""
        self._load_manifest()
        return [self._entries[p].to_json() for p in sorted(self._entries)]

    @property
    def digest(self) -> str:
        """The content digest (over every entry's path and digest)."""
        if self._record is not None:
            return self._record.digest
        return manifest_digest(list(self._entries.values()))

    @property
    def size(self) -> int:
        """Total bytes of the entries."""
        if self._record is not None:
            return self._record.size
        return sum(e.size for e in self._entries.values())

    @property
    def qualified_name(self) -> str:
        """``entity/project/name:version`` once stored, else the name."""
        if self.version is None or self.entity is None:
            return self.name
        return f"{self.entity}/{self.project}/{self.name}:{self.version}"

    def __repr__(self) -> str:
        files = self._record.file_count if self._record is not None else len(self._entries)
        return f"<Artifact {self.qualified_name} type={self.type} files={files}>"

    # -- stored versions ---------------------------------------------------------------------
    @classmethod
    def _from_record(cls, record: ArtifactVersionRecord, source: ArtifactSource) -> Artifact:
        artifact = cls(record.name, record.type, record.description, record.metadata)
        artifact._bind(record, source)
        return artifact

    def _bind(self, record: ArtifactVersionRecord, source: ArtifactSource) -> None:
        self._record = record
        self._source = source
        self.entity, self.project = record.entity, record.project
        self.version = record.version
        self.aliases = list(record.aliases)
        self.created_at = datetime.fromtimestamp(record.created_at, tz=timezone.utc)
        self._entries = {}

    def _load_manifest(self) -> None:
        if self._record is not None and self._source is not None and not self._entries:
            for data in self._source.manifest(self._record):
                entry = ArtifactEntry.from_json(data)
                self._entries[entry.path] = entry

    def _require_stored(self, action: str) -> tuple[ArtifactVersionRecord, ArtifactSource]:
        if self._record is None or self._source is None:
            raise UsageError(
                f"Artifact {self.name!r} is not a stored version, so it cannot {action}: get one "
                "with run.use_artifact() or kiseki.Api().artifact()."
            )
        return self._record, self._source

    def _target(self, root: Path, entry_path: str) -> Path:
        """Where an entry goes under ``root``; refuses paths or symlinks leaving ``root``."""
        relative = check_entry_path(entry_path)
        target = root / relative
        resolved_root = root.resolve()
        if not target.parent.resolve().is_relative_to(resolved_root) or (
            target.is_symlink() and not target.resolve().is_relative_to(resolved_root)
        ):
            raise UsageError(
                f"The entry {entry_path!r} would be written outside {root} (through a symbolic "
                "link); remove the link and download again."
            )
        return target

    def download(self, root: str | os.PathLike[str] | None = None) -> str:
        """Fetch every entry into ``root`` (default ``./artifacts/<name>:<version>``) and
        return that directory. Files already there with the right digest are kept; every
        fetched file is verified against its digest before it replaces anything."""
        record, source = self._require_stored("be downloaded")
        directory = (
            Path(root) if root is not None else Path("artifacts") / f"{self.name}:{record.version}"
        )
        directory.mkdir(parents=True, exist_ok=True)
        self._load_manifest()
        wanted: dict[str, list[Path]] = {}  # blob digest -> the files that get its bytes
        sizes: dict[str, int] = {}
        for entry in self._entries.values():
            target = self._target(directory, entry.path)
            if target.is_symlink():
                target.unlink()
            if target.is_file() and _matches(target, entry):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if entry.ref is not None:
                from kiseki.artifacts.references import fetch_reference

                fetch_reference(entry, target)
            else:
                wanted.setdefault(entry.digest, []).append(target)
                sizes[entry.digest] = entry.size
        if wanted:
            source.fetch_many(wanted, sizes)
        return str(directory)

    def verify(self, root: str | os.PathLike[str] | None = None) -> None:
        """Check that ``root`` (default: the download directory) holds every entry with the
        right digest; :class:`ArtifactVerifyError` lists the files that differ."""
        record, _source = self._require_stored("be verified")
        directory = (
            Path(root) if root is not None else Path("artifacts") / f"{self.name}:{record.version}"
        )
        self._load_manifest()
        problems = []
        for entry in self._entries.values():
            target = self._target(directory, entry.path)
            if not target.is_file():
                problems.append(f"{entry.path} is missing")
            elif entry.ref is None and not _matches(target, entry):
                problems.append(f"{entry.path} differs from the logged file")
        if problems:
            raise ArtifactVerifyError(
                f"{directory} does not match {self.qualified_name}: {'; '.join(problems[:10])}"
                f"{' …' if len(problems) > 10 else ''}. Run download() again to repair it."
            )

    def file(self, root: str | os.PathLike[str] | None = None) -> str:
        """Download a single-file artifact and return the file's path."""
        self._load_manifest()
        if len(self._entries) != 1:
            raise UsageError(
                f"Artifact {self.qualified_name} holds {len(self._entries)} files; file() is "
                "for single-file artifacts: use download() instead."
            )
        directory = Path(self.download(root))
        return str(directory / next(iter(self._entries)))

    def wait(self, timeout: float | None = None) -> Artifact:
        """After ``run.log_artifact(artifact)``, wait until the store holds the version
        (embedded: applied by the run's writer; with a server: uploaded and acknowledged),
        then fill in ``version``, ``aliases``, ``digest``, ``created_at`` so that
        ``download()`` and ``verify()`` work on this object; returns it.

        Raises :class:`ArtifactWaitTimeoutError` after ``timeout`` seconds (``None``: no
        limit) and :class:`~kiseki.errors.UsageError` when the artifact was not logged or the
        run is offline (its versions are numbered when ``kiseki sync`` uploads it)."""
        if self._record is not None:
            return self
        if self._logged_digest is None:
            raise UsageError(
                f"Artifact {self.name!r} was not logged, so there is nothing to wait for: "
                "call run.log_artifact(artifact) first."
            )
        if self._lookup is None:
            raise UsageError(
                self._unwaitable or f"Artifact {self.name!r} was logged without a store to wait on."
            )
        if timeout is not None and timeout < 0:
            raise UsageError(f"wait(timeout=) takes seconds >= 0 or None, not {timeout!r}.")
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = WAIT_FIRST_POLL_S
        while True:
            try:
                found = self._lookup()
            except (NotFoundError, AuthError):
                raise
            except KisekiError:  # e.g. the server is unreachable for a moment: ask again
                found = None
            if found is not None:
                record, source = found
                self._bind(record, source)
                return self
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise ArtifactWaitTimeoutError(
                    f"Artifact {self.name!r} was not stored within {timeout} s (the run's "
                    "writer or the server is still busy, or the server is unreachable): "
                    "call wait() again with a longer timeout, or timeout=None."
                )
            time.sleep(delay if left is None else min(delay, left))
            delay = min(delay * 2, WAIT_MAX_POLL_S)

    # -- lineage -----------------------------------------------------------------------------
    def logged_by(self) -> ApiRun | None:
        """The run that logged this version (``None`` when it was deleted)."""
        from kiseki.api.run import Run as ApiRun

        record, source = self._require_stored("tell its lineage")
        run = source.producer(record)
        return None if run is None else ApiRun(source.run_queries, run)

    def used_by(self) -> list[ApiRun]:
        """The runs that used this version."""
        from kiseki.api.run import Run as ApiRun

        record, source = self._require_stored("tell its lineage")
        return [ApiRun(source.run_queries, run) for run in source.consumers(record)]

    # -- logging (called by Run.log_artifact) ---------------------------------------------
    def _store_blobs(self, blobs: Any) -> None:
        """Copy every added file into the local blob store, checking it did not change since
        it was added."""
        for entry in self._entries.values():
            if entry.ref is not None or entry.local_path is None:
                continue
            if blobs.has(entry.digest):
                continue
            with open(entry.local_path, "rb") as stream:
                try:
                    blobs.put_stream(stream, expected_digest=entry.digest)
                except BlobCorruptError as exc:
                    raise UsageError(
                        f"{entry.local_path} changed after it was added to artifact "
                        f"{self.name!r}: add it again, then log the artifact."
                    ) from exc

    def _mark_logged(self, entity: str, project: str, aliases: list[str]) -> None:
        self.entity, self.project = entity, project
        self._logged_digest = self.digest
        self.aliases = ["latest", *[a for a in aliases if a != "latest"]]
        if self._temp_dir is not None:
            self._temp_dir.cleanup()
            self._temp_dir = None


def _matches(path: Path, entry: ArtifactEntry) -> bool:
    if entry.ref is not None:
        return path.stat().st_size == entry.size and (
            not entry.ref.startswith("file:") or hash_file(path)[0] == entry.digest
        )
    return path.stat().st_size == entry.size and hash_file(path)[0] == entry.digest


def type_name(value: Any) -> str:
    """The type name of ``value`` for messages."""
    return type(value).__name__
