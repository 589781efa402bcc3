"""Where the read API finds media bytes: the local blob store, or a kiseki server."""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from kiseki.blobs import LocalBlobStore


class ServerBlobReader:
    """Reads blobs with ``GET /api/v1/blobs/{digest}`` and keeps each one in a local cache
    directory (blobs never change, so a cached one is always right)."""

    def __init__(self, base_url: str, api_key: str | None, cache_dir: Path | None = None) -> None:
        self.base_url = base_url
        self.api_key = api_key
        uid = os.getuid() if hasattr(os, "getuid") else 0
        root = cache_dir or Path(tempfile.gettempdir()) / f"kiseki-blob-cache-{uid}"
        self.cache = LocalBlobStore(root)
        self._client: Any = None
        self._lock = threading.Lock()

    def read_bytes(self, digest: str) -> bytes:
        """The blob's bytes, downloaded (and verified) on first use."""
        if not self.cache.has(digest):
            from kiseki.blobs.remote import RemoteBlobClient

            with self._lock:
                if self._client is None:
                    self._client = RemoteBlobClient(self.base_url, self.api_key)
                self._client.fetch_into(digest, self.cache)
        return self.cache.read_bytes(digest)


def blob_reader_for(queries: Any) -> Any:
    """The blob reader matching the read API's store: a server's when ``queries`` talk to
    one, else the ``blobs`` directory beside the embedded SQLite file (``<KISEKI_DIR>``)."""
    client = getattr(queries, "client", None)
    if client is not None:
        return ServerBlobReader(client.base_url, client.api_key)
    engine = getattr(queries, "engine", None)
    database = getattr(getattr(engine, "url", None), "database", None)
    if engine is not None and engine.dialect.name == "sqlite" and database:
        from kiseki.blobs import local_blob_store

        return local_blob_store(Path(database).parent)
    return None
