"""A kiseki server as a sink: records posted in compressed batches, retried with back-off.

Used by the SDK's writer thread, never by the caller's thread, so a slow or dead server can
delay data but never block ``log()``. The server applies records idempotently by
``(run, seq)``, so re-sending after a timeout is safe.
"""

from __future__ import annotations

import random
import time
import urllib.parse
import warnings
from collections.abc import Sequence
from typing import Any

from kiseki.blobs.local import LocalBlobStore, blob_digests_of
from kiseki.blobs.remote import RemoteBlobClient
from kiseki.errors import KisekiError, UsageError
from kiseki.httpclient import HttpClient, ServerUnavailableError
from kiseki.store.applier import RunKey

MAX_RECORDS_PER_REQUEST = 2000
BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 30.0


class BlobUploadWarning(UserWarning):
    """Blobs a record refers to could not be uploaded because no copy of them is left."""


class RetryLaterError(ServerUnavailableError):
    """The sink is backing off after failures; the writer keeps the records and tries later."""


def record_to_json(record: Any) -> dict[str, Any]:
    """The wire form of a run-log record: its fields plus ``type`` (the type code)."""
    fields = {name: getattr(record, name) for name in record.__slots__}
    fields["type"] = record.type_code
    return fields


def run_path(key: RunKey) -> str:
    """``/api/v1/runs/<entity>/<project>/<run_id>`` with each part URL-quoted."""
    parts = (urllib.parse.quote(part, safe="") for part in (key.entity, key.project, key.run_id))
    return "/api/v1/runs/" + "/".join(parts)


class HttpSink:
    """Sends a run's records to a kiseki server.

    ``acknowledged_seq`` is the highest sequence number the server has acknowledged;
    ``stop_requested`` turns true when someone stopped the run from the web app or the API.
    """

    def __init__(self, client: HttpClient, blobs: LocalBlobStore | None = None) -> None:
        self.client = client
        self.blobs = blobs
        """The local blob store whose blobs records refer to (uploaded before the record)."""
        self._blob_client: RemoteBlobClient | None = None
        self.acknowledged_seq = 0
        self.stop_requested = False
        self._failures = 0
        self._next_attempt = 0.0

    def _check_backoff(self) -> None:
        wait = self._next_attempt - time.monotonic()
        if wait > 0:
            raise RetryLaterError(
                f"the server {self.client.base_url} is unavailable; retrying in {wait:.1f} s", 0
            )

    def _failed(self) -> None:
        self._failures += 1
        delay = min(BACKOFF_MAX_S, BACKOFF_START_S * 2 ** (self._failures - 1))
        self._next_attempt = time.monotonic() + delay * random.uniform(0.8, 1.2)

    def _answered(self, data: Any) -> None:
        self._failures = 0
        self._next_attempt = 0.0
        if isinstance(data, dict):
            self.acknowledged_seq = max(self.acknowledged_seq, int(data.get("applied_seq") or 0))
            self.stop_requested = self.stop_requested or bool(data.get("stop_requested"))

    def apply(self, key: RunKey, records: Sequence[Any]) -> int:
        """Post ``records`` (in requests of at most 2,000); return the acknowledged cursor.

        Raises :class:`~kiseki.httpclient.ServerUnavailableError` (retry later; records up to
        ``acknowledged_seq`` are safe) or another :class:`~kiseki.errors.KisekiError` when the
        server refused the data (e.g. bad credentials).
        """
        self._check_backoff()
        path = run_path(key) + "/records"
        for start in range(0, len(records), MAX_RECORDS_PER_REQUEST):
            batch = records[start : start + MAX_RECORDS_PER_REQUEST]
            if batch[-1].seq <= self.acknowledged_seq:
                continue
            try:
                self._upload_blobs(key, batch)
                response = self.client.request(
                    "POST",
                    path,
                    {"records": [record_to_json(r) for r in batch]},
                    compress=True,
                )
            except ServerUnavailableError:
                self._failed()
                raise
            self._answered(response.data)
        return self.acknowledged_seq

    def _upload_blobs(self, key: RunKey, batch: Sequence[Any]) -> None:
        """Upload the blobs the batch's records refer to and the server lacks (resumable:
        blobs already there are skipped; the server verifies each against its digest)."""
        digests = [
            digest
            for record in batch
            if record.seq > self.acknowledged_seq
            for digest in blob_digests_of(record)
        ]
        if not digests:
            return
        if self._blob_client is None:
            self._blob_client = RemoteBlobClient(self.client.base_url, self.client.api_key)
        if self.blobs is None:
            raise UsageError(
                "Records refer to blobs, but this HttpSink was made without the local blob "
                "store that holds them: pass blobs=local_blob_store(KISEKI_DIR)."
            )
        local = self.blobs
        report = self._blob_client.upload_missing(digests, local, lambda: self._keep_alive(key))
        if report.unavailable:
            warnings.warn(
                f"kiseki: {len(report.unavailable)} blob(s) the run refers to (e.g. "
                f"{report.unavailable[0]}) are neither on {self.client.base_url} nor in "
                f"{local.root}; their records are sent without them, and downloading them "
                "will fail. Keep the local blob store until a run is uploaded.",
                BlobUploadWarning,
                stacklevel=2,
            )

    def _keep_alive(self, key: RunKey) -> None:
        """A heartbeat during a long upload (the writer thread is busy uploading, so its own
        heartbeats wait); a failure here is left to the upload itself to notice."""
        try:
            self.heartbeat(key)
        except KisekiError:
            pass

    def heartbeat(self, key: RunKey) -> None:
        """Tell the server the run is alive; learn whether it was asked to stop."""
        self._check_backoff()
        try:
            response = self.client.request("POST", run_path(key) + "/heartbeat", {}, timeout=10)
        except ServerUnavailableError:
            self._failed()
            raise
        self._answered(response.data)

    def applied_seq(self, key: RunKey) -> int:
        """The server's cursor for ``key`` (0 when the run is unknown there)."""
        from kiseki.errors import NotFoundError

        self._check_backoff()
        try:
            data = self.client.request("GET", run_path(key) + "/resume").data
        except NotFoundError:
            return 0
        except ServerUnavailableError:
            self._failed()
            raise
        return int((data or {}).get("applied_seq") or 0)

    def close(self) -> None:
        """Close the connection."""
        self.client.close()
        if self._blob_client is not None:
            self._blob_client.close()
