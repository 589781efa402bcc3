"""The writer thread: drains a run's queue into its run log, then into the store.

The caller's thread only appends to a deque (``log()`` stays in microseconds). Every
``flush_interval`` seconds this thread numbers the queued items, appends them to the run log
with one write, and applies them to the sink in one transaction. Nothing raised here reaches
the training script: failures are reported once on stderr, and records that could not be
applied stay in the run log for ``kiseki sync``. When the disk refuses the run log (full, over
quota) the records still reach the store and wait in memory, up to ``MAX_UNLOGGED_BYTES``, for
the disk to take them. ``close()`` (at ``finish()``) writes the run log from the caller's
thread first, so the log is complete even if the store stays locked past the finish timeout
or the process is interrupted while it waits. See docs/reliability.md.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiseki.runlog.framing import UnencodableRecordError, encode_records, split_encodable
from kiseki.runlog.records import HistoryRow, MetadataCaptured, RunFinished, SummaryChanged
from kiseki.runlog.writer import RunLogWriter
from kiseki.sdk.console import warn_once
from kiseki.sinks.sync import SYNCED_MARKER
from kiseki.store.applier import RunKey

MAX_PENDING_RECORDS = 200_000
"""Records kept in memory while the store refuses them; beyond this the log alone keeps them."""
FSYNC_INTERVAL_S = 5.0
MAX_UNLOGGED_BYTES = 64 * 1024 * 1024
"""Encoded records kept in memory while the disk refuses the run log (full, quota, I/O
error), written when it accepts them again; beyond this the oldest are dropped (reported)."""
CALLER_LOG_WAIT_S = 2.0
"""How long ``finish()`` waits for the writer thread to let go of the run log."""


class RunWriter:
    """Owns a run's log file and sink, fed by :meth:`submit` from the caller's thread.

    Items are either history tuples ``(step, timestamp, values)`` or record objects whose
    ``seq`` is assigned here.
    """

    def __init__(
        self,
        *,
        log_path: Path,
        key: RunKey,
        first_seq: int,
        start_time: float,
        runtime_offset: float,
        flush_interval: float,
        heartbeat_interval: float,
        sink_factory: Callable[[], Any] | None,
        summary_source: Callable[[], dict[str, Any] | None],
        metadata_source: Callable[[], dict[str, Any]] | None = None,
        on_stop_requested: Callable[[], None] | None = None,
    ) -> None:
        self.log_path = log_path
        self.key = key
        self._log = RunLogWriter(log_path)
        self._seq = first_seq
        self._start_time = start_time
        self._runtime_offset = runtime_offset
        self._flush_interval = flush_interval
        self._heartbeat_interval = heartbeat_interval
        self._sink_factory = sink_factory
        self._summary_source = summary_source
        self._metadata_source = metadata_source
        self._queue: collections.deque[Any] = collections.deque()
        self.submit = self._queue.append
        self._wake = threading.Event()
        self._stopping = False
        self._sink: Any = None
        self._sink_broken = False
        self._pending: list[Any] = []
        self._spilled = False
        self._deadline: float | None = None
        self._on_stop_requested = on_stop_requested
        self._stop_notified = False
        self._warned: set[str] = set()
        self.log_failed = False
        self.records_written = 0
        # the run log is written under this lock, by the thread or (at finish) by the caller;
        # records the caller wrote are handed over for delivery in _handoff
        self._log_lock = threading.Lock()
        self._handoff: list[Any] = []
        self._unlogged: collections.deque[tuple[bytes, int, int]] = collections.deque()
        self._unlogged_bytes = 0
        self._stored_seq = first_seq - 1
        self.records_dropped = 0
        self._thread = threading.Thread(target=self._main, name="kiseki-writer", daemon=True)

    # -- caller side ---------------------------------------------------------------------
    def start(self) -> None:
        """Start the thread."""
        self._wake.set()  # the first flush happens at once: the run is visible right away
        self._thread.start()

    def close(self, timeout: float) -> bool:
        """Ask the thread to flush everything and stop; wait up to ``timeout`` seconds.

        Returns ``True`` when everything queued reached the run log and the sink. The run
        log is written first, from this thread, so that it is complete even when the store
        hangs past the timeout or the process is interrupted while waiting.
        """
        deadline = time.monotonic() + timeout
        self._deadline = deadline
        self._stopping = True
        self.flush_log(min(timeout, CALLER_LOG_WAIT_S))
        self._wake.set()
        self._thread.join(max(0.0, deadline - time.monotonic()) + 1.0)
        return not self._thread.is_alive() and self.fully_applied

    def flush_log(self, wait: float) -> bool:
        """Write everything queued to the run log now, from the caller's thread, and fsync it.

        The writer thread delivers these records to the store afterwards. Returns ``False``
        when the thread held the log for more than ``wait`` seconds (a stalled disk); never
        raises.
        """
        if not self._log_lock.acquire(timeout=wait):
            return False
        try:
            if self._log.closed:
                return False
            self._handoff.extend(self._write_log(self._drain()))
            if not self._unlogged:
                self._log.sync()
            return True
        except Exception as exc:
            self._warn("flush", f"kiseki: writing the run log at finish failed: {exc!r}")
            return False
        finally:
            self._log_lock.release()

    @property
    def fully_applied(self) -> bool:
        """Whether every record so far is in the store (always false without a sink)."""
        return (
            self._sink is not None
            and not self._sink_broken
            and not self._pending
            and not self._spilled
            and not self._queue
            and not self._handoff
        )

    @property
    def backlog(self) -> int:
        """Items queued or not yet applied to the store."""
        return len(self._queue) + len(self._pending) + len(self._handoff)

    # -- thread side ---------------------------------------------------------------------
    def _main(self) -> None:
        try:
            self._open_sink()
            if self._metadata_source is not None:
                self._capture_metadata()
            last_store_write = time.monotonic()
            last_fsync = last_store_write
            while True:
                self._wake.wait(self._flush_interval)
                self._wake.clear()
                stopping = self._stopping
                try:
                    wrote = self._flush()
                    now = time.monotonic()
                    if wrote:
                        last_store_write = now
                    elif now - last_store_write >= self._heartbeat_interval:
                        self._heartbeat()
                        last_store_write = now
                    if now - last_fsync >= FSYNC_INTERVAL_S:
                        self._fsync()
                        last_fsync = now
                except Exception as exc:  # keep going: what is queued stays queued
                    self._warn("loop", f"kiseki: the run writer hit an error and goes on: {exc!r}")
                    if stopping and self._out_of_time():
                        break
                    continue
                if stopping and self._idle() and self._done_delivering():
                    break
        except BaseException as exc:  # never let anything reach the user's code
            self._warn("thread", f"kiseki: the run writer stopped unexpectedly: {exc!r}")
        finally:
            self._finish()

    def _open_sink(self) -> None:
        if self._sink_factory is None:
            return
        try:
            self._sink = self._sink_factory()
        except Exception as exc:
            self._sink_broken = True
            self._warn(
                "sink",
                f"kiseki: cannot open the store ({exc}); the run is kept in {self.log_path} "
                f"and `kiseki sync {self.log_path.parent}` will apply it later.",
            )

    def _capture_metadata(self) -> None:
        assert self._metadata_source is not None
        try:
            metadata = self._metadata_source()
        except Exception as exc:
            self._warn("metadata", f"kiseki: could not capture run metadata: {exc!r}")
            return
        from kiseki.sdk.values import replace_invalid_text  # e.g. undecodable bytes in argv

        self.submit(MetadataCaptured(0, replace_invalid_text(metadata)))

    def _drain(self) -> list[Any]:
        records: list[Any] = []
        queue = self._queue
        seq = self._seq
        start = self._start_time - self._runtime_offset
        finished = None
        while queue:
            item = queue.popleft()
            if type(item) is tuple:
                step, timestamp, values = item
                records.append(HistoryRow(seq, step, timestamp, timestamp - start, values))
            elif type(item) is RunFinished:
                finished = item
                continue
            else:
                item.seq = seq
                records.append(item)
            seq += 1
        try:
            summary = self._summary_source()
        except Exception as exc:
            self._warn("summary", f"kiseki: could not read the run's summary: {exc!r}")
            summary = None
        if summary is not None:
            records.append(SummaryChanged(seq, summary))
            seq += 1
        if finished is not None:
            finished.seq = seq
            records.append(finished)
            seq += 1
        self._seq = seq
        return records

    def _flush(self) -> bool:
        with self._log_lock:
            handed, self._handoff = self._handoff, []
            records = self._write_log(self._drain())
        if handed:
            records = handed + records
        if not records:
            return self._deliver()  # retry what an earlier flush could not store
        if self._sink is not None and not self._sink_broken:
            self._pending.extend(records)
        return self._deliver()

    def _idle(self) -> bool:
        """Whether nothing waits to be numbered or handed over (checked under the log lock)."""
        with self._log_lock:
            return not self._queue and not self._handoff

    def _out_of_time(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    # -- the run log: bounded memory while the disk refuses it -----------------------------
    def _write_log(self, records: list[Any]) -> list[Any]:
        """Append ``records`` to the run log (log lock held); return the ones to deliver.

        While the disk refuses the log (full, over quota, I/O error) the encoded records wait
        in memory, up to :data:`MAX_UNLOGGED_BYTES`, and every flush tries to write them again,
        oldest batch first, before anything goes to the store (which would otherwise take the
        space first); they reach the store meanwhile. A refused write costs nothing on a full
        disk. Records that cannot be encoded are dropped with a warning, before the store.
        """
        if not records and not self._unlogged:
            return records
        data, records = self._encode(records)
        if data:
            self._unlogged.append((data, records[-1].seq, len(records)))
            self._unlogged_bytes += len(data)
        unlogged = self._unlogged
        while unlogged:
            chunk, _, count = unlogged[0]
            try:
                self._log.write(chunk)
            except OSError as exc:
                self._log_write_failed(exc)
                self._bound_unlogged()
                return records
            unlogged.popleft()
            self._unlogged_bytes -= len(chunk)
            self.records_written += count
        if self.log_failed:
            self.log_failed = False
            self._warned.discard("log")
            self._warn(
                "log-recovered",
                f"kiseki: the run log {self.log_path} is writable again; the records kept in "
                "memory meanwhile were written to it.",
            )
            self._warned.discard("log-recovered")
        return records

    def _encode(self, records: list[Any]) -> tuple[bytes, list[Any]]:
        try:
            return encode_records(records), records
        except UnencodableRecordError:
            good, bad = split_encodable(records)
        self.records_dropped += len(bad)
        self._warn(
            "unencodable",
            f"kiseki: dropped {len(bad)} record(s) that cannot be recorded: {bad[0]} "
            "Please report this as a kiseki bug: log() should have refused the value.",
        )
        return encode_records(good), good

    def _log_write_failed(self, exc: OSError) -> None:
        self.log_failed = True
        where = "still reach the store, and " if self._sink_factory is not None else ""
        self._warn(
            "log",
            f"kiseki: cannot write the run log {self.log_path} ({exc.strerror or exc}); the run "
            f"goes on: new records {where}up to {MAX_UNLOGGED_BYTES >> 20} MiB of them wait in "
            "memory and are written when the disk accepts them again.",
        )

    def _bound_unlogged(self) -> None:
        """Drop the oldest unwritten records beyond :data:`MAX_UNLOGGED_BYTES` (reported)."""
        dropped = lost = 0
        while self._unlogged_bytes > MAX_UNLOGGED_BYTES and len(self._unlogged) > 1:
            chunk, last_seq, count = self._unlogged.popleft()
            self._unlogged_bytes -= len(chunk)
            dropped += count
            if last_seq > self._stored_seq:
                lost += count
        if not dropped:
            return
        self.records_dropped += dropped
        if self._sink_factory is None:
            fate = "they are lost (an offline run has no store)"
        elif not lost:
            fate = "they are in the store"
        else:
            fate = "those not yet in the store are lost if the store does not take them"
        self._warn(
            "dropped",
            f"kiseki: the run log {self.log_path} stayed unwritable: {dropped} record(s) kept in "
            f"memory beyond {MAX_UNLOGGED_BYTES >> 20} MiB were dropped from it; {fate}.",
        )

    def _done_delivering(self) -> bool:
        """Whether the thread may stop: all delivered, undeliverable, or out of time."""
        if self._sink is None or self._sink_broken:
            return True
        if not self._pending and not self._spilled:
            return True
        return self._deadline is not None and time.monotonic() >= self._deadline

    def _deliver(self) -> bool:
        """Send pending records to the sink; ``True`` when something was stored."""
        if self._sink is None or self._sink_broken:
            return False
        if self._spilled and not self._reload_spilled():
            return False
        if not self._pending:
            return False
        try:
            self._sink.apply(self.key, self._pending)
        except Exception as exc:
            self._delivery_failed(exc)
            return False
        self._stored_seq = max(self._stored_seq, self._pending[-1].seq)
        self._pending.clear()
        if "apply" in self._warned:
            self._warned.discard("apply")
            self._warn("recovered", "kiseki: the store answers again; the backlog was sent.")
            self._warned.discard("recovered")
        self._check_stop()
        return True

    def _delivery_failed(self, exc: Exception) -> None:
        from kiseki.errors import ApiError, AuthError
        from kiseki.httpclient import ServerUnavailableError

        acknowledged = getattr(self._sink, "acknowledged_seq", 0)
        if acknowledged:
            self._pending = [r for r in self._pending if r.seq > acknowledged]
        retryable = not isinstance(exc, AuthError) and (
            not isinstance(exc, ApiError) or isinstance(exc, ServerUnavailableError)
        )
        if not retryable:
            self._sink_broken = True
            self._warn(
                "refused",
                f"kiseki: the store refused this run's data ({exc}). Nothing is lost: fix the "
                f"problem, then run `kiseki sync {self.log_path.parent}`.",
            )
            return
        self._warn(
            "apply",
            f"kiseki: could not write to the store ({exc}); retrying with back-off. Nothing is "
            f"lost: the run log {self.log_path} holds every value.",
        )
        if len(self._pending) > MAX_PENDING_RECORDS:
            # the run log (or, while the disk refuses it, _unlogged) keeps them: read back
            # when the store answers
            self._pending.clear()
            self._spilled = True

    def _reload_spilled(self) -> bool:
        """Read records not yet stored back from the run log (after an outage)."""
        from kiseki.runlog.framing import FILE_HEADER
        from kiseki.runlog.reader import parse_run_log, read_run_log

        try:
            stored = self._sink.applied_seq(self.key)
            with self._log_lock:  # the records still waiting for the disk come after the log's
                records = read_run_log(self.log_path).records
                if self._unlogged:
                    data = FILE_HEADER + b"".join(chunk for chunk, _, _ in self._unlogged)
                    records += parse_run_log(data).records
        except Exception as exc:
            self._delivery_failed(exc)
            return False
        self._pending = [r for r in records if r.seq > stored]
        self._spilled = False
        return True

    def _check_stop(self) -> None:
        if self._stop_notified or not getattr(self._sink, "stop_requested", False):
            return
        self._stop_notified = True
        if self._on_stop_requested is not None:
            try:
                self._on_stop_requested()
            except Exception as exc:
                self._warn("stop", f"kiseki: handling the stop request failed: {exc!r}")

    def _heartbeat(self) -> None:
        if self._sink is None or self._sink_broken:
            return
        try:
            self._sink.heartbeat(self.key)
        except Exception as exc:
            self._warn("heartbeat", f"kiseki: heartbeat failed: {exc!r}")
            return
        self._check_stop()

    def _fsync(self) -> None:
        try:
            self._log.sync()
        except OSError:
            pass

    def _finish(self) -> None:
        with self._log_lock:
            if self._unlogged:  # one last attempt to write what waited for the disk
                self._write_log([])
            if self._unlogged:
                count = sum(n for _, _, n in self._unlogged)
                self._warn(
                    "unlogged",
                    f"kiseki: {count} record(s) could not be written to the run log "
                    f"{self.log_path}: the disk still refuses it"
                    + ("; they are in the store." if self.fully_applied else "."),
                )
            try:
                self._log.close()
            except OSError as exc:
                self._warn("close", f"kiseki: closing the run log failed: {exc.strerror}")
        if self._sink is not None:
            if self.fully_applied:
                try:
                    (self.log_path.parent / SYNCED_MARKER).write_text(str(self._seq - 1))
                except OSError:
                    pass
            try:
                self._sink.close()
            except Exception:
                pass

    def _warn(self, topic: str, message: str) -> None:
        warn_once(self._warned, topic, message)
