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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from kiseki import jsoncodec
from kiseki.blobs.frames import FRAME_MEDIA_TYPE, HEADER, frame_header, parse_header
from kiseki.blobs.local import BlobCorruptError, LocalBlobStore, copy_verified, is_digest
from kiseki.errors import ApiError, AuthError, NotFoundError

BLOCK_SIZE = 1024 * 1024
PROGRESS_INTERVAL_S = 5.0
MAX_DIGESTS_PER_QUERY = 5000
USER_AGENT = "kiseki-sdk"
SMALL_BLOB_BYTES = 1024 * 1024
"""Blobs under this size travel in batches; larger ones each in their own streamed request."""
BATCH_MAX_BYTES = 8 * 1024 * 1024
"""Bytes of blobs in one batch request (uploads and downloads)."""
BATCH_MAX_BLOBS = 1000
"""Blobs in one batch request."""


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
        small: list[tuple[str, int]] = []
        for digest in self.missing(digests):
            try:
                size = local.size(digest)
            except FileNotFoundError:
                report.unavailable.append(digest)
                continue
            if size < SMALL_BLOB_BYTES:
                small.append((digest, size))
                continue
            self.upload(digest, local, progress)
            report.sent += 1
            report.bytes_sent += size
        groups = [[digest for digest, _size in batch] for batch in batches(small)]
        last_progress = time.monotonic()
        # the next batch's body is read from disk while the server stores the current one
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kiseki-blob-batch") as pool:
            following = pool.submit(batch_body, groups[0], local) if groups else None
            for index, group in enumerate(groups):
                assert following is not None
                body = following.result()
                following = (
                    pool.submit(batch_body, groups[index + 1], local)
                    if index + 1 < len(groups)
                    else None
                )
                self.post_batch(body)
                report.sent += len(group)
                report.bytes_sent += len(body) - len(group) * HEADER.size
                if progress is not None and time.monotonic() - last_progress >= PROGRESS_INTERVAL_S:
                    last_progress = time.monotonic()
                    progress()
        return report

    def upload_batch(self, digests: list[str], local: LocalBlobStore) -> None:
        """Send the local blobs ``digests`` in one ``POST /api/v1/blobs/batch`` (meant for
        small blobs: the request body is built in memory); the server verifies each."""
        self.post_batch(batch_body(digests, local))

    def post_batch(self, body: bytes) -> None:
        """Send a body of frames (see :func:`batch_body`) to ``POST /api/v1/blobs/batch``."""
        path = f"{self._parsed.path}/api/v1/blobs/batch"
        response = self._exchange(
            "POST",
            path,
            body,
            {"Content-Type": FRAME_MEDIA_TYPE, "Content-Length": str(len(body))},
        )
        if response.status >= 400:
            self.close()  # the server may not have read the whole body
            self._fail("POST", path, response)
        response.read()

    def download_to(self, digest: str, target: Path, expected_size: int | None = None) -> int:
        """Stream the blob into the file ``target`` (via a temporary file beside it), verifying
        its digest; returns its size. Raises :class:`BlobCorruptError` on a damaged transfer."""
        path = self._path(digest)
        response = self._exchange("GET", path)
        if response.status >= 400:
            self._fail("GET", path, response)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            size = copy_verified(
                response, digest, target, "the download was damaged; download again."
            )
        except BaseException:
            self.close()
            raise
        return size

    def download_many(self, wanted: dict[str, list[Path]], sizes: dict[str, int]) -> None:
        """Download every blob of ``wanted`` (digest → the files to write it to), verified:
        those under ``SMALL_BLOB_BYTES`` (by ``sizes``) in batches through
        ``POST /api/v1/blobs/fetch``, the others one streamed ``GET`` each."""
        small = [(d, sizes.get(d, 0)) for d in wanted if sizes.get(d, 0) < SMALL_BLOB_BYTES]
        for digest in wanted:
            if sizes.get(digest, 0) >= SMALL_BLOB_BYTES:
                first, *others = wanted[digest]
                self.download_to(digest, first)
                _copy_to(first, others)
        for batch in batches(small):
            self.fetch_batch([digest for digest, _size in batch], wanted)

    def fetch_batch(self, digests: list[str], wanted: dict[str, list[Path]]) -> None:
        """Download the blobs ``digests`` in one ``POST /api/v1/blobs/fetch`` and write each
        (verified, via a temporary file) to its files in ``wanted``."""
        path = f"{self._parsed.path}/api/v1/blobs/fetch"
        body = jsoncodec.dumps_bytes({"digests": digests})
        response = self._exchange("POST", path, body, {"Content-Type": "application/json"})
        if response.status >= 400:
            self._fail("POST", path, response)
        try:
            for expected in digests:
                header = response.read(HEADER.size)
                if len(header) < HEADER.size:
                    raise BlobCorruptError(
                        f"The server's answer to {path} ended before blob {expected}: the "
                        "download was interrupted; download again."
                    )
                digest, size = parse_header(header)
                if digest != expected:
                    raise BlobCorruptError(
                        f"The server sent blob {digest!r} where {expected} was due: the "
                        "download was damaged; download again."
                    )
                data = response.read(size)
                if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
                    raise BlobCorruptError(
                        f"The bytes received for blob {digest} do not hash to it: the "
                        "download was damaged; download again."
                    )
                for target in wanted[digest]:
                    _write_atomically(target, data)
            response.read()
        except BaseException:
            self.close()
            raise

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


def batch_body(digests: list[str], local: LocalBlobStore) -> bytes:
    """The frames of the local blobs ``digests``, one after the other."""
    parts: list[bytes] = []
    for digest in digests:
        data = local.read_bytes(digest)
        parts += (frame_header(digest, len(data)), data)
    return b"".join(parts)


def batches(blobs: list[tuple[str, int]]) -> Iterable[list[tuple[str, int]]]:
    """``(digest, size)`` pairs grouped into batches of at most ``BATCH_MAX_BLOBS`` blobs and
    (unless one blob alone is larger) ``BATCH_MAX_BYTES`` bytes."""
    batch: list[tuple[str, int]] = []
    total = 0
    for digest, size in blobs:
        if batch and (len(batch) >= BATCH_MAX_BLOBS or total + size > BATCH_MAX_BYTES):
            yield batch
            batch, total = [], 0
        batch.append((digest, size))
        total += size
    if batch:
        yield batch


def _write_atomically(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a temporary file beside it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.part")
    try:
        temp.write_bytes(data)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def _copy_to(source: Path, targets: list[Path]) -> None:
    """Copy the downloaded file ``source`` to each of ``targets`` (the same blob at several
    paths of an artifact)."""
    import shutil

    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{target.name}.part")
        try:
            shutil.copyfile(source, temp)
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)


def _unavailable(base_url: str, exc: BaseException) -> Exception:
    from kiseki.httpclient import ServerUnavailableError

    return ServerUnavailableError(f"Cannot reach the kiseki server {base_url}: {exc}.", 0)
