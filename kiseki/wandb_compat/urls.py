"""Signed, expiring URLs for the client's file uploads and downloads.

The client PUTs and GETs those URLs without its API key, so each URL carries its own proof:
an HMAC of the method, the path and the expiry time, under the server's secret (shared by
all its workers, see :mod:`kiseki.wandb_compat.shared_state`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from urllib.parse import quote

from kiseki.errors import AuthError

URL_LIFETIME_S = 24 * 3600.0
"""How long a signed URL stays valid."""


class UrlSigner:
    """Makes and checks signed URLs under one secret."""

    def __init__(self, secret: bytes | None = None, lifetime_s: float = URL_LIFETIME_S) -> None:
        self._secret = secret or secrets.token_bytes(32)
        self.lifetime_s = lifetime_s

    def _signature(self, method: str, path: str, expires: int) -> str:
        message = f"{method}\n{path}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def sign(self, base_url: str, method: str, path: str) -> str:
        """An absolute URL for ``method`` on ``path`` (already URL-quoted), valid for
        :attr:`lifetime_s` seconds."""
        expires = int(time.time() + self.lifetime_s)
        signature = self._signature(method, path, expires)
        return f"{base_url.rstrip('/')}{path}?expires={expires}&signature={signature}"

    def check(self, method: str, path: str, expires: str | None, signature: str | None) -> None:
        """Raise :class:`AuthError` unless the URL's signature is right and not expired."""
        if not expires or not signature or not expires.isdigit():
            raise AuthError("This file URL is not signed: ask the server for a new one.")
        if int(expires) < time.time():
            raise AuthError("This file URL has expired: ask the server for a new one.")
        expected = self._signature(method, path, int(expires))
        if not hmac.compare_digest(expected, signature):
            raise AuthError("This file URL's signature is wrong: ask the server for a new one.")


def file_path(kind: str, entity: str, project: str, run_id: str, name: str) -> str:
    """The URL path of a run file, quoted (``kind``: ``upload`` or ``download``)."""
    parts = (entity, project, run_id, name)
    return f"/wandb-files/{kind}/" + "/".join(quote(p, safe="/") for p in parts)
