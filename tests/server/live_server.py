"""A real ``kiseki server`` process on a free loopback port (for the end-to-end tests)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from kiseki.httpclient import HttpClient, ServerUnavailableError

START_TIMEOUT_S = 30.0


def create_user_key(store: str, name: str = "alice") -> str:
    """Create the store (schema included) if needed and the user ``name``; returns their API key."""
    from kiseki.store.accounts import AccountStore
    from kiseki.store.database import StoreLocation, create_store_engine, ensure_schema

    location = StoreLocation.parse(store)
    ensure_schema(location)
    engine = create_store_engine(location)
    try:
        return AccountStore(engine).create_user(name)[1]
    finally:
        engine.dispose()


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """``kiseki server --db <store>`` in a child process; ``stop`` sends SIGTERM."""

    def __init__(
        self, store: str, log_dir: Path, workers: int = 1, extra_args: Sequence[str] = ()
    ) -> None:
        self.store = store
        self.workers = workers
        self.extra_args = list(extra_args)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> LiveServer:
        """Start the server and wait until it answers."""
        command = [
            sys.executable,
            "-c",
            "from kiseki.cli.main import main; main()",
            "server",
            "--db",
            self.store,
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            *self.extra_args,
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ}
            )
        client = HttpClient(self.url, None, timeout=2.0)
        deadline = time.monotonic() + START_TIMEOUT_S
        try:
            while True:
                try:
                    client.request("GET", "/api/v1/version")
                    return self
                except ServerUnavailableError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        raise AssertionError(
                            f"kiseki server did not start:\n{self.log_path.read_text()}"
                        ) from None
                    time.sleep(0.1)
        finally:
            client.close()

    def stop(self) -> bool:
        """SIGTERM, then wait for the server to exit; returns whether it shut down gracefully
        (uvicorn finishes the requests in flight, then re-raises SIGTERM)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        log = self.log_path.read_text()
        return code in (0, -signal.SIGTERM) and "Application shutdown complete" in log
