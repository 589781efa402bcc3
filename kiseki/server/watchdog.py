"""The heartbeat watchdog: stores ``crashed`` for running runs that stopped sending heartbeats.

It runs as a task on the server's event loop and does its database work in a worker thread.
With several server processes each runs one; the update is idempotent, so that is harmless.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.concurrency import run_in_threadpool

from kiseki.errors import KisekiError
from kiseki.server.ingest import WriteGate
from kiseki.store.queries import StoreQueries
from kiseki.store.runcontrol import mark_crashed

log = logging.getLogger("kiseki.server")


class Watchdog:
    """Marks silent runs ``crashed`` every ``interval`` seconds (``timeout`` of silence)."""

    def __init__(
        self, queries: StoreQueries, gate: WriteGate, timeout: float, interval: float
    ) -> None:
        self.queries = queries
        self.gate = gate
        self.timeout = timeout
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def sweep(self) -> int:
        """Mark the silent runs now; returns how many were marked."""
        with self.gate.held():
            return mark_crashed(self.queries, self.timeout)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                marked = await run_in_threadpool(self.sweep)
            except KisekiError as exc:  # the store is briefly unreachable: try next time
                log.warning("kiseki watchdog: %s", exc)
                continue
            if marked:
                log.info("kiseki watchdog: %d run(s) stopped sending heartbeats: crashed", marked)

    def start(self) -> None:
        """Start sweeping on the running event loop (no-op when ``interval`` is 0)."""
        if self.interval > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Stop sweeping."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
