"""Console capture: what the script writes to ``sys.stdout``/``sys.stderr`` also goes to the run.

The streams are replaced by :class:`TeeStream` objects that write to the original stream
first (the user sees everything as before) and then hand the text to a
:class:`ConsoleCapture`, which cuts it into lines, collapses carriage-return progress bars
(tqdm, rich) to their last state, strips ANSI escape codes and submits the lines as
:class:`~kiseki.runlog.records.ConsoleLines` records, batched: a line reaches the writer's
queue within :data:`BATCH_DELAY_S`, and the run log within the writer's flush interval after
that. A size cap per run (``console_max_bytes``) ends the capture with a marker line.

Capture works at the Python level, not on file descriptors: output that C extensions or
subprocesses write straight to fd 1/2 is not captured. That choice keeps the tracker out of
the way of the terminal (no pipes, no reader thread between the process and its tty, nothing
that can block a write or swallow output when kiseki fails) -- see docs/system-and-console.md.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TextIO

from kiseki.runlog.records import ConsoleLines

BATCH_DELAY_S = 0.02
"""How long lines wait to be batched into one record."""
MAX_BATCH_LINES = 2000
MAX_BATCH_CHARS = 1024 * 1024
"""A record holds at most this many lines and characters of text."""
MAX_PARTIAL_CHARS = 64 * 1024
"""A line longer than this without a newline is recorded in pieces of this size."""
KISEKI_STREAM = "kiseki"
"""The stream name of the lines kiseki adds itself (the size-cap marker)."""
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def clean_line(text: str) -> str:
    """A line as a console would leave it: the text after its last carriage return, without
    ANSI escape codes.

    >>> clean_line("  10%|#   \\r 100%|##########\\x1b[0m")
    ' 100%|##########'
    """
    text = text.rstrip("\r")
    cut = text.rfind("\r")
    if cut >= 0:
        text = text[cut + 1 :]
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    return text


_captures: weakref.WeakSet[ConsoleCapture] = weakref.WeakSet()
"""Every capture of this process: a forked child closes those it inherited (they belong to
the parent's run, and their batching thread did not survive the fork)."""


def _after_fork_in_child() -> None:
    for capture in list(_captures):
        capture._closed = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class ConsoleCapture:
    """Collects a run's console lines and submits them in batches until :meth:`close`."""

    def __init__(self, submit: Callable[[Any], None], max_bytes: int) -> None:
        self._submit = submit
        self.max_bytes = max_bytes
        self.bytes_recorded = 0
        self.capped = False
        self._lock = threading.Lock()
        self._partial: dict[str, str] = {"stdout": "", "stderr": ""}
        self._lines: list[list[Any]] = []
        self._wake = threading.Event()
        self._closed = False
        self._tees: list[TeeStream] = []
        self._thread = threading.Thread(target=self._main, name="kiseki-console", daemon=True)
        _captures.add(self)

    # -- installing ------------------------------------------------------------------------
    def install(self) -> None:
        """Tee ``sys.stdout`` and ``sys.stderr`` into this capture and start batching."""
        self._thread.start()
        for name in ("stdout", "stderr"):
            original = getattr(sys, name)
            if original is None:
                continue
            tee = TeeStream(original, name, self)
            self._tees.append(tee)
            setattr(sys, name, tee)

    def close(self) -> None:
        """Record what is left (an unfinished last line too), restore the streams."""
        for tee in self._tees:
            tee.detach_capture()
            if getattr(sys, tee.name) is tee:
                setattr(sys, tee.name, tee.original)
        with self._lock:
            self._closed = True
            for name, partial in self._partial.items():
                if partial:
                    self._add_line(name, clean_line(partial), time.time())
            self._partial = {"stdout": "", "stderr": ""}
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(2.0)
        self._submit_batch()

    # -- feeding ---------------------------------------------------------------------------
    def feed(self, stream: str, text: str) -> None:
        """Take ``text`` written to ``stream``; complete lines are queued for the run."""
        if self._closed or self.capped:
            return
        with self._lock:
            now = time.time()
            buffered = self._partial[stream] + text
            if "\n" in buffered:
                *complete, buffered = buffered.split("\n")
                for line in complete:
                    self._add_line(stream, clean_line(line), now)
            if "\r" in text or len(buffered) > MAX_PARTIAL_CHARS:  # a bar keeps its last state
                buffered = self._trim_partial(stream, buffered, now)
            self._partial[stream] = buffered
        if self._lines and not self._wake.is_set():
            self._wake.set()

    def _trim_partial(self, stream: str, buffered: str, now: float) -> str:
        """Keep a long unfinished line bounded: after a carriage return only the last state
        matters; a line with none is recorded in pieces."""
        cut = buffered.rstrip("\r").rfind("\r")
        if cut >= 0:
            buffered = buffered[cut + 1 :]
        while len(buffered) > MAX_PARTIAL_CHARS:
            self._add_line(stream, clean_line(buffered[:MAX_PARTIAL_CHARS]), now)
            buffered = buffered[MAX_PARTIAL_CHARS:]
        return buffered

    def _add_line(self, stream: str, text: str, now: float) -> None:
        if self.capped:
            return
        try:
            size = len(text.encode("utf-8")) + 1
        except UnicodeEncodeError:  # lone surrogates: store what a terminal would show
            text = text.encode("utf-8", "replace").decode("utf-8")
            size = len(text.encode("utf-8")) + 1
        if self.bytes_recorded + size > self.max_bytes:
            self.capped = True
            self._lines.append(
                [
                    now,
                    KISEKI_STREAM,
                    f"kiseki: console output reached the limit of {self.max_bytes} bytes for "
                    "this run (setting console_max_bytes); later output is not recorded.",
                ]
            )
            return
        self.bytes_recorded += size
        self._lines.append([now, stream, text])

    # -- batching thread -------------------------------------------------------------------
    def _main(self) -> None:
        try:
            while True:
                self._wake.wait()
                if not self._closed:
                    time.sleep(BATCH_DELAY_S)
                self._wake.clear()
                self._submit_batch()
                if self._closed:
                    return
        except BaseException as exc:  # never reaches the script; the capture stops
            self._closed = True
            try:
                print(f"kiseki: console capture stopped: {exc!r}", file=sys.__stderr__)
            except Exception:
                pass

    def _submit_batch(self) -> None:
        with self._lock:
            lines, self._lines = self._lines, []
        batch: list[list[Any]] = []
        size = 0
        for line in lines:  # records stay small: a server takes requests of a few MiB
            if batch and (len(batch) >= MAX_BATCH_LINES or size + len(line[2]) > MAX_BATCH_CHARS):
                self._submit(ConsoleLines(0, batch))
                batch, size = [], 0
            batch.append(line)
            size += len(line[2])
        if batch:
            self._submit(ConsoleLines(0, batch))


class TeeStream:
    """A text stream that writes to ``original`` and copies the text to a capture."""

    def __init__(self, original: TextIO, name: str, capture: ConsoleCapture) -> None:
        self.original = original
        self.name = name
        self._capture: ConsoleCapture | None = capture

    def detach_capture(self) -> None:
        """Stop copying (the stream keeps passing writes through if someone still holds it)."""
        self._capture = None

    def write(self, text: str) -> int:
        """Write to the original stream, then copy ``text`` (a capture failure is ignored)."""
        written = self.original.write(text)
        capture = self._capture
        if capture is not None and type(text) is str:
            try:
                capture.feed(self.name, text)
            except Exception:
                self._capture = None
        return written

    def writelines(self, lines: Any) -> None:
        """Write each of ``lines``."""
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Flush the original stream."""
        self.original.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, isatty, buffer, ...
        return getattr(self.original, name)
