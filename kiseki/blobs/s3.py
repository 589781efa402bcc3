"""A blob store in S3-compatible object storage: ``s3://bucket/prefix/sha256/ab/cdef…``.

The same interface as :class:`~kiseki.blobs.local.LocalBlobStore`, for servers (``kiseki
server --blob-store s3://bucket/prefix``). Credentials and region come from the usual AWS
variables (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``, profiles)
through boto3; ``endpoint_url`` points at a self-hosted store (MinIO, Ceph, ...). Uploads go
through a local staging file (hashed while written), so no blob is ever held in memory whole.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from kiseki.blobs.local import BlobCorruptError, is_digest
from kiseki.errors import ConfigError, StoreError, UsageError

_COPY_CHUNK = 1024 * 1024


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` → ``("bucket", "some/prefix")``."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ConfigError(f"{url!r} is not an S3 location: use s3://bucket or s3://bucket/prefix.")
    return parsed.netloc, parsed.path.strip("/")


class S3BlobStore:
    """Blobs as objects under ``prefix`` in ``bucket``.

    >>> S3BlobStore("s3://blobs/prod", endpoint_url="http://minio:9000")  # doctest: +SKIP
    """

    def __init__(
        self, url: str, endpoint_url: str | None = None, staging: Path | str | None = None
    ) -> None:
        import boto3

        self.url = url
        self.bucket, self.prefix = parse_s3_url(url)
        self.endpoint_url = endpoint_url or None
        self._client: Any = boto3.client("s3", endpoint_url=self.endpoint_url)
        self._staging = Path(staging) if staging else Path(tempfile.gettempdir()) / "kiseki-s3"

    @property
    def root(self) -> str:
        """Where the blobs are, for messages."""
        return self.url

    def key(self, digest: str) -> str:
        """The object key of blob ``digest``."""
        if not is_digest(digest):
            raise UsageError(f"{digest!r} is not a SHA-256 digest (64 lowercase hex characters).")
        name = f"sha256/{digest[:2]}/{digest[2:]}"
        return f"{self.prefix}/{name}" if self.prefix else name

    def _head(self, digest: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            head: dict[str, Any] = self._client.head_object(
                Bucket=self.bucket, Key=self.key(digest)
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._error("look up", exc) from exc
        return head

    def _error(self, what: str, exc: Exception) -> StoreError:
        return StoreError(
            f"Cannot {what} blobs in {self.url}: {exc}. Check the bucket, the AWS credentials "
            "and --s3-endpoint-url."
        )

    def has(self, digest: str) -> bool:
        """Whether the blob is stored."""
        return self._head(digest) is not None

    def size(self, digest: str) -> int:
        """The stored blob's size in bytes."""
        head = self._head(digest)
        if head is None:
            raise FileNotFoundError(f"No blob {digest} in {self.url}")
        return int(head["ContentLength"])

    def staging_dir(self) -> Path:
        """Where incoming uploads are written before :meth:`adopt_file`."""
        return self._staging

    def adopt_file(self, source: Path | str, digest: str) -> None:
        """Upload the file at ``source`` (verified by the caller to hash to ``digest``) and
        remove it."""
        try:
            self._client.upload_file(str(source), self.bucket, self.key(digest))
        except StoreError:
            raise
        except Exception as exc:
            raise self._error("write", exc) from exc
        finally:
            Path(source).unlink(missing_ok=True)

    def put_stream(self, stream: BinaryIO, expected_digest: str | None = None) -> tuple[str, int]:
        """Store what ``stream`` yields (staged on disk while hashed); ``(digest, size)``."""
        self._staging.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=".incoming-", dir=self._staging)
        hasher = hashlib.sha256()
        size = 0
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
            self.adopt_file(temp_name, digest)
            return digest, size
        finally:
            if os.path.exists(temp_name):
                os.unlink(temp_name)

    def put_file(self, source: Path | str) -> tuple[str, int]:
        """Store a copy of the file at ``source``; ``(digest, size)``."""
        with open(source, "rb") as stream:
            return self.put_stream(stream)

    def put_bytes(self, data: bytes) -> str:
        """Store ``data``; returns its digest."""
        import io

        return self.put_stream(io.BytesIO(data))[0]

    def open(self, digest: str) -> BinaryIO:
        """The blob as a readable stream (raises ``FileNotFoundError`` if it is not stored)."""
        from botocore.exceptions import ClientError

        try:
            body = self._client.get_object(Bucket=self.bucket, Key=self.key(digest))["Body"]
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(f"No blob {digest} in {self.url}") from exc
            raise self._error("read", exc) from exc
        return body  # type: ignore[no-any-return]

    def read_bytes(self, digest: str) -> bytes:
        """The whole blob (for small blobs)."""
        with self.open(digest) as stream:
            return stream.read()

    def verify(self, digest: str) -> bool:
        """Whether the stored bytes still hash to ``digest``."""
        hasher = hashlib.sha256()
        stream = self.open(digest)
        try:
            while chunk := stream.read(_COPY_CHUNK):
                hasher.update(chunk)
        finally:
            stream.close()
        return hasher.hexdigest() == digest

    def digests(self) -> Iterator[str]:
        """Every stored digest."""
        base = f"{self.prefix}/sha256/" if self.prefix else "sha256/"
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=base):
            for item in page.get("Contents", []):
                digest = item["Key"][len(base) :].replace("/", "")
                if is_digest(digest):
                    yield digest

    def delete(self, digest: str) -> None:
        """Remove the blob (garbage collection); missing blobs are ignored."""
        self._client.delete_object(Bucket=self.bucket, Key=self.key(digest))


def open_blob_store(location: str, endpoint_url: str | None, default_root: Path) -> Any:
    """The blob store ``location`` names: ``s3://bucket/prefix`` or a directory (empty:
    ``default_root``)."""
    if location.startswith("s3://"):
        return S3BlobStore(location, endpoint_url=endpoint_url)
    from kiseki.blobs.local import LocalBlobStore

    return LocalBlobStore(Path(location).expanduser() if location else default_root)
