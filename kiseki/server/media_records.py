"""How the server checks the media record a client sends (``MediaStored``) before applying
it: a list of SHA-256 digests of blobs the client uploaded first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiseki.blobs.local import is_digest
from kiseki.errors import UsageError

INT64_MAX = 2**63 - 1
MAX_MEDIA_DIGESTS = 10_000
"""The most blobs one ``MediaStored`` record may name (one ``log()`` call's media)."""


def _seq(value: Any, where: str, limits: Any) -> int:
    if type(value) is not int or not 1 <= value <= INT64_MAX:
        raise UsageError(f"{where} must be a sequence number (an integer from 1).")
    return value


def _digests(value: Any, where: str, limits: Any) -> list[str]:
    if type(value) is not list or len(value) > MAX_MEDIA_DIGESTS:
        raise UsageError(f"{where} must be a list of at most {MAX_MEDIA_DIGESTS} digests.")
    for index, digest in enumerate(value):
        if not is_digest(digest):
            raise UsageError(
                f"{where}[{index}] must be a SHA-256 digest (64 lowercase hex characters), "
                f"not {digest!r}."
            )
    return value


MEDIA_RECORD_CHECKS: dict[str, dict[str, Callable[[Any, str, Any], Any]]] = {
    "MediaStored": {"seq": _seq, "digests": _digests},
}
