"""A small HTTP client for talking to a kiseki server (standard library only).

Used by the SDK's sender thread and by the remote read API. Kept on the standard library so
that ``import kiseki`` and ``kiseki.init()`` stay fast; one keep-alive connection per client.
"""

from __future__ import annotations

import gzip
import http.client
import socket
import threading
import urllib.parse
from dataclasses import dataclass
from typing import Any

from kiseki import jsoncodec
from kiseki.errors import ApiError, AuthError, NotFoundError

USER_AGENT = "kiseki-sdk"


class ServerUnavailableError(ApiError):
    """The server could not be reached, timed out, or answered 5xx/429: try again later."""


@dataclass(frozen=True)
class Response:
    """A decoded JSON answer."""

    status: int
    data: Any


class HttpClient:
    """JSON requests to one kiseki server with an API key.

    >>> client = HttpClient("http://tracker:5757", "ks-...")   # doctest: +SKIP
    >>> client.request("GET", "/api/v1/viewer").data            # doctest: +SKIP
    """

    def __init__(self, base_url: str, api_key: str | None, timeout: float = 30.0) -> None:
        parsed = urllib.parse.urlsplit(base_url.rstrip("/"))
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ApiError(
                f"{base_url!r} is not a server URL: use e.g. http://tracker:5757 "
                "(KISEKI_BASE_URL or `kiseki login --host`).",
                status=0,
            )
        self.base_url = base_url.rstrip("/")
        self._scheme = parsed.scheme
        self._host = parsed.hostname
        self._port = parsed.port
        self._prefix = parsed.path
        self.api_key = api_key
        self.timeout = timeout
        self._connection: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            cls = (
                http.client.HTTPSConnection
                if self._scheme == "https"
                else http.client.HTTPConnection
            )
            self._connection = cls(self._host, self._port, timeout=self.timeout)
        return self._connection

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def close(self) -> None:
        """Close the keep-alive connection."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        compress: bool = False,
        timeout: float | None = None,
    ) -> Response:
        """Send ``body`` as JSON (gzip-compressed when ``compress``); decode the JSON answer.

        Raises :class:`ServerUnavailableError` for connection problems, timeouts, 5xx and 429;
        :class:`~kiseki.errors.AuthError` for 401/403; :class:`~kiseki.errors.NotFoundError`
        for 404; :class:`~kiseki.errors.ApiError` for other 4xx. Each carries the server's
        message.
        """
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        payload = None
        if body is not None:
            payload = jsoncodec.dumps_bytes(body)
            headers["Content-Type"] = "application/json"
            if compress:
                payload = gzip.compress(payload, compresslevel=1)
                headers["Content-Encoding"] = "gzip"
        with self._lock:
            status, raw = self._send(method, self._prefix + path, payload, headers, timeout)
        data = _decode(raw)
        if status < 400:
            return Response(status, data)
        message = data.get("error") if isinstance(data, dict) else None
        message = message or (raw[:200].decode(errors="replace") or f"HTTP {status}")
        where = f"{method} {self.base_url}{path}"
        if status in (401, 403):
            raise AuthError(f"{where} was refused ({status}): {message}")
        if status == 404:
            raise NotFoundError(message)
        if status >= 500 or status == 429:
            raise ServerUnavailableError(f"{where} failed ({status}): {message}", status)
        raise ApiError(f"{where} failed ({status}): {message}", status)

    def _send(
        self,
        method: str,
        path: str,
        payload: bytes | None,
        headers: dict[str, str],
        timeout: float | None,
    ) -> tuple[int, bytes]:
        for attempt in (1, 2):  # a keep-alive connection the server closed: reconnect once
            connection = self._connect()
            try:
                connection.timeout = timeout or self.timeout
                if connection.sock is not None:
                    connection.sock.settimeout(connection.timeout)
                connection.request(method, path, body=payload, headers=headers)
                response = connection.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                connection.close()
                self._connection = None
                if attempt == 2:
                    raise ServerUnavailableError(
                        f"{self.base_url} closed the connection: {exc}", 0
                    ) from exc
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                self._connection = None
                reason = "timed out" if isinstance(exc, socket.timeout) else str(exc)
                raise ServerUnavailableError(
                    f"Cannot reach the kiseki server {self.base_url}: {reason}.", 0
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return jsoncodec.loads(raw)
    except ValueError:
        return None
