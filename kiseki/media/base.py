"""What every media type shares: how ``log()`` recognises it and how it becomes JSON."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Protocol


class BlobWriter(Protocol):
    """Where media bytes go when logged (a :class:`~kiseki.blobs.LocalBlobStore`)."""

    def put_bytes(self, data: bytes) -> str:
        """Store ``data``; return its SHA-256 digest."""
        ...


class BlobReader(Protocol):
    """Where media bytes come from when read back."""

    def read_bytes(self, digest: str) -> bytes:
        """The bytes of blob ``digest``."""
        ...


class Media(ABC):
    """Base class of the values ``log()`` stores as media references.

    ``_kiseki_media`` lets :mod:`kiseki.sdk.values` recognise media by a class attribute,
    without importing this package on the hot path.
    """

    _kiseki_media: ClassVar[bool] = True
    json_type: ClassVar[str] = ""
    _reference: dict[str, Any] | None = None
    """The JSON reference a medium was read back from (``None`` for one made by the user)."""

    @abstractmethod
    def to_json(self, blobs: BlobWriter | None, digests: list[str]) -> dict[str, Any]:
        """The reference stored in history; bytes go to ``blobs`` (none when ``None``, as in
        disabled mode) and their digests are appended to ``digests``."""


def is_media(value: Any) -> bool:
    """Whether ``value`` is a media object (an :class:`Image`, :class:`Histogram`, ...)."""
    return getattr(type(value), "_kiseki_media", False) is True
