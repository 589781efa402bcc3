"""A loopback TCP proxy that resets and delays connections, for fault-injection tests.

Every chunk the server sends back is, at random (seeded), either dropped together with the
connection (the request was applied but the client never hears so: the case that tests
idempotency) or delayed; some requests are cut before they reach the server. The proxy only
ever talks to 127.0.0.1 and stops when :meth:`FlakyProxy.close` is called.
"""

from __future__ import annotations

import random
import socket
import struct
import threading
import time


def _reset(sock: socket.socket) -> None:
    """Close with RST instead of FIN (SO_LINGER 0).

    The other pump thread may be blocked in ``recv`` on this socket; a bare ``close`` would
    not release the socket until that call returns, so no RST would go out and the client
    would wait for its request timeout. ``shutdown(SHUT_RD)`` wakes it first (sending nothing).
    """
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass
    sock.close()


class FlakyProxy:
    """Forwards 127.0.0.1:<port> to 127.0.0.1:<target_port>, resetting and delaying."""

    def __init__(
        self,
        target_port: int,
        seed: int,
        reset_reply_rate: float = 0.3,
        reset_request_rate: float = 0.1,
        max_delay_s: float = 0.2,
    ) -> None:
        self.target_port = target_port
        self.rng = random.Random(seed)
        self.reset_reply_rate = reset_reply_rate
        self.reset_request_rate = reset_request_rate
        self.max_delay_s = max_delay_s
        self.resets = 0  # connections reset, of which:
        self.lost_replies = 0  # a reply the server sent was dropped (the request was applied)
        self.cut_requests = 0  # a request was cut before (all of) it reached the server
        self._lock = threading.Lock()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _chance(self) -> float:
        with self._lock:
            return self.rng.random()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=30)
        except OSError:
            _reset(client)
            return
        threading.Thread(target=self._pump_requests, args=(client, upstream), daemon=True).start()
        self._pump_replies(upstream, client)

    def _pump_requests(self, client: socket.socket, upstream: socket.socket) -> None:
        try:
            while not self._stopped.is_set():
                data = client.recv(65536)
                if not data:
                    break
                if self._chance() < self.reset_request_rate:
                    self.resets += 1
                    self.cut_requests += 1
                    _reset(client)
                    _reset(upstream)
                    return
                upstream.sendall(data)
        except OSError:
            pass
        _reset(upstream)

    def _pump_replies(self, upstream: socket.socket, client: socket.socket) -> None:
        try:
            while not self._stopped.is_set():
                data = upstream.recv(65536)
                if not data:
                    break
                if self._chance() < self.reset_reply_rate:
                    self.resets += 1
                    self.lost_replies += 1
                    break
                time.sleep(self._chance() * self.max_delay_s)
                client.sendall(data)
        except OSError:
            pass
        _reset(client)
        _reset(upstream)

    def close(self) -> None:
        """Stop accepting and forwarding."""
        self._stopped.set()
        self._listener.close()
        self._thread.join(timeout=5)
