"""What kiseki prints for the user: one line at start, a compact summary table at finish."""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from typing import Any, TextIO

MAX_SUMMARY_ROWS = 20


def _stream() -> TextIO:
    return sys.stderr


def warn_once(warned: set[str], topic: str, message: str) -> None:
    """Print ``message`` to the process's own stderr (past any console capture) the first
    time ``topic`` comes up; ``warned`` remembers the topics. Never raises: a warning must not
    break the training loop."""
    if topic in warned:
        return
    warned.add(topic)
    try:
        print(message, file=sys.__stderr__ or sys.stderr, flush=True)
    except Exception:
        pass


def print_start(name: str, run_id: str, project: str, where: str, resumed: bool) -> None:
    """One line naming the run and where it is stored."""
    verb = "resumed" if resumed else "started"
    print(f"kiseki: {verb} run {name} ({run_id}) in project {project} -> {where}", file=_stream())


def format_value(value: Any) -> str:
    """A short human form of a summary value."""
    if type(value) is float:
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.6g}"
    if isinstance(value, Mapping):
        return " ".join(f"{k}={format_value(v)}" for k, v in value.items())
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def print_finish(
    name: str, run_id: str, state: str, summary: Mapping[str, Any], notice: str | None
) -> None:
    """The run's final state, a compact table of its summary, and any pending-data notice."""
    stream = _stream()
    keys = sorted(k for k in summary if not k.startswith("_"))
    lines = [f"kiseki: run {name} ({run_id}) {state}"]
    if keys:
        width = min(max(len(k) for k in keys[:MAX_SUMMARY_ROWS]), 40)
        lines.append("kiseki: summary")
        for key in keys[:MAX_SUMMARY_ROWS]:
            lines.append(f"kiseki:   {key[:40]:<{width}}  {format_value(summary[key])}")
        if len(keys) > MAX_SUMMARY_ROWS:
            lines.append(f"kiseki:   ... and {len(keys) - MAX_SUMMARY_ROWS} more")
    if notice:
        lines.append(f"kiseki: {notice}")
    print("\n".join(lines), file=stream)
