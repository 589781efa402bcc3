"""How a kiseki server is set up: its store, auth mode, timeouts and request limits."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from kiseki.store.database import StoreLocation

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What one ingest request may hold; a request over a limit is refused whole (HTTP 413
    for its size, 400 for the rest) and nothing of it is applied."""

    max_body_bytes: int = 32 * MiB
    """Request body, after gzip decompression."""
    max_records: int = 20_000
    """Records per request."""
    max_keys_per_row: int = 10_000
    """Keys in one history row."""
    max_key_length: int = 512
    """Characters in a history key (the store's column width)."""
    max_string_bytes: int = 1 * MiB
    """Characters in one string value (and encoded size of one list or dict value)."""
    max_blob_bytes: int = 64 * 1024 * MiB
    """One uploaded blob (an artifact file, a saved file, a media file)."""


@dataclass(frozen=True)
class ServerConfig:
    """A server's settings.

    ``store`` is a SQLite path or a ``postgresql://`` URL. With ``auth=False`` (``kiseki ui``)
    there is no login: every request acts as ``local_user``, who may do everything.
    ``heartbeat_timeout`` is how long a running run may stay silent before the watchdog
    stores it as ``crashed``; the watchdog looks every ``watchdog_interval`` seconds (default:
    a quarter of the timeout, at most 15 s; 0 turns it off).
    """

    store: str = ""
    auth: bool = True
    local_user: str | None = None
    heartbeat_timeout: float = 60.0
    watchdog_interval: float | None = None
    session_lifetime_s: float = 14 * 24 * 3600.0
    secure_cookies: bool | None = None
    """``Secure`` session cookies: ``None`` means when the request came over https."""
    limits: Limits = field(default_factory=Limits)
    blob_store: str = ""
    """Where artifact, file and media bytes go: a directory (default: ``blobs`` next to a
    SQLite store, ``~/.kiseki/server-blobs`` for PostgreSQL), or ``s3://bucket/prefix``."""
    s3_endpoint_url: str = ""
    """The endpoint of a self-hosted S3-compatible store (MinIO, ...); empty for AWS."""

    @property
    def blob_root(self) -> Path:
        """The directory of the local blob store."""
        if self.blob_store:
            return Path(self.blob_store).expanduser()
        location = self.location
        if location.is_sqlite and location.sqlite_path is not None:
            return Path(location.sqlite_path).parent / "blobs"
        return Path("~/.kiseki/server-blobs").expanduser()

    @property
    def location(self) -> StoreLocation:
        """Where the store is."""
        return StoreLocation.parse(self.store)

    @property
    def effective_watchdog_interval(self) -> float:
        """Seconds between watchdog sweeps (0: no watchdog)."""
        if self.watchdog_interval is not None:
            return max(0.0, self.watchdog_interval)
        return min(15.0, self.heartbeat_timeout / 4)

    def to_json(self) -> str:
        """The config as JSON (handed to worker processes through the environment)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServerConfig:
        """A config written by :meth:`to_json`."""
        data: dict[str, Any] = json.loads(text)
        limits = Limits(**data.pop("limits", {}))
        known = {f.name for f in fields(cls)}
        return cls(limits=limits, **{k: v for k, v in data.items() if k in known})

    @classmethod
    def local(cls, kiseki_dir: Path, user: str) -> ServerConfig:
        """The config of ``kiseki ui``: the embedded store of ``kiseki_dir``, no login, and no
        watchdog (local runs write the store directly and cannot come back from a stored
        ``crashed``; readers already show silent runs as crashed)."""
        location = StoreLocation.in_dir(kiseki_dir)
        return cls(
            store=str(location.sqlite_path), auth=False, local_user=user, watchdog_interval=0
        )
