"""A blob store in a local directory: ``<root>/sha256/ab/cdef…`` per digest."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from kiseki.errors import KisekiError, UsageError

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_COPY_CHUNK = 1024 * 1024


class BlobCorruptError(KisekiError):
    """A blob's bytes no longer match its digest (damaged on disk or in transfer)."""


def is_digest(value: str) -> bool:
    """Whether ``value`` is a SHA-256 digest as kiseki writes them (64 lowercase hex)."""
    return isinstance(value, str) and bool(_DIGEST.match(value))


def blob_digests_of(record: Any) -> list[str]:
    """The digests a run-log record refers to (records that carry blobs define
    ``blob_digests()``); a sink uploads these before it sends the record."""
    method = getattr(record, "blob_digests", None)
    return list(method()) if method is not None else []


def _check(digest: str) -> str:
    if not is_digest(digest):
        raise UsageError(f"{digest!r} is not a SHA-256 digest (64 lowercase hex characters).")
    return digest


class LocalBlobStore:
    """Blobs under ``root``; writes go to a temporary file renamed into place, so a reader
    never sees half a blob and a crash leaves at most a stray temporary file."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path(self, digest: str) -> Path:
        """Where the blob with ``digest`` lives (whether or not it exists)."""
        _check(digest)
        return self.root / "sha256" / digest[:2] / digest[2:]

    def has(self, digest: str) -> bool:
        """Whether the blob is stored."""
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        """The stored blob's size in bytes."""
        return self.path(digest).stat().st_size

    def put_bytes(self, data: bytes) -> str:
        """Store ``data``; returns its digest (storing the same bytes twice keeps one copy)."""
        digest = hashlib.sha256(data).hexdigest()
        if not self.has(digest):
            self._commit(digest, lambda out: out.write(data))
        return digest

    def put_file(self, source: Path | str) -> tuple[str, int]:
        """Store a copy of the file at ``source``, streaming; returns ``(digest, size)``."""
        with open(source, "rb") as stream:
            return self.put_stream(stream)

    def put_stream(self, stream: BinaryIO, expected_digest: str | None = None) -> tuple[str, int]:
        """Store what ``stream`` yields, in bounded memory; returns ``(digest, size)``.

        With ``expected_digest`` the bytes must hash to it, or :class:`BlobCorruptError` is
        raised and nothing is stored.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        hasher = hashlib.sha256()
        size = 0
        fd, temp_name = tempfile.mkstemp(prefix=".incoming-", dir=self.root)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(_COPY_CHUNK):
                    hasher.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            digest = hasher.hexdigest()
            if expected_digest is not None and digest != expected_digest:
                raise BlobCorruptError(
                    f"Received bytes hash to {digest}, not the announced {expected_digest}: "
                    "the transfer was damaged; send the blob again."
                )
            target = self.path(digest)
            if target.is_file():
                os.unlink(temp_name)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(temp_name, target)
            return digest, size
        except BaseException:
            if os.path.exists(temp_name):
                os.unlink(temp_name)
            raise

    def staging_dir(self) -> Path:
        """Where incoming uploads are written before :meth:`adopt_file` (same file system
        as the blobs, so adopting is a rename)."""
        return self.root

    def adopt_file(self, source: Path | str, digest: str) -> None:
        """Move the file at ``source``, whose bytes the caller verified to hash to
        ``digest``, into the store (a rename; ``source`` is gone afterwards)."""
        target = self.path(digest)
        if target.is_file():
            os.unlink(source)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)

    def open(self, digest: str) -> BinaryIO:
        """The blob opened for reading (raises ``FileNotFoundError`` if it is not stored)."""
        return open(self.path(digest), "rb")

    def read_bytes(self, digest: str) -> bytes:
        """The whole blob (for small blobs such as images)."""
        return self.path(digest).read_bytes()

    def verify(self, digest: str) -> bool:
        """Whether the stored bytes still hash to ``digest``."""
        hasher = hashlib.sha256()
        with self.open(digest) as stream:
            while chunk := stream.read(_COPY_CHUNK):
                hasher.update(chunk)
        return hasher.hexdigest() == digest

    def digests(self) -> Iterator[str]:
        """Every stored digest."""
        base = self.root / "sha256"
        if not base.is_dir():
            return
        for prefix in sorted(base.iterdir()):
            for item in sorted(prefix.iterdir()):
                digest = prefix.name + item.name
                if is_digest(digest):
                    yield digest

    def delete(self, digest: str) -> None:
        """Remove the blob (garbage collection); missing blobs are ignored."""
        self.path(digest).unlink(missing_ok=True)

    def _commit(self, digest: str, write: Any) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=".incoming-", dir=self.root)
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
            target = self.path(digest)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temp_name, target)
        except BaseException:
            if os.path.exists(temp_name):
                os.unlink(temp_name)
            raise


def copy_verified(stream: BinaryIO, digest: str, target: Path, advice: str) -> int:
    """Copy ``stream`` into the file ``target`` through a temporary file beside it, checking
    that the bytes hash to ``digest``; returns the size. On a mismatch nothing is written and
    :class:`BlobCorruptError` names the blob and ends with ``advice`` (what to do)."""
    temp = target.with_name(f".{target.name}.part")
    hasher = hashlib.sha256()
    size = 0
    try:
        with open(temp, "wb") as out:
            while chunk := stream.read(_COPY_CHUNK):
                hasher.update(chunk)
                out.write(chunk)
                size += len(chunk)
        if hasher.hexdigest() != digest:
            raise BlobCorruptError(
                f"The bytes of blob {digest} hash to {hasher.hexdigest()}; {target.name} was "
                f"not written: {advice}"
            )
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return size


def local_blob_store(kiseki_dir: Path | str) -> LocalBlobStore:
    """The blob store of a kiseki directory (``<KISEKI_DIR>/blobs``), which the embedded
    store and the SDK's local copies share."""
    return LocalBlobStore(Path(kiseki_dir) / "blobs")
