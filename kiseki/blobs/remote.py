"""Blobs on a kiseki server: asking which are missing, uploading and downloading, streamed.

The SDK writes every blob to its local store first; before a sink sends a record that refers
to blobs, :meth:`RemoteBlobClient.upload_missing` asks the server which of them it lacks (one
request) and streams each missing one (``PUT /api/v1/blobs/<digest>``). The server verifies
the bytes against the digest, so a damaged transfer stores nothing; an interrupted upload is
resumed by asking again (blobs already there are skipped).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from kiseki import jsoncodec
from kiseki.blobs.local import BlobCorruptError, LocalBlobStore, is_digest
from kiseki.errors import ApiError, AuthError, NotFoundError

BLOCK_SIZE = 1024 * 1024
PROGRESS_INTERVAL_S = 5.0
MAX_DIGESTS_PER_QUERY = 5000
USER_AGENT = "kiseki-sdk"


@dataclass
class UploadReport:
    """What :meth:`RemoteBlobClient.upload_missing` did."""

    sent: int = 0
    bytes_sent: int = 0
    unavailable: list[str] = field(default_factory=list)


class RemoteBlobClient:
    """The blob endpoints of one kiseki server, over its own keep-alive connection.

    >>> client = RemoteBlobClient("http://tracker:5757", "ks-...")   # doctest: +SKIP
    >>> client.upload_missing(["ab12…"], local_blob_store("~/.kiseki"))   # doctest: +SKIP
    1
    """

    def __init__(self, base_url: str, api_key: str | None, timeout: float = 300.0) -> None:
        parsed = urllib.parse.urlsplit(base_url.rstrip("/"))
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ApiError(f"{base_url!r} is not a server URL (e.g. http://tracker:5757).", 0)
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self._parsed = parsed
        self._connection: http.client.HTTPConnection | None = None

    # -- plumbing ---------------------------------------------------------------------------
    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            cls = (
                http.client.HTTPSConnection
                if self._parsed.scheme == "https"
                else http.client.HTTPConnection
            )
            self._connection = cls(
                self._parsed.hostname or "",
                self._parsed.port,
                timeout=self.timeout,
                blocksize=BLOCK_SIZE,
            )
        return self._connection

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def close(self) -> None:
        """Close the connection."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _headers(self) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def _path(self, digest: str) -> str:
        return f"{self._parsed.path}/api/v1/blobs/{digest}"

    def _exchange(
        self,
        method: str,
        path: str,
        body: bytes | BinaryIO | None = None,
        headers: dict[str, str] | None = None,
    ) -> http.client.HTTPResponse:
        """Send one request and return the response (its body not yet read); reconnects once
        when a keep-alive connection was closed by the server."""
        all_headers = self._headers() | (headers or {})
        for attempt in (1, 2):
            connection = self._connect()
            try:
                connection.request(method, path, body=body, headers=all_headers)
                return connection.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self.close()
                if attempt == 2:
                    raise _unavailable(self.base_url, exc) from exc
                if body is not None and not isinstance(body, bytes):
                    body.seek(0)
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise _unavailable(self.base_url, exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _fail(self, method: str, path: str, response: http.client.HTTPResponse) -> None:
        raw = response.read()
        try:
            data = jsoncodec.loads(raw) if raw else None
        except ValueError:
            data = None
        message = data.get("error") if isinstance(data, dict) else None
        message = message or raw[:200].decode(errors="replace") or f"HTTP {response.status}"
        where = f"{method} {self.base_url}{path}"
        if response.status in (401, 403):
            raise AuthError(f"{where} was refused ({response.status}): {message}")
        if response.status == 404:
            raise NotFoundError(message)
        if response.status >= 500 or response.status == 429:
            from kiseki.httpclient import ServerUnavailableError

            raise ServerUnavailableError(f"{where} failed ({response.status}): {message}", 500)
        raise ApiError(f"{where} failed ({response.status}): {message}", response.status)

    # -- the operations ---------------------------------------------------------------------
    def missing(self, digests: Iterable[str]) -> list[str]:
        """The digests among ``digests`` that the server does not hold."""
        wanted = sorted({d for d in digests if is_digest(d)})
        missing: list[str] = []
        path = f"{self._parsed.path}/api/v1/blobs/missing"
        for start in range(0, len(wanted), MAX_DIGESTS_PER_QUERY):
            body = jsoncodec.dumps_bytes({"digests": wanted[start : start + MAX_DIGESTS_PER_QUERY]})
            response = self._exchange("POST", path, body, {"Content-Type": "application/json"})
            if response.status >= 400:
                self._fail("POST", path, response)
            missing.extend(jsoncodec.loads(response.read())["missing"])
        return missing

    def has(self, digest: str) -> bool:
        """Whether the server holds the blob."""
        path = self._path(digest)
        response = self._exchange("HEAD", path)
        response.read()
        if response.status == 404:
            return False
        if response.status >= 400:
            self._fail("HEAD", path, response)
        return True

    def upload(
        self, digest: str, local: LocalBlobStore, progress: Callable[[], None] | None = None
    ) -> None:
        """Stream the local blob ``digest`` to the server (which verifies it); ``progress``
        is called every few seconds while it goes (the sink sends heartbeats from it)."""
        path = self._path(digest)
        size = local.size(digest)
        with local.open(digest) as stream:
            body: Any = stream if progress is None else _ProgressReader(stream, progress)
            response = self._exchange(
                "PUT",
                path,
                body,
                {"Content-Type": "application/octet-stream", "Content-Length": str(size)},
            )
        if response.status >= 400:
            self._fail("PUT", path, response)
        response.read()

    def upload_missing(
        self,
        digests: Iterable[str],
        local: LocalBlobStore,
        progress: Callable[[], None] | None = None,
    ) -> UploadReport:
        """Upload every blob of ``digests`` the server lacks (one query, then one streamed
        ``PUT`` each); blobs the server already holds are skipped, so calling this again
        after an interruption resumes the upload. The report lists the blobs that the server
        lacks and the local store does not hold either (deleted after they were logged)."""
        report = UploadReport()
        for digest in self.missing(digests):
            if not local.has(digest):
                report.unavailable.append(digest)
                continue
            self.upload(digest, local, progress)
            report.sent += 1
            report.bytes_sent += local.size(digest)
        return report

    def download_to(self, digest: str, target: Path, expected_size: int | None = None) -> int:
        """Stream the blob into the file ``target`` (via a temporary file beside it), verifying
        its digest; returns its size. Raises :class:`BlobCorruptError` on a damaged transfer."""
        path = self._path(digest)
        response = self._exchange("GET", path)
        if response.status >= 400:
            self._fail("GET", path, response)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{target.name}.part")
        hasher = hashlib.sha256()
        size = 0
        try:
            with open(temp, "wb") as out:
                while chunk := response.read(BLOCK_SIZE):
                    hasher.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            if hasher.hexdigest() != digest:
                raise BlobCorruptError(
                    f"The bytes received for blob {digest} hash to {hasher.hexdigest()}: the "
                    "download was damaged; download again."
                )
            os.replace(temp, target)
        except BaseException:
            self.close()
            temp.unlink(missing_ok=True)
            raise
        return size

    def fetch_into(self, digest: str, local: LocalBlobStore) -> None:
        """Download the blob into the local blob store (verified)."""
        path = self._path(digest)
        response = self._exchange("GET", path)
        if response.status >= 400:
            self._fail("GET", path, response)
        try:
            local.put_stream(response, expected_digest=digest)  # type: ignore[arg-type]
        except BaseException:
            self.close()
            raise


class _ProgressReader:
    """A file wrapper that calls ``progress`` at most every ``PROGRESS_INTERVAL_S`` seconds
    while it is read (a long upload must not starve the run's heartbeats)."""

    def __init__(self, stream: BinaryIO, progress: Callable[[], None]) -> None:
        self._stream = stream
        self._progress = progress
        self._last = time.monotonic()

    def read(self, size: int = -1) -> bytes:
        """Read like the wrapped file; report progress now and then."""
        now = time.monotonic()
        if now - self._last >= PROGRESS_INTERVAL_S:
            self._last = now
            self._progress()
        return self._stream.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        """Seek the wrapped file (a retried request starts again from 0)."""
        return self._stream.seek(offset, whence)


def _unavailable(base_url: str, exc: BaseException) -> Exception:
    from kiseki.httpclient import ServerUnavailableError

    return ServerUnavailableError(f"Cannot reach the kiseki server {base_url}: {exc}.", 0)
